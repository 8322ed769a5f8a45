"""The rights-request queue (spec 6.4), sortable by days left, and one request with its clock history
(spec section 7): every event that moved the clock, and the dates it gives."""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import Path, Query, Request
from fastapi.responses import Response

from ledger.web.pages.common import (
    AsOfParam,
    DoneParam,
    PageParam,
    chrome,
    context,
    list_page,
    may_open,
    principal,
    query_view,
)
from ledger.web.pages.history import request_history, request_subject
from ledger.web.pages.render import new_form_key, render
from ledger.web.params import check_uuid, invalid
from ledger.web.problems import Problem

__all__ = ["REQUEST_STEPS", "request_detail", "request_queue"]

# Sort orders of the queue: the spec's (overdue first, then due date; paused and awaiting last), or by
# days left, fewest or most first (requests without a due date last either way).
SORTS: Final = {
    "queue": "Queue order (overdue first, then by due date)",
    "days_left": "Days left, fewest first",
    "days_left_desc": "Days left, most first",
}
# The steps staff may record on a request from its page (spec 4.4), with the fields each one takes.
REQUEST_STEPS: Final = {
    "IdentityVerificationRequested": "Identity evidence requested (stops the clock)",
    "IdentityEvidenceReceived": "Identity evidence received (clock restarts)",
    "IdentityVerified": "Identity verified",
    "IdentityVerificationFailed": "Identity verification failed",
    "FeeRequested": "Fee requested (stops the clock)",
    "FeePaid": "Fee paid (clock restarts)",
    "ClarificationRequested": "Clarification requested (pauses the clock)",
    "ClarificationReceived": "Clarification received (ends the pause)",
    "RequestExtended": "Extended by two months (notice sent)",
    "RequestFulfilled": "Fulfilled (closes)",
    "RequestRefused": "Refused (closes)",
    "RequestWithdrawn": "Withdrawn by the requester (closes)",
    "RequestClosed": "Closed without an answer (closes)",
}
# The code lists the step form offers.
_STEP_CODE_LISTS: Final = (
    "identity_verification_kind",
    "fee_reason",
    "extension_reason",
    "fulfilment_outcome",
    "refusal_reason",
    "request_close_reason",
)

SortParam = Annotated[str, Query(description="queue, days_left or days_left_desc", max_length=32)]
RequestId = Annotated[str, Path(description="the rights request's UUID")]


def _sorted(rows: list[dict[str, Any]], sort: str) -> list[dict[str, Any]]:
    if sort == "queue":
        return rows
    dated = [r for r in rows if r["days_remaining"] is not None]
    undated = [r for r in rows if r["days_remaining"] is None]
    dated.sort(key=lambda r: (r["days_remaining"], r["request_id"]), reverse=sort == "days_left_desc")
    return dated + undated


def request_queue(
    request: Request,
    sort: SortParam = "queue",
    include_closed: Annotated[bool, Query(description="include closed requests")] = False,
    page: PageParam = 1,
    as_of: AsOfParam = None,
    done: DoneParam = None,
) -> Response:
    """Spec 6.4: the requests with their due dates and days left, overdue first by default."""
    if sort not in SORTS:
        raise invalid(422, "UNKNOWN_CODE", "query", "sort", f"must be one of: {', '.join(SORTS)}")
    web, at = context(request, as_of)
    rows = _sorted(query_view(web, "requests", at, include_closed=include_closed), sort)
    return list_page(
        request,
        "requests.html",
        "ui_requests",
        rows,
        page,
        at,
        done=done,
        title="Rights requests",
        sort=sort,
        sorts=SORTS,
        include_closed=include_closed,
        days_sort_next="days_left_desc" if sort == "days_left" else "days_left",
        overdue=sum(1 for r in rows if r["overdue"]),
    )


def request_detail(
    request: Request, request_id: RequestId, as_of: AsOfParam = None, done: DoneParam = None
) -> Response:
    """One request: its dates and status (spec 6.4) and its clock history (section 7), with the steps
    staff may record."""
    rid = check_uuid("request_id", request_id)
    web, at = context(request, as_of)
    subject = request_subject(web.ledger.store, rid)
    rows = [] if subject is None else query_view(web, "requests", at, subject=subject, include_closed=True)
    row = next((r for r in rows if r["request_id"] == rid), None)
    if row is None:
        raise Problem(404, "UNKNOWN_CASE", "the ledger holds no such request (at this instant)")
    who = principal(request)
    complaints = query_view(web, "complaints", at, subject=row["subject_id"])
    return render(
        "request.html",
        chrome=chrome(request, "ui_requests", done=done, as_of=at),
        title=f"Rights request {rid.split('-')[0]}",
        row=row,
        history=request_history(web.ledger.store, rid, at),
        complaints=complaints,
        may_record=may_open(who, "ui_request_step") and row["closed_at"] is None,
        steps=REQUEST_STEPS,
        codes={name: sorted(web.ledger.codes.codes(name)) for name in _STEP_CODE_LISTS},
        form_key=new_form_key(),
    )
