"""Regulator exports: the DPO downloads the bundle of any subject, request or complaint; a regulator sees
only the cases granted to it. The download itself is the API's export route (audited, and for a
regulator recorded as a disclosure); this page only asks for the case and the reason."""

from __future__ import annotations

from typing import Final
from urllib.parse import parse_qs, urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from ledger.web.pages.common import chrome, principal
from ledger.web.pages.render import READ_REASON_LABELS, render
from ledger.web.params import check_uuid, invalid
from ledger.web.problems import Problem
from ledger.web.roles import ReadReason, Role

__all__ = ["EXPORT_KINDS", "export_download", "exports"]

# kind -> (label, the API's path segment, the scope kind a regulator is granted)
EXPORT_KINDS: Final = {
    "subject": ("A subject's whole timeline", "subjects", "subjects"),
    "access_pack": ("A subject's Art 15 access pack", "access-packs", "subjects"),
    "request": ("A rights request", "requests", "requests"),
    "complaint": ("A complaint", "complaints", "complaints"),
}


def exports(request: Request) -> Response:
    """The export form (DPO), or the cases granted to this regulator, each with its download."""
    who = principal(request)
    scope = who.user.scope.as_dict() if who.role is Role.REGULATOR else None
    granted = (
        None
        if scope is None
        else [
            (kind, case_id)
            for kind, scope_kind in (
                ("subject", "subjects"),
                ("request", "requests"),
                ("complaint", "complaints"),
            )
            for case_id in scope[scope_kind]
        ]
    )
    return render(
        "exports.html",
        chrome=chrome(request, "ui_exports"),
        title="Regulator exports",
        regulator=who.role is Role.REGULATOR,
        granted=granted,
        expires_at=who.user.expires_at,
        kinds={k: v[0] for k, v in EXPORT_KINDS.items()},
        reasons=READ_REASON_LABELS,
        default_reason=ReadReason.REGULATOR_INQUIRY.value,
    )


async def export_download(request: Request) -> Response:
    """Send the browser to the export route of the case (303), after the checks a person can act on: a
    known kind, a UUID, a reason of the list and, for a regulator, a case granted to it. A POST form
    (``kind``, ``case_id``, ``why``): an id typed wrong, whatever it holds, stays out of any URL."""
    body = (await request.body()).decode("utf-8", "replace")
    fields = {k: v[0].strip() for k, v in parse_qs(body, max_num_fields=10).items()}
    kind, case_id, why = fields.get("kind", ""), fields.get("case_id", ""), fields.get("why", "")
    if kind not in EXPORT_KINDS:
        raise invalid(422, "UNKNOWN_CODE", "body", "kind", f"must be one of: {', '.join(EXPORT_KINDS)}")
    case = check_uuid("case_id", case_id, "body")
    if why not in {r.value for r in ReadReason}:
        raise invalid(422, "UNKNOWN_CODE", "body", "why", "choose one of the listed reasons")
    _, segment, scope_kind = EXPORT_KINDS[kind]
    who = principal(request)
    if who.role is Role.REGULATOR and not who.user.scope.allows(scope_kind, case):
        raise Problem(403, "OUT_OF_SCOPE", "this case is not among those granted to you")
    return RedirectResponse(f"/api/v1/exports/{segment}/{case}?{urlencode({'reason': why})}", status_code=303)
