"""A subject's page: what is held (spec 6.1) with its values withheld, consent (6.3), disclosures (6.2),
requests, complaints, retention, alerts and the timeline of its stored events; and the same page with
the values shown, behind a stated reason and recorded in the ledger before it is sent (spec 8)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Final
from urllib.parse import parse_qs

from fastapi import Depends, Path, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from ledger.web.pages.common import (
    AsOfParam,
    DoneParam,
    chrome,
    context,
    may_open,
    principal,
    query_inventory,
    query_view,
)
from ledger.web.pages.history import active_holds, subject_timeline
from ledger.web.pages.render import READ_REASON_LABELS, new_form_key, render
from ledger.web.params import check_uuid, stated_reason
from ledger.web.problems import Problem
from ledger.web.roles import ReadReason

__all__ = ["subject_lookup", "subject_open", "subject_page", "subject_plaintext"]

_TIMELINE_ROWS: Final = 100
_STATE_TEXT: Final = {
    "available": "Withheld",
    "erased": "Erased",
    "erasure_deferred": "Erasure deferred (legal hold)",
    "unreadable": "Unreadable (see verify)",
}
SubjectId = Annotated[str, Path(description="the subject's ledger-scoped UUID")]


def subject_lookup(request: Request, as_of: AsOfParam = None) -> Response:
    """The form to open a subject by its id; below, the subjects with open requests or open alerts."""
    return _lookup(request, as_of, error=None)


async def subject_open(request: Request) -> Response:
    """Open the subject whose id the form sent (a POST: whatever was typed stays out of any URL)."""
    body = (await request.body()).decode("utf-8", "replace")
    typed = (parse_qs(body, max_num_fields=5).get("subject_id") or [""])[0].strip().lower()
    try:
        subject = check_uuid("subject_id", typed, "body")
    except Problem:
        error = "A subject id is a UUID such as 5f0c2b8e-8e0a-4b7b-a6d4-1f2e3d4c5b6a."
        return await run_in_threadpool(_lookup, request, None, error=error)
    return RedirectResponse(f"/ui/subjects/{subject}", status_code=303)


def _lookup(request: Request, as_of: str | None, *, error: str | None) -> Response:
    web, at = context(request, as_of)
    requests = query_view(web, "requests", at)
    alerts = query_view(web, "alerts", at, status="OPEN")
    with_requests = sorted({r["subject_id"] for r in requests if r["subject_id"]})
    with_alerts = sorted({a["subject_id"] for a in alerts if a["subject_id"]} - set(with_requests))
    return render(
        "subjects.html",
        chrome=chrome(request, "ui_subject_lookup", as_of=at),
        title="Subjects",
        error=error,
        with_requests=with_requests,
        with_alerts=with_alerts,
        status=422 if error else 200,
    )


def _shown(item: dict[str, Any], plaintext: bool) -> str:
    state = str(item.get("value_state"))
    if not plaintext or state != "available":
        return _STATE_TEXT.get(state, "Withheld")
    value = item.get("value")
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _page(
    request: Request,
    subject_id: str,
    at_text: str | None,
    *,
    plaintext: bool,
    reason: str | None,
    done: str | None = None,
) -> Response:
    sid = check_uuid("subject_id", subject_id)
    web, at = context(request, at_text)
    who = principal(request)
    # Values withheld: the inventory is read without them, so no data key is opened (spec 8).
    inventory = query_inventory(web, at, sid, values=plaintext)
    items = [
        {
            **{k: v for k, v in item.items() if k != "value"},  # the value only through _shown
            "shown": _shown(item, plaintext),
            "available": item.get("value_state") == "available",
        }
        for item in inventory["items"]
    ]
    members = [inventory["resolved_subject_id"], *inventory["merged_subject_ids"]]
    requests = query_view(web, "requests", at, subject=sid, include_closed=True)
    complaints = query_view(web, "complaints", at, subject=sid)
    timeline, events_total = subject_timeline(web.ledger.store, members, _TIMELINE_ROWS)
    holds = active_holds(web.ledger.store, members)
    reads = query_view(web, "reads", at, subject=sid) if may_open(who, "ui_reads") else None
    return render(
        "subject.html",
        chrome=chrome(request, "ui_subject_lookup", done=done, as_of=at),
        title=f"Subject {sid.split('-')[0]}",
        subject_id=sid,
        inventory={k: v for k, v in inventory.items() if k != "items"},
        items=items,
        plaintext=plaintext,
        reason=None if reason is None else READ_REASON_LABELS.get(reason, reason),
        consent=query_view(web, "consent", at, subject=sid),
        disclosures=query_view(web, "disclosures", at, subject=sid),
        requests=requests,
        complaints=complaints,
        retention=query_view(web, "retention", at, subject=sid),
        alerts=query_view(web, "alerts", at, subject=sid),
        holds=holds,
        timeline=timeline,
        events_total=events_total,
        reads=reads,
        may_reveal=may_open(who, "ui_subject_plaintext")
        and not plaintext
        and any(i["available"] for i in items),
        reasons=READ_REASON_LABELS,
        cases=[("request", r["request_id"], r["request_type"]) for r in requests]
        + [("complaint", c["complaint_id"], "complaint") for c in complaints],
        may_hold=may_open(who, "ui_hold_place"),
        may_release=may_open(who, "ui_hold_release"),
        may_erase=may_open(who, "ui_erase_confirm") and inventory["erasure_state"] != "full",
        may_export=may_open(who, "ui_exports"),
        form_key=new_form_key(),
        release_keys={h["hold_id"]: new_form_key() for h in holds},
        item_categories=sorted({str(i["category"]) for i in items}),
        hold_reasons=sorted(web.ledger.codes.codes("legal_hold_reason")),
    )


def subject_page(
    request: Request, subject_id: SubjectId, as_of: AsOfParam = None, done: DoneParam = None
) -> Response:
    """Everything the ledger holds about one subject, its personal values withheld."""
    return _page(request, subject_id, as_of, plaintext=False, reason=None, done=done)


def _page_reason(
    request: Request,
    reason: Annotated[
        str,
        Query(
            description="why you read this person's data (recorded in the ledger, spec 8): a reason code",
            max_length=64,
        ),
    ],
    case_id: Annotated[
        str | None, Query(description="the request or complaint the read is for (optional)", max_length=64)
    ] = None,
) -> ReadReason:
    """The stated reason of the form; its "no particular case" choice sends an empty ``case_id``."""
    return stated_reason(request, reason, case_id or None)


def subject_plaintext(
    request: Request,
    subject_id: SubjectId,
    reason: Annotated[ReadReason, Depends(_page_reason)],
    as_of: AsOfParam = None,
) -> Response:
    """The subject's page with its values shown: recorded as a PersonalDataViewed (who, why, which
    subject) before the page is sent; nothing is shown if that record cannot be written."""
    return _page(request, subject_id, as_of, plaintext=True, reason=str(reason))
