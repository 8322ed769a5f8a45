"""The pages' action forms (POST, with the session's CSRF token): acknowledge and resolve alerts, record a
request step, acknowledge a complaint, place and release legal holds, erase a subject (the DPO, after a
confirmation page). Each calls the same service as the API (``ledger.web.actions``): one catalogue event
through the append path. A success answers 303 back to the page with a status code in the query string
(never a value); a refusal shows what went wrong, with a link back. The form's hidden idempotency key,
drawn when the form was rendered, makes a second submit of the same form store nothing new.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Final
from urllib.parse import parse_qs

from fastapi import Path, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ledger.web import actions
from ledger.web.actions import ActionOutcome
from ledger.web.pages.common import AsOfParam, chrome, context, principal, query_view, web_of
from ledger.web.pages.render import new_form_key, problem_response, render
from ledger.web.params import check_uuid
from ledger.web.problems import Problem

__all__ = [
    "acknowledge_alert",
    "acknowledge_complaint",
    "erase",
    "erase_confirm",
    "place_hold",
    "record_step",
    "release_hold",
    "resolve_alert",
]

_MAX_FIELDS: Final = 60
# Request steps: the form field each payload field is read from (the step form is one form for all).
_STEP_FIELDS: Final[dict[str, dict[str, str]]] = {
    "IdentityVerificationRequested": {"kind": "kind"},
    "IdentityEvidenceReceived": {"kind": "kind"},
    "IdentityVerified": {"method": "method"},
    "IdentityVerificationFailed": {"reason": "failure_reason"},
    "FeeRequested": {"amount_pence": "amount_pence", "reason": "fee_reason"},
    "FeePaid": {"amount_pence": "amount_pence"},
    "ClarificationRequested": {"question": "text"},
    "ClarificationReceived": {"answer": "text"},
    "RequestExtended": {"reason": "extension_reason", "reasons_stated": "reasons_stated"},
    "RequestFulfilled": {"outcome": "outcome", "notes": "text"},
    "RequestRefused": {
        "reason": "refusal_reason",
        "complaint_rights_notified": "complaint_rights_notified",
        "details": "text",
    },
    "RequestWithdrawn": {},
    "RequestClosed": {"reason": "close_reason"},
}
_BOOLEANS: Final = frozenset({"reasons_stated", "complaint_rights_notified"})
_INTEGERS: Final = frozenset({"amount_pence"})

AlertId = Annotated[str, Path(description="the alert's id (a UUID)")]
RequestId = Annotated[str, Path(description="the rights request's UUID")]
ComplaintId = Annotated[str, Path(description="the complaint's UUID")]
SubjectId = Annotated[str, Path(description="the subject's UUID")]
HoldId = Annotated[str, Path(description="the legal hold's UUID")]


async def _form(request: Request) -> dict[str, list[str]]:
    body = await request.body()
    return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=_MAX_FIELDS)


def _one(form: dict[str, list[str]], name: str) -> str:
    return (form.get(name) or [""])[0].strip()


async def _act(request: Request, back: str, done: str, call: Callable[[], ActionOutcome]) -> Response:
    """Run the action; 303 back with the status code, or the refusal as a page linking back."""
    try:
        outcome = await run_in_threadpool(call)
    except Problem as problem:
        return problem_response(problem, back=back)
    code = "already_recorded" if outcome.replayed else done
    if not outcome.replayed and outcome.event_type == "DataErased" and _deferred(outcome.detail):
        code = "erasure_deferred"
    return RedirectResponse(f"{back}?done={code}", status_code=303)


def _deferred(detail: dict[str, Any]) -> bool:
    categories = detail.get("categories") or {}
    return any(isinstance(v, dict) and v.get("outcome") == "deferred" for v in categories.values())


def _key(form: dict[str, list[str]]) -> str | None:
    return _one(form, "idempotency_key") or None


async def acknowledge_alert(request: Request, alert_id: AlertId) -> Response:
    """Acknowledge an alert (form: ``note``)."""
    form = await _form(request)
    aid = check_uuid("alert_id", alert_id)
    note = _one(form, "note") or "Acknowledged."
    web, who = web_of(request), principal(request)
    return await _act(
        request,
        f"/ui/alerts/{aid}",
        "alert_acknowledged",
        lambda: actions.acknowledge_alert(web, who, aid, note, _key(form)),
    )


async def resolve_alert(request: Request, alert_id: AlertId) -> Response:
    """Resolve an alert (form: ``note``, what was done)."""
    form = await _form(request)
    aid = check_uuid("alert_id", alert_id)
    note = _one(form, "note")
    web, who = web_of(request), principal(request)
    if not note:
        return problem_response(
            Problem(422, "MISSING_FIELD", "note: say what was done"), back=f"/ui/alerts/{aid}"
        )
    return await _act(
        request,
        f"/ui/alerts/{aid}",
        "alert_resolved",
        lambda: actions.resolve_alert(web, who, aid, note, _key(form)),
    )


def _step_fields(step: str, form: dict[str, list[str]]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for payload_field, form_field in _STEP_FIELDS.get(step, {}).items():
        raw = _one(form, form_field)
        if payload_field in _BOOLEANS:
            fields[payload_field] = raw == "true"
        elif not raw:
            continue
        elif payload_field in _INTEGERS:
            if not raw.isdigit():
                raise Problem(422, "INVALID_VALUE", f"{form_field}: must be a whole number of pence")
            fields[payload_field] = int(raw)
        else:
            fields[payload_field] = raw
    return fields


async def record_step(request: Request, request_id: RequestId) -> Response:
    """Record one step of a rights request (form: ``step`` and the fields that step takes)."""
    form = await _form(request)
    rid = check_uuid("request_id", request_id)
    back = f"/ui/requests/{rid}"
    step = _one(form, "step")
    if step not in _STEP_FIELDS:
        return problem_response(
            Problem(422, "UNKNOWN_CODE", "step: choose one of the listed steps"), back=back
        )
    try:
        fields = _step_fields(step, form)
    except Problem as problem:
        return problem_response(problem, back=back)
    web, who = web_of(request), principal(request)
    return await _act(
        request,
        back,
        "step_recorded",
        lambda: actions.record_request_step(web, who, rid, step, fields, _key(form)),
    )


async def acknowledge_complaint(request: Request, complaint_id: ComplaintId) -> Response:
    """Acknowledge a complaint (DPA s.164A)."""
    form = await _form(request)
    cid = check_uuid("complaint_id", complaint_id)
    web, who = web_of(request), principal(request)
    return await _act(
        request,
        "/ui/complaints",
        "complaint_acknowledged",
        lambda: actions.acknowledge_complaint(web, who, cid, _key(form)),
    )


def _categories(form: dict[str, list[str]]) -> list[str]:
    chosen = [c.strip() for c in form.get("categories", []) if c.strip()]
    return ["*"] if not chosen or "*" in chosen else sorted(set(chosen))


async def place_hold(request: Request, subject_id: SubjectId) -> Response:
    """Place a legal hold on the subject (form: ``categories``, ``reason``, ``matter_ref``)."""
    form = await _form(request)
    sid = check_uuid("subject_id", subject_id)
    web, who = web_of(request), principal(request)
    categories, reason, matter = _categories(form), _one(form, "reason"), _one(form, "matter_ref")
    return await _act(
        request,
        f"/ui/subjects/{sid}",
        "hold_placed",
        lambda: actions.place_hold(web, who, sid, categories, reason, matter, _key(form)),
    )


async def release_hold(request: Request, subject_id: SubjectId, hold_id: HoldId) -> Response:
    """Release a legal hold: the erasures it deferred run now."""
    form = await _form(request)
    sid = check_uuid("subject_id", subject_id)
    hid = check_uuid("hold_id", hold_id)
    web, who = web_of(request), principal(request)
    return await _act(
        request,
        f"/ui/subjects/{sid}",
        "hold_released",
        lambda: actions.release_hold(web, who, sid, hid, _key(form)),
    )


def erase_confirm(request: Request, subject_id: SubjectId, as_of: AsOfParam = None) -> Response:
    """The confirmation page of an erasure: what will be destroyed, which holds stand in the way."""
    sid = check_uuid("subject_id", subject_id)
    web, at = context(request, as_of)
    inventory = query_view(web, "inventory", at, subject=sid)
    held = sorted({str(i["category"]) for i in inventory["items"] if i.get("on_legal_hold")})
    return render(
        "erase.html",
        chrome=chrome(request, "ui_subject_lookup", as_of=at),
        title=f"Erase subject {sid.split('-')[0]}",
        subject_id=sid,
        merged=inventory["merged_subject_ids"],
        categories=sorted(
            {str(i["category"]) for i in inventory["items"] if i.get("value_state") == "available"}
        ),
        held=held,
        reasons=sorted(web.ledger.codes.codes("erasure_reason")),
        form_key=new_form_key(),
    )


async def erase(request: Request, subject_id: SubjectId) -> Response:
    """Erase the subject (form: ``categories``, ``reason``, ``confirm=yes``): its data keys are destroyed,
    or the erasure deferred where a legal hold stands."""
    form = await _form(request)
    sid = check_uuid("subject_id", subject_id)
    back = f"/ui/subjects/{sid}"
    if _one(form, "confirm") != "yes":
        problem = Problem(422, "MISSING_FIELD", "confirm: tick the box to confirm the erasure")
        return problem_response(problem, back=f"{back}/erase")
    web, who = web_of(request), principal(request)
    categories, reason = _categories(form), _one(form, "reason") or "erasure_request"
    return await _act(
        request,
        back,
        "erased",
        lambda: actions.erase_subject(web, who, sid, categories, reason, _key(form)),
    )
