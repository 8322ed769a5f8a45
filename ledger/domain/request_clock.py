"""The rights-request clock of spec section 7 and the request-queue row of section 6.4.

``evaluate_request`` folds the stored events of one request stream, as of an instant, into a
``RequestRow``: the relevant date R (identity and fee restart it), clarification pauses (counted
inclusively, shifted on the unrolled end, then rolled), the single two-month extension and its
validity, closure, and the overdue flags. Time and the holiday calendar are arguments (pure function).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Final

from ledger.domain.calendar import HolidayCalendar, add_months, london_date, utc_text
from ledger.domain.facts import Fact
from ledger.domain.request_history import EventRef, RequestHistory, read_history

__all__ = [
    "ART12A_FROM",
    "CLOSED_STATUSES",
    "EventRef",
    "Extension",
    "Pause",
    "RequestRow",
    "evaluate_request",
    "queue_key",
    "sort_queue",
]

ART12A_FROM: Final = date(2026, 2, 5)  # SI 2026/82 reg 2(h): Art 12A in force (D11)
CLOSED_STATUSES: Final = frozenset({"FULFILLED", "PARTIALLY_FULFILLED", "REFUSED", "WITHDRAWN", "CLOSED"})
_AWAITING: Final = frozenset({"AWAITING_IDENTITY", "AWAITING_FEE"})
_CLOSING_STATUS: Final = {
    "RequestRefused": "REFUSED",
    "RequestWithdrawn": "WITHDRAWN",
    "RequestClosed": "CLOSED",
}


@dataclass(frozen=True)
class Pause:
    """A clarification pause: local dates, the days it took off the clock, and whether it was ignored."""

    requested_date: date
    received_date: date | None
    days_excluded: int
    ignored: bool
    requested_event: EventRef

    def to_json(self) -> dict[str, Any]:
        """The ``pauses[]`` entry of spec 6.4."""
        return {
            "requested_date": self.requested_date.isoformat(),
            "received_date": _date_text(self.received_date),
            "days_excluded": self.days_excluded,
            "ignored": self.ignored,
        }


@dataclass(frozen=True)
class Extension:
    """The request's one extension (spec 7.4): notice date, reason and validity."""

    notice_date: date
    reason: str
    valid: bool
    reasons_stated: bool
    event: EventRef

    def to_json(self) -> dict[str, Any]:
        """The ``extension`` object of spec 6.4."""
        return {"notice_date": self.notice_date.isoformat(), "reason": self.reason, "valid": self.valid}


@dataclass(frozen=True)
class RequestRow:
    """One row of the rights-request queue (spec 6.4) plus what the anomaly and alert rules need."""

    request_id: str
    subject_id: str | None
    request_type: str
    channel: str
    received_at: str
    received_date: date
    rules_basis: str
    status: str
    clock_start_date: date | None
    pauses: tuple[Pause, ...]
    paused_days_total: int
    extension: Extension | None
    period_end_date: date | None
    due_date: date | None
    days_remaining: int | None
    overdue: bool
    overdue_by_days: int
    closed_at: str | None
    closed_date: date | None
    closed_on_time: bool | None
    late_by_days: int | None
    # Beyond the 6.4 columns: derived annotations (event id -> code of 4.4) and alert inputs.
    received_event_id: str = ""
    annotations: Mapping[str, str] = field(default_factory=dict, hash=False)
    closing_event: EventRef | None = None
    complaint_rights_notified: bool | None = None

    @property
    def extension_event_id(self) -> str | None:
        """The effective ``RequestExtended`` event, if any (A18, A21)."""
        return self.extension.event.event_id if self.extension else None

    @property
    def reasons_stated(self) -> bool | None:
        """``reasons_stated`` of the effective extension (A21)."""
        return self.extension.reasons_stated if self.extension else None

    @property
    def ignored_clarification_event_ids(self) -> tuple[str, ...]:
        """``ClarificationRequested`` events ignored in the final computation (A19)."""
        return tuple(p.requested_event.event_id for p in self.pauses if p.ignored)

    @property
    def is_closed(self) -> bool:
        """Whether a closing event has been applied."""
        return self.status in CLOSED_STATUSES

    def to_json(self) -> dict[str, Any]:
        """The spec 6.4 columns (the requests query adds ``eligible_items`` to portability requests)."""
        return {
            "request_id": self.request_id,
            "subject_id": self.subject_id,
            "request_type": self.request_type,
            "channel": self.channel,
            "received_at": self.received_at,
            "received_date": self.received_date.isoformat(),
            "rules_basis": self.rules_basis,
            "status": self.status,
            "clock_start_date": _date_text(self.clock_start_date),
            "pauses": [p.to_json() for p in self.pauses],
            "paused_days_total": self.paused_days_total,
            "extension": self.extension.to_json() if self.extension else None,
            "period_end_date": _date_text(self.period_end_date),
            "due_date": _date_text(self.due_date),
            "days_remaining": self.days_remaining,
            "overdue": self.overdue,
            "overdue_by_days": self.overdue_by_days,
            "closed_at": self.closed_at,
            "closed_date": _date_text(self.closed_date),
            "closed_on_time": self.closed_on_time,
            "late_by_days": self.late_by_days,
        }


def _date_text(d: date | None) -> str | None:
    return d.isoformat() if d is not None else None


@dataclass(frozen=True)
class _Deadline:
    """One run of the section 7.3 ``deadline(months)`` function."""

    end: date  # the unrolled end reached (when paused: the end before the open pause)
    due: date | None  # rolled end; None while paused
    open_pause: int | None  # index of the open pause that stops the clock
    ignored: frozenset[int]
    excluded: Mapping[int, int]  # pause index -> days taken off the clock


def _deadline(
    r: date, months: int, spans: Sequence[tuple[date, date | None]], cal: HolidayCalendar
) -> _Deadline:
    """Spec 7.3 ``deadline(months)``: add months, shift by each counted pause (inclusive), then roll."""
    end = add_months(r, months)
    ignored: set[int] = set()
    excluded: dict[int, int] = {}
    # sorted() is stable, so pauses requested on the same date keep their business order.
    for i in sorted(range(len(spans)), key=lambda k: spans[k][0]):
        requested, received = spans[i]
        if requested > cal.roll(end):
            ignored.add(i)  # a late clarification cannot revive an expired period (D7)
            continue
        if received is None:
            return _Deadline(end, None, i, frozenset(ignored), excluded)
        first = max(requested, r)
        if received >= first:
            excluded[i] = (received - first).days + 1
            end += timedelta(days=excluded[i])
    return _Deadline(end, cal.roll(end), None, frozenset(ignored), excluded)


def _extension_valid(
    r: date | None, notice: date, spans: Sequence[tuple[date, date | None]], cal: HolidayCalendar
) -> bool:
    """Spec 7.4 with D5: the notice is on or before the rolled initial deadline after pauses."""
    if r is None:
        # No clock is running: any due date will lie after the coming restart, so after this notice.
        return True
    initial = _deadline(r, 1, spans, cal)
    if initial.open_pause is not None:
        # Paused: a notice during the pause falls in time that does not count; one before it precedes
        # roll(end) >= the pause start, so it is in time too.
        return spans[initial.open_pause][0] <= notice or notice <= cal.roll(initial.end)
    assert initial.due is not None
    return notice <= initial.due


def evaluate_request(
    facts: Sequence[Fact],
    as_of: datetime,
    calendar: HolidayCalendar,
    *,
    resolve: Callable[[str], str] | None = None,
) -> RequestRow | None:
    """The 6.4 row of one request stream at ``as_of`` (None if it was not yet received).

    ``facts`` are the stored events of one request, in any order; facts after ``as_of`` are ignored.
    ``resolve`` maps the envelope subject to the resolved subject (merges), when given.
    """
    history = read_history(facts, as_of)
    if history is None:
        return None
    as_of_date = london_date(as_of)
    receipt = history.receipt
    received_date = london_date(receipt.occurred_at)
    r = history.relevant_date(received_date)
    spans = [(london_date(p.requested.occurred_at), _opt_date(p.received)) for p in history.pauses]

    extension: Extension | None = None
    if history.extension is not None:
        ext = history.extension
        notice = london_date(history.notice_sent_at(ext))
        extension = Extension(
            notice_date=notice,
            reason=str(ext.payload.get("reason", "")),
            valid=_extension_valid(r, notice, spans, calendar),
            reasons_stated=ext.payload.get("reasons_stated") is not False,
            event=EventRef.of(ext),
        )
    closing = history.closing
    closed_date = london_date(closing.occurred_at) if closing else None
    final = _deadline(r, 3 if extension and extension.valid else 1, spans, calendar) if r else None
    status = _status(history, final, extension)

    eval_date = closed_date or as_of_date
    pauses = tuple(
        _pause(i, spans[i], history.pauses[i].requested, r, final, eval_date) for i in range(len(spans))
    )
    due = final.due if final else None
    period_end = final.end if final and due else None
    open_now = status in ("OPEN", "EXTENDED")
    overdue = bool(open_now and due and as_of_date > due)
    subject = receipt.subject_id
    return RequestRow(
        request_id=history.request_id,
        subject_id=resolve(subject) if resolve and subject else subject,
        request_type=str(receipt.payload.get("request_type", "")),
        channel=str(receipt.payload.get("channel", "")),
        received_at=utc_text(receipt.occurred_at),
        received_date=received_date,
        rules_basis="uk_gdpr_art12a" if received_date >= ART12A_FROM else "ico_guidance_pre_art12a",
        status=status,
        clock_start_date=r,
        pauses=pauses,
        paused_days_total=sum(p.days_excluded for p in pauses),
        extension=extension,
        period_end_date=period_end,
        due_date=due,
        days_remaining=(due - as_of_date).days if open_now and due else None,
        overdue=overdue,
        overdue_by_days=(as_of_date - due).days if overdue and due else 0,
        closed_at=utc_text(closing.occurred_at) if closing else None,
        closed_date=closed_date,
        closed_on_time=(closed_date <= due) if closed_date and due else None,
        late_by_days=max(0, (closed_date - due).days) if closed_date and due else None,
        received_event_id=receipt.event_id,
        annotations=dict(history.annotations),
        closing_event=EventRef.of(closing) if closing else None,
        complaint_rights_notified=_complaint_rights(closing),
    )


def _opt_date(fact: Fact | None) -> date | None:
    return london_date(fact.occurred_at) if fact else None


def _status(history: RequestHistory, final: _Deadline | None, extension: Extension | None) -> str:
    closing = history.closing
    if closing is not None:
        if closing.event_type == "RequestFulfilled":
            return "PARTIALLY_FULFILLED" if closing.payload.get("outcome") == "partial" else "FULFILLED"
        return _CLOSING_STATUS[closing.event_type]
    if history.awaiting is not None:
        return history.awaiting
    if final is not None and final.open_pause is not None:
        return "PAUSED"
    return "EXTENDED" if extension and extension.valid else "OPEN"


def _pause(
    i: int,
    span: tuple[date, date | None],
    requested: Fact,
    r: date | None,
    final: _Deadline | None,
    eval_date: date,
) -> Pause:
    requested_date, received_date = span
    ignored = final is not None and i in final.ignored
    days = 0
    if final is not None and r is not None and not ignored:
        if received_date is not None:
            days = final.excluded.get(i, 0)
        else:  # still open: the days taken off so far, through the evaluation date
            days = max(0, (eval_date - max(requested_date, r)).days + 1)
    return Pause(requested_date, received_date, days, ignored, EventRef.of(requested))


def _complaint_rights(closing: Fact | None) -> bool | None:
    if closing is None or closing.event_type != "RequestRefused":
        return None
    return closing.payload.get("complaint_rights_notified") is not False


def _queue_key(row: RequestRow) -> tuple[int, date, str, str]:
    if row.overdue:
        group = 0
    elif row.status in ("OPEN", "EXTENDED"):
        group = 1
    elif row.status == "PAUSED" or row.status in _AWAITING:
        group = 2
    else:
        group = 3  # closed rows, if a caller lists them, come after everything outstanding
    due = row.due_date if group < 2 and row.due_date else date.max
    return (group, due, row.received_at, row.request_id)


def queue_key(row: RequestRow) -> tuple[int, date, str, str]:
    """The 6.4 sort key of one row: (group, due date, received_at, request id); group 0 overdue, 1 open
    or extended, 2 paused or awaiting, 3 closed."""
    return _queue_key(row)


def sort_queue(rows: Iterable[RequestRow]) -> list[RequestRow]:
    """Spec 6.4 default order: overdue first, then ascending due date, paused and awaiting last."""
    return sorted(rows, key=_queue_key)
