"""Timing alerts: as-of rules A16, A17, A25, A26 and request event rules A18 to A21 (spec 5)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from ledger.calendars import load_calendar
from ledger.domain.alert_model import Alert, alert_id
from ledger.domain.facts import Fact
from ledger.domain.obligations import evaluate_complaint, evaluate_notices, evaluate_retention
from ledger.domain.request_clock import RequestRow, evaluate_request
from ledger.domain.timing_alerts import timing_alerts

EW = load_calendar()
SUBJECT = "5d1f0c0e-0000-4000-8000-000000000003"
REQUEST_ID = "7e000000-0000-4000-8000-000000000001"
COMPLAINT_ID = "c0c0c0c0-0000-4000-8000-000000000002"


def instant(at: str) -> datetime:
    text = f"{at}T12:00:00Z" if len(at) == 10 else at
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Stream:
    def __init__(self) -> None:
        self.facts: list[Fact] = []

    def add(self, event_type: str, at: str, **payload: Any) -> str:
        seq = len(self.facts) + 1
        event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"alerts/{seq}"))
        when = instant(at)
        self.facts.append(Fact(seq, when, when, event_id, event_type, SUBJECT, payload))
        return event_id


def request(received: str = "2026-03-10") -> Stream:
    s = Stream()
    s.add("RightsRequestReceived", received, request_id=REQUEST_ID, request_type="access", channel="email")
    return s


def request_row(s: Stream, as_of: str) -> RequestRow:
    row = evaluate_request(s.facts, instant(as_of), EW)
    assert row is not None
    return row


def codes(alerts: list[Alert]) -> list[str]:
    return [a.code for a in alerts]


def only(alerts: list[Alert], code: str) -> Alert:
    [alert] = [a for a in alerts if a.code == code]
    return alert


def assert_as_of_alert(alert: Alert, code: str, trigger: str) -> None:
    assert (alert.code, alert.trigger_id, alert.subject_id) == (code, trigger, SUBJECT)
    assert alert.as_of_rule is True
    assert alert.event_occurred_at is None
    assert alert.alert_id == alert_id(code, trigger)
    assert alert.message.startswith(code)


def assert_event_alert(alert: Alert, code: str, event_id: str, occurred: str) -> None:
    assert (alert.code, alert.trigger_id, alert.subject_id) == (code, event_id, SUBJECT)
    assert alert.as_of_rule is False
    assert alert.event_occurred_at == occurred
    assert alert.alert_id == alert_id(code, event_id)


# -- A17 REQUEST_OVERDUE ------------------------------------------------------------------------------
def test_a17_request_overdue_fires_the_day_after_the_due_date() -> None:
    alerts = timing_alerts(requests=[request_row(request(), "2026-04-11")])
    assert codes(alerts) == ["REQUEST_OVERDUE"]
    assert_as_of_alert(alerts[0], "REQUEST_OVERDUE", REQUEST_ID)
    assert REQUEST_ID in alerts[0].message


def test_a17_does_not_fire_on_the_due_date_or_once_closed() -> None:
    assert timing_alerts(requests=[request_row(request(), "2026-04-10")]) == []
    closed = request()
    closed.add("RequestFulfilled", "2026-04-14", request_id=REQUEST_ID, outcome="full")
    assert timing_alerts(requests=[request_row(closed, "2026-05-01")]) == []


# -- A18 LATE_EXTENSION_NOTICE and A21 EXTENSION_REASONS_NOT_STATED --------------------------------
def extension(s: Stream, at: str, reasons_stated: bool = True) -> str:
    return s.add(
        "RequestExtended", at, request_id=REQUEST_ID, reason="complexity", reasons_stated=reasons_stated
    )


def test_a18_fires_for_an_extension_notice_after_the_rolled_deadline() -> None:
    s = request("2026-01-31")  # rolled initial deadline Mon 2 Mar
    ext = extension(s, "2026-03-03")
    alerts = timing_alerts(requests=[request_row(s, "2026-03-03")])
    assert codes(alerts) == [
        "LATE_EXTENSION_NOTICE",
        "REQUEST_OVERDUE",
    ]  # an invalid extension does not extend
    assert_event_alert(alerts[0], "LATE_EXTENSION_NOTICE", ext, "2026-03-03T12:00:00.000000Z")


def test_a18_does_not_fire_for_a_notice_on_the_rolled_deadline() -> None:
    s = request("2026-01-31")
    extension(s, "2026-03-02")
    assert timing_alerts(requests=[request_row(s, "2026-03-03")]) == []


def test_a21_fires_when_extension_reasons_are_not_stated() -> None:
    s = request()
    ext = extension(s, "2026-03-20", reasons_stated=False)
    alerts = timing_alerts(requests=[request_row(s, "2026-03-21")])
    assert codes(alerts) == ["EXTENSION_REASONS_NOT_STATED"]
    assert_event_alert(alerts[0], "EXTENSION_REASONS_NOT_STATED", ext, "2026-03-20T12:00:00.000000Z")


def test_a21_does_not_fire_when_reasons_are_stated_or_for_an_annotated_second_extension() -> None:
    s = request()
    extension(s, "2026-03-20", reasons_stated=True)
    extension(s, "2026-03-21", reasons_stated=False)  # EXTENSION_ALREADY_APPLIED: no effect
    assert timing_alerts(requests=[request_row(s, "2026-03-22")]) == []


# -- A19 CLARIFICATION_AFTER_DEADLINE ---------------------------------------------------------------
def test_a19_fires_for_a_clarification_requested_after_the_rolled_deadline() -> None:
    s = request()  # due Fri 10 Apr 2026
    late = s.add("ClarificationRequested", "2026-04-13", request_id=REQUEST_ID)
    alerts = timing_alerts(requests=[request_row(s, "2026-04-13")])
    assert codes(alerts) == ["CLARIFICATION_AFTER_DEADLINE", "REQUEST_OVERDUE"]
    assert_event_alert(alerts[0], "CLARIFICATION_AFTER_DEADLINE", late, "2026-04-13T12:00:00.000000Z")


def test_a19_does_not_fire_for_a_clarification_on_the_deadline() -> None:
    s = request()
    s.add("ClarificationRequested", "2026-04-10", request_id=REQUEST_ID)
    assert timing_alerts(requests=[request_row(s, "2026-04-13")]) == []


def test_a19_follows_the_final_computation_with_a_valid_extension() -> None:
    s = request()
    extension(s, "2026-03-20")
    s.add("ClarificationRequested", "2026-04-13", request_id=REQUEST_ID)  # before the extended deadline
    row = request_row(s, "2026-04-14")
    assert row.status == "PAUSED"
    assert timing_alerts(requests=[row]) == []


# -- A20 REFUSAL_WITHOUT_COMPLAINT_RIGHTS -----------------------------------------------------------
def test_a20_fires_when_a_refusal_does_not_notify_complaint_rights() -> None:
    s = request()
    refusal = s.add(
        "RequestRefused",
        "2026-03-20T23:30:00+01:00",
        request_id=REQUEST_ID,
        reason="manifestly_unfounded",
        complaint_rights_notified=False,
    )
    alerts = timing_alerts(requests=[request_row(s, "2026-03-21")])
    assert codes(alerts) == ["REFUSAL_WITHOUT_COMPLAINT_RIGHTS"]
    assert_event_alert(alerts[0], "REFUSAL_WITHOUT_COMPLAINT_RIGHTS", refusal, "2026-03-20T22:30:00.000000Z")


def test_a20_does_not_fire_when_complaint_rights_are_notified() -> None:
    s = request()
    s.add(
        "RequestRefused",
        "2026-03-20",
        request_id=REQUEST_ID,
        reason="manifestly_unfounded",
        complaint_rights_notified=True,
    )
    assert timing_alerts(requests=[request_row(s, "2026-03-21")]) == []


# -- A26 COMPLAINT_ACK_OVERDUE -----------------------------------------------------------------------
def complaint(*events: tuple[str, str]) -> Stream:
    s = Stream()
    s.add("ComplaintReceived", "2026-07-01", complaint_id=COMPLAINT_ID, channel="email")
    for event_type, at in events:
        s.add(event_type, at, complaint_id=COMPLAINT_ID)
    return s


def test_a26_fires_when_a_statutory_complaint_is_unacknowledged_after_30_days() -> None:
    row = evaluate_complaint(complaint().facts, instant("2026-08-01"), EW)
    assert row is not None
    alerts = timing_alerts(complaints=[row])
    assert codes(alerts) == ["COMPLAINT_ACK_OVERDUE"]
    assert_as_of_alert(alerts[0], "COMPLAINT_ACK_OVERDUE", COMPLAINT_ID)


def test_a26_does_not_fire_once_acknowledged_or_on_the_due_date() -> None:
    acked = evaluate_complaint(
        complaint(("ComplaintAcknowledged", "2026-07-02")).facts, instant("2026-08-01"), EW
    )
    on_due = evaluate_complaint(complaint().facts, instant("2026-07-31"), EW)
    assert acked is not None and on_due is not None
    assert timing_alerts(complaints=[acked, on_due]) == []


# -- A16 ART14_NOTICE_OVERDUE -----------------------------------------------------------------------
def collected_stream() -> tuple[Stream, str]:
    s = Stream()
    cid = s.add(
        "DataCollected",
        "2026-03-10",
        source={"type": "third_party", "name": "credit_reference_agency"},
        data_items=[{"category": "credit_history", "field": "score", "value": {"enc": "x"}}],
    )
    return s, cid


def test_a16_fires_for_an_overdue_art14_notice() -> None:
    s, cid = collected_stream()
    alerts = timing_alerts(notices=evaluate_notices(s.facts, instant("2026-04-11")))
    assert codes(alerts) == ["ART14_NOTICE_OVERDUE"]
    assert_as_of_alert(alerts[0], "ART14_NOTICE_OVERDUE", cid)


def test_a16_does_not_fire_while_pending_or_once_satisfied() -> None:
    s, _ = collected_stream()
    assert timing_alerts(notices=evaluate_notices(s.facts, instant("2026-04-10"))) == []
    s.add("PrivacyNoticeProvided", "2026-03-12", notice_version="v1", article="art14", topics=["general"])
    assert timing_alerts(notices=evaluate_notices(s.facts, instant("2026-05-01"))) == []


# -- A25 RETENTION_PERIOD_EXCEEDED -------------------------------------------------------------------
def retention_stream() -> Stream:
    s = Stream()
    s.add(
        "RetentionScheduleAssigned",
        "2026-01-01",
        categories=["credit_history"],
        rule_id="R-1",
        trigger_date="2026-01-01",
        retain_until="2026-06-30",
    )
    return s


def test_a25_fires_when_retention_is_due() -> None:
    alerts = timing_alerts(retention=evaluate_retention(retention_stream().facts, instant("2026-07-01")))
    assert codes(alerts) == ["RETENTION_PERIOD_EXCEEDED"]
    assert_as_of_alert(alerts[0], "RETENTION_PERIOD_EXCEEDED", f"{SUBJECT}|credit_history")


def test_a25_does_not_fire_on_retain_until_or_under_a_legal_hold() -> None:
    s = retention_stream()
    assert timing_alerts(retention=evaluate_retention(s.facts, instant("2026-06-30"))) == []
    s.add("LegalHoldPlaced", "2026-06-01", hold_id="h-1", categories=["*"], reason="litigation")
    assert timing_alerts(retention=evaluate_retention(s.facts, instant("2026-07-01"))) == []


# -- together ------------------------------------------------------------------------------------------
def test_timing_alerts_are_sorted_by_code_then_trigger_and_messages_hold_codes_and_ids_only() -> None:
    s = request("2026-01-31")
    extension(s, "2026-03-03", reasons_stated=False)
    alerts = timing_alerts(
        requests=[request_row(s, "2026-03-10")],
        retention=evaluate_retention(retention_stream().facts, instant("2026-07-01")),
    )
    assert codes(alerts) == [
        "EXTENSION_REASONS_NOT_STATED",
        "LATE_EXTENSION_NOTICE",
        "REQUEST_OVERDUE",
        "RETENTION_PERIOD_EXCEEDED",
    ]
    for alert in alerts:
        assert alert.message.isascii()
        assert "@" not in alert.message
