"""The alert rules built on the clocks: as-of rules A16, A17, A25, A26 and request rules A18 to A21.

Each rule reads an evaluated row (``RequestRow``, ``ComplaintRow``, ``NoticeRow``, ``RetentionRow``), so
the alerts hold exactly when the rows say so at the chosen ``as_of``. Messages carry codes and ids only.
"""

from __future__ import annotations

from collections.abc import Iterable

from ledger.domain.alert_model import Alert
from ledger.domain.calendar import utc_text
from ledger.domain.obligations import ComplaintRow, NoticeRow, RetentionRow
from ledger.domain.request_clock import RequestRow
from ledger.domain.request_history import EventRef

__all__ = ["complaint_alerts", "notice_alerts", "request_alerts", "retention_alerts", "timing_alerts"]


def _as_of_alert(code: str, trigger: str, subject: str | None, related: tuple[str, ...], msg: str) -> Alert:
    return Alert(
        code=code,
        trigger_id=trigger,
        subject_id=subject,
        related_event_ids=related,
        event_occurred_at=None,
        message=msg,
        as_of_rule=True,
    )


def _event_alert(code: str, event: EventRef, row: RequestRow, msg: str) -> Alert:
    related = tuple(x for x in (row.received_event_id,) if x and x != event.event_id)
    return Alert(
        code=code,
        trigger_id=event.event_id,
        subject_id=row.subject_id,
        related_event_ids=related,
        event_occurred_at=utc_text(event.occurred_at),
        message=msg,
    )


def request_alerts(row: RequestRow) -> list[Alert]:
    """A17 (as-of overdue) and the event rules A18, A19, A20, A21 for one evaluated request."""
    alerts: list[Alert] = []
    rid = row.request_id
    if row.overdue:
        msg = f"REQUEST_OVERDUE: request {rid} was due {row.due_date} ({row.overdue_by_days} days overdue)"
        related = (row.received_event_id,) if row.received_event_id else ()
        alerts.append(_as_of_alert("REQUEST_OVERDUE", rid, row.subject_id, related, msg))
    ext = row.extension
    if ext is not None and not ext.valid:
        msg = (
            f"LATE_EXTENSION_NOTICE: extension {ext.event.event_id} of request {rid} sent after the deadline"
        )
        alerts.append(_event_alert("LATE_EXTENSION_NOTICE", ext.event, row, msg))
    if ext is not None and not ext.reasons_stated:
        msg = f"EXTENSION_REASONS_NOT_STATED: extension {ext.event.event_id} of request {rid}"
        alerts.append(_event_alert("EXTENSION_REASONS_NOT_STATED", ext.event, row, msg))
    for pause in row.pauses:
        if pause.ignored:
            ev = pause.requested_event
            msg = f"CLARIFICATION_AFTER_DEADLINE: clarification {ev.event_id} of request {rid} ignored"
            alerts.append(_event_alert("CLARIFICATION_AFTER_DEADLINE", ev, row, msg))
    closing = row.closing_event
    if closing is not None and row.status == "REFUSED" and row.complaint_rights_notified is False:
        msg = f"REFUSAL_WITHOUT_COMPLAINT_RIGHTS: refusal {closing.event_id} of request {rid}"
        alerts.append(_event_alert("REFUSAL_WITHOUT_COMPLAINT_RIGHTS", closing, row, msg))
    return alerts


def complaint_alerts(row: ComplaintRow) -> list[Alert]:
    """A26: the complaint's acknowledgement is overdue at the row's ``as_of``."""
    if not row.ack_overdue:
        return []
    cid = row.complaint_id
    msg = f"COMPLAINT_ACK_OVERDUE: complaint {cid} acknowledgement was due {row.ack_due_date}"
    related = (row.received_event_id,) if row.received_event_id else ()
    return [_as_of_alert("COMPLAINT_ACK_OVERDUE", cid, row.subject_id, related, msg)]


def notice_alerts(row: NoticeRow) -> list[Alert]:
    """A16: the Art 14 notice row is ``OVERDUE``."""
    if row.status != "OVERDUE":
        return []
    cid = row.collection_event_id
    msg = f"ART14_NOTICE_OVERDUE: collection {cid} notice was due {row.notice_due_date}"
    related = tuple(x for x in (cid, row.first_contact_event_id) if x)
    return [_as_of_alert("ART14_NOTICE_OVERDUE", cid, row.subject_id, related, msg)]


def retention_alerts(row: RetentionRow) -> list[Alert]:
    """A25: the retention row is ``DUE``."""
    if row.status != "DUE":
        return []
    msg = (
        f"RETENTION_PERIOD_EXCEEDED: subject {row.subject_id} category {row.category} "
        f"retained until {row.retain_until} ({row.days_past_retention} days past)"
    )
    related = (row.schedule_event_id,) if row.schedule_event_id else ()
    return [_as_of_alert("RETENTION_PERIOD_EXCEEDED", row.trigger_id, row.subject_id, related, msg)]


def timing_alerts(
    *,
    requests: Iterable[RequestRow] = (),
    complaints: Iterable[ComplaintRow] = (),
    notices: Iterable[NoticeRow] = (),
    retention: Iterable[RetentionRow] = (),
) -> list[Alert]:
    """Every timing alert that holds for the given evaluated rows, sorted by code then trigger id."""
    alerts: list[Alert] = []
    for request in requests:
        alerts += request_alerts(request)
    for complaint in complaints:
        alerts += complaint_alerts(complaint)
    for notice in notices:
        alerts += notice_alerts(notice)
    for row in retention:
        alerts += retention_alerts(row)
    return sorted(alerts, key=lambda a: (a.code, a.trigger_id))
