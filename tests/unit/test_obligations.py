"""As-of obligations: complaints (spec 6.10), Art 14 notices (6.9, D10) and retention (6.7)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import pytest

from ledger.calendars import load_calendar
from ledger.domain.facts import Fact
from ledger.domain.obligations import (
    ComplaintRow,
    evaluate_complaint,
    evaluate_notices,
    evaluate_retention,
)

EW = load_calendar()
SUBJECT = "5d1f0c0e-0000-4000-8000-000000000002"


def instant(at: str) -> datetime:
    """A ``YYYY-MM-DD`` day means noon UTC (the same London date in GMT and BST)."""
    text = f"{at}T12:00:00Z" if len(at) == 10 else at
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Stream:
    """Builds stored facts for one subject (or one complaint stream)."""

    def __init__(self, name: str = "s") -> None:
        self.name = name
        self.facts: list[Fact] = []

    def add(self, event_type: str, at: str, **payload: Any) -> str:
        seq = len(self.facts) + 1
        event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.name}/{seq}"))
        when = instant(at)
        self.facts.append(Fact(seq, when, when, event_id, event_type, SUBJECT, payload))
        return event_id


# -- 6.10 complaints -------------------------------------------------------------------------------
COMPLAINT_ID = "c0c0c0c0-0000-4000-8000-000000000001"


def complaint(received: str, *events: tuple[str, str], as_of: str) -> ComplaintRow:
    s = Stream("complaint")
    s.add("ComplaintReceived", received, complaint_id=COMPLAINT_ID, channel="email")
    for event_type, at in events:
        s.add(event_type, at, complaint_id=COMPLAINT_ID)
    row = evaluate_complaint(s.facts, instant(as_of), EW)
    assert row is not None
    return row


def test_complaint_before_19_june_2026_is_not_statutory_and_never_ack_overdue() -> None:
    row = complaint("2026-06-18", as_of="2026-12-01")
    assert (row.statutory, row.ack_due_date, row.ack_overdue, row.ack_overdue_by_days) == (
        False,
        None,
        False,
        0,
    )
    assert row.status == "OPEN"


def test_complaint_from_19_june_2026_is_due_30_days_after_receipt_rolled() -> None:
    row = complaint("2026-06-19", as_of="2026-06-20")
    assert row.statutory is True
    assert row.ack_due_date == date(2026, 7, 20)  # 19 Jul is a Sunday


def test_complaint_received_late_on_18_june_utc_is_19_june_in_london_and_statutory() -> None:
    row = complaint("2026-06-18T23:30:00Z", as_of="2026-06-20")
    assert row.received_date == date(2026, 6, 19)
    assert row.statutory is True


def test_complaint_ack_due_skips_a_bank_holiday() -> None:
    row = complaint("2026-07-31", as_of="2026-08-01")
    assert row.ack_due_date == date(2026, 9, 1)  # 30 Aug is a Sunday, 31 Aug a bank holiday


def test_complaint_is_not_ack_overdue_on_its_due_date_but_is_the_day_after() -> None:
    on_due = complaint("2026-07-01", as_of="2026-07-31")
    assert on_due.ack_due_date == date(2026, 7, 31)
    assert (on_due.ack_overdue, on_due.ack_overdue_by_days) == (False, 0)
    after = complaint("2026-07-01", as_of="2026-08-02")
    assert (after.ack_overdue, after.ack_overdue_by_days) == (True, 2)


def test_acknowledged_complaint_on_time() -> None:
    row = complaint("2026-07-01", ("ComplaintAcknowledged", "2026-07-10"), as_of="2026-09-01")
    assert (row.status, row.acknowledged_date, row.ack_on_time, row.ack_overdue) == (
        "ACKNOWLEDGED",
        date(2026, 7, 10),
        True,
        False,
    )


def test_late_acknowledgement_is_not_on_time() -> None:
    row = complaint("2026-07-01", ("ComplaintAcknowledged", "2026-08-03"), as_of="2026-09-01")
    assert (row.ack_on_time, row.ack_overdue) == (False, False)


def test_outcome_sent_within_30_days_counts_as_the_acknowledgement() -> None:
    row = complaint("2026-07-01", ("ComplaintOutcomeSent", "2026-07-20"), as_of="2026-09-01")
    assert row.status == "CLOSED"
    assert (row.acknowledged_date, row.outcome_sent_date, row.ack_on_time) == (
        date(2026, 7, 20),
        date(2026, 7, 20),
        True,
    )
    assert row.ack_overdue is False


def test_complaint_row_as_of_before_acknowledgement_ignores_later_events() -> None:
    row = complaint("2026-07-01", ("ComplaintAcknowledged", "2026-08-10"), as_of="2026-08-05")
    assert (row.status, row.acknowledged_date, row.ack_overdue, row.ack_overdue_by_days) == (
        "OPEN",
        None,
        True,
        5,
    )


def test_complaint_json_has_the_6_10_columns() -> None:
    out = complaint("2026-07-01", as_of="2026-07-02").to_json()
    assert list(out) == [
        "complaint_id",
        "subject_id",
        "received_date",
        "statutory",
        "ack_due_date",
        "acknowledged_date",
        "ack_on_time",
        "outcome_sent_date",
        "status",
        "ack_overdue",
        "ack_overdue_by_days",
    ]
    assert out["ack_due_date"] == "2026-07-31"


def test_complaint_not_yet_received_at_as_of_has_no_row() -> None:
    s = Stream()
    s.add("ComplaintReceived", "2026-07-01", complaint_id=COMPLAINT_ID)
    assert evaluate_complaint(s.facts, instant("2026-06-30"), EW) is None


# -- 6.9 Art 14 notices -----------------------------------------------------------------------------
def collect(s: Stream, at: str, source_type: str = "third_party", **extra: Any) -> str:
    source = {"type": source_type, "name": "credit_reference_agency"}
    if source_type == "data_subject":
        source = {"type": "data_subject", "channel": "email"}
    items = [{"category": "credit_history", "field": "score", "value": {"enc": "x", "kid": "k", "cat": "c"}}]
    return s.add("DataCollected", at, data_items=items, source=source, processing_means="automated", **extra)


def share(s: Stream, at: str) -> str:
    return s.add("DataShared", at, recipient={"recipient_id": "CRA-1"}, categories=["credit_history"])


def notice(s: Stream, at: str) -> str:
    return s.add("PrivacyNoticeProvided", at, notice_version="v3", article="art14", topics=["general"])


def test_art14_collection_with_an_exemption_is_exempt() -> None:
    s = Stream()
    collect(s, "2026-03-10", art14_exemption="disproportionate_effort")
    [row] = evaluate_notices(s.facts, instant("2026-06-01"))
    assert row.status == "EXEMPT"


def test_art14_notice_within_one_month_is_satisfied() -> None:
    s = Stream()
    cid = collect(s, "2026-03-10")
    notice(s, "2026-04-10")
    [row] = evaluate_notices(s.facts, instant("2026-06-01"))
    assert (row.collection_event_id, row.collected_date, row.notice_due_date) == (
        cid,
        date(2026, 3, 10),
        date(2026, 4, 10),
    )
    assert row.status == "SATISFIED"


def test_art14_notice_at_london_end_of_the_due_date_is_satisfied() -> None:
    s = Stream()
    collect(s, "2026-05-31")
    notice(s, "2026-06-30T22:59:59Z")  # 23:59:59 BST on the due date
    [row] = evaluate_notices(s.facts, instant("2026-07-05"))
    assert row.status == "SATISFIED"


def test_art14_notice_after_the_due_date_is_satisfied_late() -> None:
    s = Stream()
    collect(s, "2026-05-31")
    notice(s, "2026-06-30T23:00:00Z")  # 1 July in London
    [row] = evaluate_notices(s.facts, instant("2026-07-05"))
    assert row.status == "SATISFIED_LATE"


def test_art14_deadline_is_not_rolled_so_a_weekend_due_date_is_overdue_the_next_day() -> None:
    s = Stream()
    collect(s, "2026-01-31")
    [row] = evaluate_notices(s.facts, instant("2026-03-01"))
    assert row.notice_due_date == date(2026, 2, 28)  # a Saturday, not rolled (D10)
    assert row.status == "OVERDUE"


def test_art14_notice_is_pending_until_the_due_date_passes() -> None:
    s = Stream()
    collect(s, "2026-03-10")
    [row] = evaluate_notices(s.facts, instant("2026-04-10"))
    assert row.status == "PENDING"


def test_first_disclosure_before_one_month_brings_the_notice_due_date_forward() -> None:
    s = Stream()
    cid = collect(s, "2026-03-10")
    sid = share(s, "2026-03-15")
    [row] = evaluate_notices(s.facts, instant("2026-03-16"))
    assert row.notice_due_date == date(2026, 3, 15)
    assert row.first_disclosure_at == "2026-03-15T12:00:00.000000Z"
    assert row.first_contact_event_id == sid
    assert row.status == "OVERDUE"  # disclosed with no notice
    assert row.collection_event_id == cid


def test_notice_before_the_first_disclosure_instant_is_satisfied_and_after_it_is_late() -> None:
    before = Stream("before")
    collect(before, "2026-03-10")
    notice(before, "2026-03-15T11:00:00Z")
    share(before, "2026-03-15T12:00:00Z")
    assert [r.status for r in evaluate_notices(before.facts, instant("2026-03-16"))] == ["SATISFIED"]
    after = Stream("after")
    collect(after, "2026-03-10")
    share(after, "2026-03-15T12:00:00Z")
    notice(after, "2026-03-15T13:00:00Z")
    assert [r.status for r in evaluate_notices(after.facts, instant("2026-03-16"))] == ["SATISFIED_LATE"]


def test_first_communication_is_a_data_use_with_a_channel() -> None:
    s = Stream()
    collect(s, "2026-03-10")
    s.add("DataUsed", "2026-03-12", purpose="usage_demographics", categories=["credit_history"])
    s.add("DataUsed", "2026-03-14", purpose="b2b_marketing", categories=["credit_history"], channel="email")
    [row] = evaluate_notices(s.facts, instant("2026-03-13"))
    assert (row.notice_due_date, row.status) == (date(2026, 4, 10), "PENDING")
    [row] = evaluate_notices(s.facts, instant("2026-03-15"))
    assert row.notice_due_date == date(2026, 3, 14)
    assert row.first_communication_at == "2026-03-14T12:00:00.000000Z"
    assert row.status == "OVERDUE"


def test_only_public_source_and_third_party_collections_have_notice_rows() -> None:
    s = Stream()
    collect(s, "2026-03-10", source_type="data_subject")
    public = collect(s, "2026-03-11", source_type="public_source")
    assert [r.collection_event_id for r in evaluate_notices(s.facts, instant("2026-03-12"))] == [public]


def test_notice_row_json_includes_the_triggering_instants() -> None:
    s = Stream()
    collect(s, "2026-03-10")
    out = evaluate_notices(s.facts, instant("2026-03-11"))[0].to_json()
    assert out["notice_due_date"] == "2026-04-10"
    assert {"collection_event_id", "collected_date", "status", "first_communication_at"} <= set(out)


# -- 6.7 retention ---------------------------------------------------------------------------------
HOLD = "h0h0h0h0-0000-4000-8000-000000000001"


def schedule(s: Stream, at: str, retain_until: str, *categories: str, rule: str = "R-1") -> str:
    return s.add(
        "RetentionScheduleAssigned",
        at,
        categories=list(categories or ("credit_history",)),
        rule_id=rule,
        trigger_date=at,
        retain_until=retain_until,
    )


def test_retention_within_the_period_is_retain() -> None:
    s = Stream()
    schedule(s, "2026-01-01", "2026-06-30")
    [row] = evaluate_retention(s.facts, instant("2026-06-30"))
    assert (row.category, row.status, row.days_past_retention) == ("credit_history", "RETAIN", 0)


def test_retention_past_retain_until_is_due_with_days_past() -> None:
    s = Stream()
    schedule(s, "2026-01-01", "2026-06-30")
    [row] = evaluate_retention(s.facts, instant("2026-07-03"))
    assert (row.status, row.days_past_retention) == ("DUE", 3)


def test_retention_due_is_judged_on_the_london_date() -> None:
    s = Stream()
    schedule(s, "2026-01-01", "2026-06-30")
    [row] = evaluate_retention(s.facts, instant("2026-06-30T23:30:00Z"))
    assert row.status == "DUE"


def test_retention_under_an_active_legal_hold_is_held() -> None:
    s = Stream()
    schedule(s, "2026-01-01", "2026-06-30")
    s.add("LegalHoldPlaced", "2026-05-01", hold_id=HOLD, categories=["*"], reason="litigation")
    [row] = evaluate_retention(s.facts, instant("2026-07-03"))
    assert (row.status, row.on_legal_hold, row.hold_ids) == ("HELD", True, (HOLD,))
    assert row.days_past_retention == 3


def test_released_hold_no_longer_holds() -> None:
    s = Stream()
    schedule(s, "2026-01-01", "2026-06-30")
    s.add("LegalHoldPlaced", "2026-05-01", hold_id=HOLD, categories=["credit_history"], reason="litigation")
    s.add("LegalHoldReleased", "2026-07-01", hold_id=HOLD)
    [row] = evaluate_retention(s.facts, instant("2026-07-03"))
    assert (row.status, row.on_legal_hold, row.hold_ids) == ("DUE", False, ())


def test_hold_on_another_category_does_not_hold() -> None:
    s = Stream()
    schedule(s, "2026-01-01", "2026-06-30")
    s.add("LegalHoldPlaced", "2026-05-01", hold_id=HOLD, categories=["name"], reason="litigation")
    assert evaluate_retention(s.facts, instant("2026-07-03"))[0].status == "DUE"


def test_deferred_erasure_after_the_hold_is_released_is_deferred() -> None:
    s = Stream()
    schedule(s, "2026-01-01", "2026-06-30")
    s.add("LegalHoldPlaced", "2026-05-01", hold_id=HOLD, categories=["credit_history"], reason="litigation")
    s.add("ErasureDeferred", "2026-05-02", categories=["credit_history"], hold_ids=[HOLD], ref_event_id="e")
    s.add("LegalHoldReleased", "2026-05-03T10:00:00Z", hold_id=HOLD)
    assert evaluate_retention(s.facts, instant("2026-05-03T10:00:00Z"))[0].status == "DEFERRED"
    s.add("KeyShredded", "2026-05-03T10:00:01Z", category="credit_history", key_versions=[1])
    assert evaluate_retention(s.facts, instant("2026-05-04"))[0].status == "ERASED"


def test_shredded_category_is_erased_even_past_retention() -> None:
    s = Stream()
    collect(s, "2026-01-01")
    schedule(s, "2026-01-01", "2026-06-30")
    s.add("KeyShredded", "2026-07-01", category="credit_history", key_versions=[1])
    [row] = evaluate_retention(s.facts, instant("2026-07-03"))
    assert (row.status, row.days_past_retention) == ("ERASED", 3)


def test_category_collected_again_after_shredding_is_not_erased() -> None:
    s = Stream()
    schedule(s, "2026-01-01", "2026-12-31")
    s.add("KeyShredded", "2026-03-01", category="credit_history", key_versions=[1])
    collect(s, "2026-04-01")
    assert evaluate_retention(s.facts, instant("2026-04-02"))[0].status == "RETAIN"


def test_latest_retention_schedule_wins_and_rows_are_per_category() -> None:
    s = Stream()
    schedule(s, "2026-01-01", "2026-06-30", "credit_history", "name", rule="R-1")
    schedule(s, "2026-02-01", "2027-06-30", "credit_history", rule="R-2")
    rows = evaluate_retention(s.facts, instant("2026-07-03"))
    assert [(r.category, r.rule_id, r.retain_until, r.status) for r in rows] == [
        ("credit_history", "R-2", date(2027, 6, 30), "RETAIN"),
        ("name", "R-1", date(2026, 6, 30), "DUE"),
    ]
    assert rows[1].trigger_id == f"{SUBJECT}|name"


def test_schedule_after_as_of_is_ignored() -> None:
    s = Stream()
    schedule(s, "2026-08-01", "2026-09-30")
    assert evaluate_retention(s.facts, instant("2026-07-03")) == []


@pytest.mark.parametrize("subject", [None, "survivor"])
def test_retention_row_subject_can_be_given_by_the_caller(subject: str | None) -> None:
    s = Stream()
    schedule(s, "2026-01-01", "2026-06-30")
    [row] = evaluate_retention(s.facts, instant("2026-07-03"), subject_id=subject)
    assert row.subject_id == (subject or SUBJECT)
    assert row.to_json()["hold_ids"] == []
