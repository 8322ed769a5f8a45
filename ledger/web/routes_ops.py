"""Ingestion health, dead letters (and their raw payload, break-glass), regulator exports, verifier key.

Thin doors onto ``Ledger.health``, ``Ledger.dead_letters``, ``ledger.store.dead_letters`` and
``ledger.export.bundle`` (the same services ``health``, ``dead-letters`` and ``export`` use).
"""

# No ``from __future__ import annotations`` here: FastAPI reads the annotations of the route functions
# made in closures below, and string annotations could not see the closures' local names.

import base64
import tempfile
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import PlainTextResponse, Response, StreamingResponse

from ledger.config import Settings
from ledger.errors import LedgerError
from ledger.web.context import WebContext
from ledger.web.identity import Principal
from ledger.web.paging import Cursor, csv_rows, filters_digest
from ledger.web.params import UUID_EXAMPLE, check_uuid, stated_reason
from ledger.web.problems import Problem
from ledger.web.roles import ReadReason, Role

__all__ = ["add_ops_routes"]

_DEAD_LETTER_COLUMNS = (
    "dlq_id",
    "consumed_at",
    "topic",
    "partition",
    "offset",
    "event_id",
    "event_type",
    "error_code",
    "error_path",
    "error_message",
    "status",
)


def _web(request: Request) -> WebContext:
    web: WebContext = request.app.state.web
    return web


def health(request: Request) -> dict[str, Any]:
    """Spec 6.13 ingestion health, as `privacy-ledger health` prints it: counters, whether they conserve,
    open dead letters, parked messages, and each view's projection lag (events not applied yet)."""
    from projections.runner import read_lag
    from projections.service import VIEW_NAMES

    ledger = _web(request).ledger
    report = ledger.health()
    report["projection_lag"] = read_lag(ledger.store, VIEW_NAMES)
    return report


def _dead_letter_page(web: WebContext, cursor: str | None, limit: int) -> dict[str, Any]:
    digest = filters_digest("dead_letters", {})
    after = None if cursor is None else Cursor.decode(cursor, "dead_letters", digest).after
    rows = web.ledger.dead_letters(limit + 1, after=after)
    more = len(rows) > limit
    rows = rows[:limit]
    following = None
    if more:
        last = rows[-1]
        following = Cursor(
            "dead_letters", digest, web.now(), 0, (str(last["consumed_at"]), str(last["dlq_id"]))
        )
    return {"items": rows, "limit": limit, "next_cursor": None if following is None else following.encode()}


def _build_dead_letter_routes(router: APIRouter, settings: Settings) -> None:
    most = settings.web_max_page_size

    def list_dead_letters(
        request: Request,
        cursor: Annotated[
            str | None, Query(description="the `next_cursor` of the page before", max_length=512)
        ] = None,
        limit: Annotated[
            int | None,
            Query(
                ge=1, le=most, description=f"rows per page, 1 to {most} (default {settings.web_page_size})"
            ),
        ] = None,
    ) -> dict[str, Any]:
        """Spec 3.6 dead letters, newest first: codes, paths and ids, never a value."""
        return _dead_letter_page(_web(request), cursor, limit or settings.web_page_size)

    def list_dead_letters_csv(request: Request) -> StreamingResponse:
        """Every dead letter, newest first, as CSV (read a thousand at a time)."""
        web = _web(request)

        def rows() -> Any:
            after = None
            while True:
                chunk = web.ledger.dead_letters(1000, after=after)
                yield from chunk
                if len(chunk) < 1000:
                    return
                after = (str(chunk[-1]["consumed_at"]), str(chunk[-1]["dlq_id"]))

        return StreamingResponse(
            csv_rows(rows(), _DEAD_LETTER_COLUMNS),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="dead-letters.csv"'},
        )

    router.add_api_route(
        "/api/v1/dead-letters",
        list_dead_letters,
        methods=["GET"],
        name="list_dead_letters",
        summary="Dead letters, one page",
        description=list_dead_letters.__doc__,
        tags=["ingestion"],
    )
    router.add_api_route(
        "/api/v1/dead-letters.csv",
        list_dead_letters_csv,
        methods=["GET"],
        name="list_dead_letters_csv",
        summary="Dead letters as CSV",
        description=list_dead_letters_csv.__doc__,
        response_class=StreamingResponse,
        responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}},
        tags=["ingestion"],
    )


def dead_letter_payload(
    request: Request,
    dlq_id: Annotated[str, Path(description="the dead letter's id", examples=[UUID_EXAMPLE])],
    reason: Annotated[ReadReason, Depends(stated_reason)],
) -> dict[str, Any]:
    """The raw bytes of a rejected message (break-glass; spec 3.6 raw_ref): recorded as a
    PersonalDataViewed under the message's subject. 410 once erased, purged or never kept."""
    from ledger.store.dead_letters import UnknownDeadLetter, dead_letter_subject, read_dead_letter_payload

    web = _web(request)
    dlq = check_uuid("dlq_id", dlq_id)
    try:
        subject = dead_letter_subject(web.ledger.store, dlq)
        raw = None if subject is None else read_dead_letter_payload(web.ledger.store, web.ledger.keys, dlq)
    except UnknownDeadLetter:
        raise Problem(404, "UNKNOWN_DEAD_LETTER", "there is no dead letter with this id") from None
    if subject is None or raw is None:
        raise Problem(410, "PAYLOAD_GONE")
    request.state.audit_subject = subject
    try:
        text: str | None = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return {"dlq_id": dlq, "payload_base64": base64.b64encode(raw).decode(), "payload_text": text}


_KINDS = {
    "export_subject": ("subject", "subjects", "subject_id"),
    "export_access_pack": ("access_pack", "access-packs", "subject_id"),
    "export_request": ("request", "requests", "request_id"),
    "export_complaint": ("complaint", "complaints", "complaint_id"),
}


def _export(request: Request, kind: str, option: str, case_id: str) -> Response:
    from ledger.export.bundle import LogNotExtended, build_export, bundle_name, record_export, write_bundle
    from ledger.export.scope import UnknownScope
    from ledger.log.issue import CheckpointRefused
    from ledger.log.signing import SigningKeyError

    web = _web(request)
    principal: Principal = request.state.principal
    scope_id = check_uuid(option, case_id)
    try:
        doc = build_export(web.ledger, kind, scope_id, record_disclosure=False)
    except UnknownScope:
        raise Problem(404, "UNKNOWN_CASE", "the ledger holds no such subject, request or complaint") from None
    except (CheckpointRefused, LogNotExtended):
        raise Problem(409, "LOG_NOT_EXTENDED", "nothing was exported") from None
    except SigningKeyError:
        raise Problem(503, "NO_SIGNING_KEY", "set LEDGER_SIGNING_KEY_FILE") from None
    with tempfile.TemporaryDirectory(prefix="ledger-export-") as folder:
        written = write_bundle(doc, FilePath(folder), web.ledger.signing_key(create=False))
        data = written.read_bytes()
    if principal.role is Role.REGULATOR:
        try:
            record_export(web.ledger, doc)  # handing a bundle to the regulator is a disclosure (spec 6.8)
        except LedgerError:
            raise Problem(503, "AUDIT_UNAVAILABLE", "the disclosure could not be recorded") from None
    request.state.audit_subject = str(doc["scope"]["subjects"][0])
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{bundle_name(doc)}"'},
    )


def _export_route(router: APIRouter, name: str) -> None:
    kind, segment, param = _KINDS[name]

    def export(
        request: Request,
        case_id: Annotated[
            str, Path(alias=param, description=f"the {param[:-3]}'s UUID", examples=[UUID_EXAMPLE])
        ],
        reason: Annotated[ReadReason, Depends(stated_reason)],
    ) -> Response:
        return _export(request, kind, param, case_id)

    router.add_api_route(
        f"/api/v1/exports/{segment}/{{{param}}}",
        export,
        methods=["GET"],
        name=name,
        summary=f"Download the {kind.replace('_', ' ')} export bundle",
        description=f"Spec {'6.12' if kind == 'access_pack' else '6.8'}: the bundle `privacy-ledger export` "
        "writes (zip: export.json, report.html, report.pdf, checkpoint, verifier key). Recorded as a "
        "PersonalDataViewed; a regulator's download is also recorded as a DataShared to the regulator.",
        response_class=Response,
        responses={
            200: {"content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}},
            404: {"description": "UNKNOWN_CASE"},
            409: {"description": "LOG_NOT_EXTENDED"},
            503: {"description": "AUDIT_UNAVAILABLE or NO_SIGNING_KEY"},
        },
        tags=["exports"],
    )


def verifier_key(request: Request) -> PlainTextResponse:
    """The log's verifier key (C2SP note verifier text) that checks export bundles and checkpoints."""
    from ledger.log.signing import SigningKeyError

    try:
        key = _web(request).ledger.verifier_key
    except SigningKeyError:
        raise Problem(503, "NO_SIGNING_KEY", "no checkpoint has been signed yet") from None
    return PlainTextResponse(key.text + "\n")


def add_ops_routes(router: APIRouter, settings: Settings) -> None:
    """Add health, dead letters, exports and the verifier key."""
    router.add_api_route(
        "/api/v1/health",
        health,
        methods=["GET"],
        name="health",
        summary="Ingestion health",
        tags=["ingestion"],
    )
    _build_dead_letter_routes(router, settings)
    router.add_api_route(
        "/api/v1/dead-letters/{dlq_id}/payload",
        dead_letter_payload,
        methods=["GET"],
        name="dead_letter_payload",
        summary="A dead letter's raw payload (break-glass)",
        description=dead_letter_payload.__doc__,
        responses={
            404: {"description": "UNKNOWN_DEAD_LETTER"},
            410: {"description": "PAYLOAD_GONE"},
            503: {"description": "AUDIT_UNAVAILABLE"},
        },
        tags=["ingestion"],
    )
    for name in _KINDS:
        _export_route(router, name)
    router.add_api_route(
        "/api/v1/verifier-key",
        verifier_key,
        methods=["GET"],
        name="verifier_key",
        summary="The log's verifier key",
        description=verifier_key.__doc__,
        response_class=PlainTextResponse,
        responses={503: {"description": "NO_SIGNING_KEY"}},
        tags=["exports"],
    )
