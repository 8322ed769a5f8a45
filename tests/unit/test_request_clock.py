"""The rights-request clock of spec section 7 and the queue row of 6.4."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.calendars import load_calendar
from ledger.domain.facts import Fact
from ledger.domain.request_clock import RequestRow, evaluate_request, sort_queue

EW = load_calendar()
SUBJECT = "5d1f0c0e-0000-4000-8000-000000000001"


def instant(at: str) -> datetime:
    """A ``YYYY-MM-DD`` day means noon UTC (the same London date in GMT and BST)."""
    text = f"{at}T12:00:00Z" if len(at) == 10 else at
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class Request:
    """Builds the stored facts of one request stream."""

    def __init__(self, received: str, request_type: str = "access", name: str = "r1") -> None:
        self.request_id = str(uuid.uuid5(uuid.NAMESPACE_URL, name))
        self.name = name
        self.facts: list[Fact] = []
        self.receipt = self.add(
            "RightsRequestReceived",
            received,
            request_type=request_type,
            channel="email",
            via_third_party=False,
        )

    def add(self, event_type: str, at: str, **payload: Any) -> str:
        seq = len(self.facts) + 1
        event_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.name}/{seq}"))
        when = instant(at)
        self.facts.append(
            Fact(seq, when, when, event_id, event_type, SUBJECT, {"request_id": self.request_id, **payload})
        )
        return event_id

    def extend(self, at: str, notice_sent_at: str | None = None, reasons_stated: bool = True) -> str:
        extra = {"notice_sent_at": notice_sent_at} if notice_sent_at else {}
        return self.add("RequestExtended", at, reason="complexity", reasons_stated=reasons_stated, **extra)

    def row(self, as_of: str) -> RequestRow:
        row = evaluate_request(self.facts, instant(as_of), EW)
        assert row is not None
        return row


# -- ICO worked examples (7.1) ---------------------------------------------------------------------
def test_ico_1_jan_is_due_1_feb_counting_a_non_working_receipt_day() -> None:
    row = Request("2027-01-01").row("2027-01-05")  # 1 Jan 2027 is a bank holiday
    assert (row.received_date, row.clock_start_date) == (date(2027, 1, 1), date(2027, 1, 1))
    assert row.period_end_date == row.due_date == date(2027, 2, 1)
    assert row.status == "OPEN"


def test_ico_mon_25_nov_2024_is_due_fri_27_dec_2024() -> None:
    row = Request("2024-11-25").row("2024-11-26")
    assert row.period_end_date == date(2024, 12, 25)
    assert row.due_date == date(2024, 12, 27)


@pytest.mark.parametrize(
    ("received", "period_end", "due"),
    [
        ("2025-01-31", date(2025, 2, 28), date(2025, 2, 28)),  # no 31 Feb: last day
        ("2024-01-31", date(2024, 2, 29), date(2024, 2, 29)),  # leap year
        ("2026-01-31", date(2026, 2, 28), date(2026, 3, 2)),  # Sat 28 Feb rolls to Monday
    ],
)
def test_ico_31_jan_is_due_last_day_of_february_rolled_to_a_working_day(
    received: str, period_end: date, due: date
) -> None:
    row = Request(received).row(received)
    assert (row.period_end_date, row.due_date) == (period_end, due)


def test_bank_holiday_deadline_rolls_past_easter() -> None:
    row = Request("2026-03-03").row("2026-03-03")
    assert row.period_end_date == date(2026, 4, 3)  # Good Friday
    assert row.due_date == date(2026, 4, 7)  # after Easter Monday


def test_deadline_rolls_past_christmas_substitute_days() -> None:
    row = Request("2027-11-25").row("2027-11-25")
    assert row.period_end_date == date(2027, 12, 25)
    assert row.due_date == date(2027, 12, 29)


# -- rules basis (D11) -----------------------------------------------------------------------------
def test_request_received_before_5_feb_2026_is_flagged_ico_guidance_pre_art12a() -> None:
    assert Request("2026-02-04T23:59:59Z").row("2026-02-06").rules_basis == "ico_guidance_pre_art12a"
    assert Request("2026-02-05T00:00:00Z").row("2026-02-06").rules_basis == "uk_gdpr_art12a"


# -- BST ---------------------------------------------------------------------------------------------
def test_receipt_late_on_a_summer_evening_utc_counts_from_the_next_london_day() -> None:
    row = Request("2026-06-30T23:30:00Z").row("2026-07-02")
    assert row.received_date == date(2026, 7, 1)
    assert row.received_at == "2026-06-30T23:30:00.000000Z"
    assert row.period_end_date == date(2026, 8, 1)
    assert row.due_date == date(2026, 8, 3)


def test_receipt_just_before_london_midnight_in_summer_counts_that_day() -> None:
    assert Request("2026-06-30T22:59:59Z").row("2026-07-02").received_date == date(2026, 6, 30)


@pytest.mark.parametrize(
    ("received", "received_date"),
    [
        ("2026-03-28T23:30:00Z", date(2026, 3, 28)),  # GMT evening before BST starts
        ("2026-03-29T23:30:00Z", date(2026, 3, 30)),  # first BST evening
        ("2026-10-24T23:30:00Z", date(2026, 10, 25)),  # last BST evening
        ("2026-10-25T23:30:00Z", date(2026, 10, 25)),  # GMT again
        ("2027-03-28T23:30:00Z", date(2027, 3, 29)),
        ("2027-10-31T00:30:00Z", date(2027, 10, 31)),
        ("2028-03-26T23:30:00Z", date(2028, 3, 27)),
        ("2028-10-28T23:30:00Z", date(2028, 10, 29)),
    ],
)
def test_receipt_on_clock_change_days_uses_the_london_date(received: str, received_date: date) -> None:
    assert Request(received).row("2028-12-01").received_date == received_date


def test_as_of_late_summer_evening_utc_is_already_the_next_day_for_overdue() -> None:
    r = Request("2026-06-10")  # due Fri 10 Jul 2026
    assert r.row("2026-07-10T22:59:59Z").overdue is False
    late = r.row("2026-07-10T23:00:00Z")
    assert (late.overdue, late.overdue_by_days) == (True, 1)


# -- overdue and days remaining ----------------------------------------------------------------------
def test_request_is_not_overdue_on_its_due_date_and_has_zero_days_remaining() -> None:
    row = Request("2026-03-10").row("2026-04-10")
    assert row.due_date == date(2026, 4, 10)
    assert (row.overdue, row.overdue_by_days, row.days_remaining) == (False, 0, 0)


def test_request_is_overdue_the_day_after_its_due_date() -> None:
    row = Request("2026-03-10").row("2026-04-11")
    assert (row.overdue, row.overdue_by_days, row.days_remaining) == (True, 1, -1)


def test_days_remaining_counts_calendar_days_to_the_due_date() -> None:
    assert Request("2026-03-10").row("2026-03-31").days_remaining == 10


# -- clarification pauses (D4, D7) -------------------------------------------------------------------
def test_clarification_pause_spanning_a_month_end_is_counted_inclusively() -> None:
    r = Request("2026-03-10")
    r.add("ClarificationRequested", "2026-03-25")
    r.add("ClarificationReceived", "2026-04-02")
    row = r.row("2026-04-03")
    assert row.pauses[0].days_excluded == 9  # 25..31 March and 1..2 April
    assert row.paused_days_total == 9
    assert row.period_end_date == date(2026, 4, 19)  # 10 Apr + 9 days: a Sunday
    assert row.due_date == date(2026, 4, 20)
    assert row.status == "OPEN"


def test_open_clarification_pauses_the_clock_with_no_due_date() -> None:
    r = Request("2026-03-10")
    r.add("ClarificationRequested", "2026-03-25")
    row = r.row("2026-03-27")
    assert row.status == "PAUSED"
    assert (row.period_end_date, row.due_date, row.days_remaining) == (None, None, None)
    assert row.pauses[0].received_date is None
    assert row.pauses[0].days_excluded == 3  # 25, 26, 27 so far
    assert row.overdue is False


def test_clarification_requested_after_the_rolled_deadline_is_ignored() -> None:
    r = Request("2026-03-10")  # due Fri 10 Apr
    late = r.add("ClarificationRequested", "2026-04-13")
    row = r.row("2026-04-14")
    assert row.pauses[0].ignored is True
    assert row.pauses[0].days_excluded == 0
    assert row.ignored_clarification_event_ids == (late,)
    assert row.status == "OPEN"  # an ignored pause does not stop the clock
    assert row.due_date == date(2026, 4, 10)
    assert (row.overdue, row.overdue_by_days) == (True, 4)


def test_clarification_on_the_rolled_deadline_after_a_weekend_end_still_pauses() -> None:
    r = Request("2026-01-31")  # end Sat 28 Feb, due Mon 2 Mar
    r.add("ClarificationRequested", "2026-03-02")
    r.add("ClarificationReceived", "2026-03-04")
    row = r.row("2026-03-05")
    assert row.pauses[0].ignored is False
    assert row.period_end_date == date(2026, 3, 3)  # 28 Feb + 3 days (2..4 Mar)
    assert row.due_date == date(2026, 3, 3)


def test_pause_requested_before_the_clock_restarted_counts_only_from_the_relevant_date() -> None:
    r = Request("2026-03-02")
    r.add("ClarificationRequested", "2026-03-03")
    r.add("IdentityVerificationRequested", "2026-03-04", kind="identity")
    r.add("IdentityEvidenceReceived", "2026-03-06", kind="identity")
    r.add("ClarificationReceived", "2026-03-09")
    row = r.row("2026-03-10")
    assert row.clock_start_date == date(2026, 3, 6)
    assert row.pauses[0].days_excluded == 4  # 6..9 March
    assert row.period_end_date == date(2026, 4, 10)


def test_second_clarification_while_one_is_open_is_annotated_pause_already_open() -> None:
    r = Request("2026-03-10")
    r.add("ClarificationRequested", "2026-03-12")
    second = r.add("ClarificationRequested", "2026-03-13")
    r.add("ClarificationReceived", "2026-03-14")
    row = r.row("2026-03-15")
    assert row.annotations == {second: "PAUSE_ALREADY_OPEN"}
    assert len(row.pauses) == 1
    assert row.pauses[0].days_excluded == 3


def test_clarification_received_with_no_open_pause_is_annotated_clarification_not_open() -> None:
    r = Request("2026-03-10")
    stray = r.add("ClarificationReceived", "2026-03-12")
    row = r.row("2026-03-15")
    assert row.annotations == {stray: "CLARIFICATION_NOT_OPEN"}
    assert row.pauses == ()
    assert row.due_date == date(2026, 4, 10)


def test_two_successive_pauses_both_shift_the_deadline() -> None:
    r = Request("2026-03-10")
    r.add("ClarificationRequested", "2026-03-12")
    r.add("ClarificationReceived", "2026-03-13")
    r.add("ClarificationRequested", "2026-04-09")
    r.add("ClarificationReceived", "2026-04-09")
    row = r.row("2026-04-10")
    assert [p.days_excluded for p in row.pauses] == [2, 1]
    assert row.period_end_date == date(2026, 4, 13)


# -- identity, fee: restart, not pause (D6) ----------------------------------------------------------
def test_identity_restart_and_clarification_pause_give_different_due_dates() -> None:
    restart = Request("2026-01-20", name="restart")
    restart.add("IdentityVerificationRequested", "2026-01-25", kind="identity")
    restart.add("IdentityEvidenceReceived", "2026-02-05", kind="identity")
    pause = Request("2026-01-20", name="pause")
    pause.add("ClarificationRequested", "2026-01-25")
    pause.add("ClarificationReceived", "2026-02-05")
    restarted, paused = restart.row("2026-02-06"), pause.row("2026-02-06")
    assert restarted.clock_start_date == date(2026, 2, 5)
    assert restarted.due_date == date(2026, 3, 5)  # one month from the evidence date
    assert paused.clock_start_date == date(2026, 1, 20)
    assert paused.due_date == date(2026, 3, 4)  # 20 Feb + 12 days (25 Jan..5 Feb)


def test_awaiting_identity_has_no_clock() -> None:
    r = Request("2026-03-10")
    r.add("IdentityVerificationRequested", "2026-03-11", kind="identity")
    row = r.row("2026-05-01")
    assert row.status == "AWAITING_IDENTITY"
    assert (row.clock_start_date, row.due_date, row.period_end_date) == (None, None, None)
    assert (row.overdue, row.days_remaining) == (False, None)


def test_new_identity_request_after_the_clock_started_awaits_again_and_restarts() -> None:
    r = Request("2026-03-10")
    r.add("IdentityVerificationRequested", "2026-03-11", kind="identity")
    r.add("IdentityEvidenceReceived", "2026-03-12", kind="identity")
    r.add("IdentityVerificationRequested", "2026-03-20", kind="third_party_authority")
    assert r.row("2026-03-21").status == "AWAITING_IDENTITY"
    r.add("IdentityEvidenceReceived", "2026-03-25", kind="third_party_authority")
    row = r.row("2026-03-26")
    assert row.clock_start_date == date(2026, 3, 25)
    assert row.due_date == date(2026, 4, 27)  # 25 Apr is a Saturday


def test_identity_evidence_without_a_request_is_annotated_and_does_not_reset_the_clock() -> None:
    r = Request("2026-03-10")
    stray = r.add("IdentityEvidenceReceived", "2026-03-20", kind="identity")
    row = r.row("2026-03-21")
    assert row.annotations == {stray: "IDENTITY_NOT_REQUESTED"}
    assert row.clock_start_date == date(2026, 3, 10)


def test_fee_requested_awaits_payment_and_payment_restarts_the_clock() -> None:
    r = Request("2026-03-10")
    r.add("FeeRequested", "2026-03-11", amount_pence=1000, reason="further_copies")
    awaiting = r.row("2026-04-20")
    assert awaiting.status == "AWAITING_FEE"
    assert (awaiting.due_date, awaiting.overdue) == (None, False)
    r.add("FeePaid", "2026-04-21", amount_pence=1000)
    row = r.row("2026-04-22")
    assert row.status == "OPEN"
    assert row.clock_start_date == date(2026, 4, 21)
    assert row.due_date == date(2026, 5, 21)


def test_request_closed_while_awaiting_fee_has_no_on_time_verdict() -> None:
    r = Request("2026-03-10")
    r.add("FeeRequested", "2026-03-11", amount_pence=1000, reason="manifestly_excessive")
    r.add("RequestClosed", "2026-04-20", reason="fee_not_paid")
    row = r.row("2026-05-01")
    assert row.status == "CLOSED"
    assert (row.closed_date, row.closed_on_time, row.late_by_days, row.due_date) == (
        date(2026, 4, 20),
        None,
        None,
        None,
    )


# -- extension (7.4, D5) -----------------------------------------------------------------------------
def test_extension_from_31_jan_runs_to_30_apr_not_28_apr() -> None:
    r = Request("2025-01-31")
    r.extend("2025-02-10")
    row = r.row("2025-02-11")
    assert row.status == "EXTENDED"
    assert row.extension is not None and row.extension.valid
    assert row.period_end_date == row.due_date == date(2025, 4, 30)


def test_extension_notice_on_the_rolled_initial_deadline_is_valid() -> None:
    r = Request("2026-01-31")  # initial end Sat 28 Feb, rolled to Mon 2 Mar
    r.extend("2026-03-02")
    row = r.row("2026-03-03")
    assert row.extension is not None
    assert (row.extension.notice_date, row.extension.valid) == (date(2026, 3, 2), True)
    assert row.due_date == date(2026, 4, 30)
    assert row.status == "EXTENDED"


def test_extension_notice_one_day_after_the_rolled_deadline_is_invalid_and_ignored() -> None:
    r = Request("2026-01-31")
    ext = r.extend("2026-03-03")
    row = r.row("2026-03-04")
    assert row.extension is not None and row.extension.valid is False
    assert row.extension_event_id == ext
    assert row.status == "OPEN"
    assert row.due_date == date(2026, 3, 2)
    assert (row.overdue, row.overdue_by_days) == (True, 2)


def test_extension_notice_sent_at_is_judged_by_its_london_date_not_the_event_time() -> None:
    in_time = Request("2026-05-31")  # due Tue 30 Jun 2026 (BST)
    in_time.extend("2026-07-01T09:00:00Z", notice_sent_at="2026-06-30T22:30:00Z")
    late = Request("2026-05-31", name="late")
    late.extend("2026-07-01T09:00:00Z", notice_sent_at="2026-06-30T23:30:00Z")  # 1 July in London
    valid, invalid = in_time.row("2026-07-02").extension, late.row("2026-07-02").extension
    assert valid is not None and valid.notice_date == date(2026, 6, 30) and valid.valid
    assert invalid is not None and invalid.notice_date == date(2026, 7, 1) and not invalid.valid


def test_second_extension_is_annotated_extension_already_applied_and_has_no_effect() -> None:
    r = Request("2026-03-10")
    r.extend("2026-03-20")
    second = r.extend("2026-03-25")
    row = r.row("2026-03-26")
    assert row.annotations == {second: "EXTENSION_ALREADY_APPLIED"}
    assert row.extension is not None and row.extension.notice_date == date(2026, 3, 20)
    assert row.due_date == date(2026, 6, 10)


def test_extension_while_paused_is_valid_when_the_pause_started_first() -> None:
    r = Request("2026-03-10")  # unpaused initial due: Fri 10 Apr
    r.add("ClarificationRequested", "2026-04-01")
    r.extend("2026-04-20")
    paused = r.row("2026-04-21")
    assert paused.status == "PAUSED"
    assert paused.extension is not None and paused.extension.valid
    r.add("ClarificationReceived", "2026-04-25")
    row = r.row("2026-04-26")
    assert row.status == "EXTENDED"
    assert row.pauses[0].days_excluded == 25
    assert row.period_end_date == date(2026, 7, 5)  # 10 Jun + 25 days: a Sunday
    assert row.due_date == date(2026, 7, 6)


def test_extended_deadline_is_shifted_by_the_same_pauses_then_rolled() -> None:
    r = Request("2026-03-10")
    r.add("ClarificationRequested", "2026-03-12")
    r.add("ClarificationReceived", "2026-03-13")
    r.extend("2026-03-20")
    row = r.row("2026-03-21")
    assert row.period_end_date == date(2026, 6, 12)
    assert row.due_date == date(2026, 6, 12)


def test_extension_given_while_awaiting_identity_is_not_late() -> None:
    r = Request("2026-03-10")
    r.add("IdentityVerificationRequested", "2026-03-11", kind="identity")
    r.extend("2026-04-20")
    row = r.row("2026-04-21")
    assert row.status == "AWAITING_IDENTITY"
    assert row.extension is not None and row.extension.valid


# -- closure -------------------------------------------------------------------------------------------
def test_request_fulfilled_on_its_due_date_is_on_time() -> None:
    r = Request("2026-03-10")
    r.add("RequestFulfilled", "2026-04-10", outcome="full")
    row = r.row("2026-05-01")
    assert row.status == "FULFILLED"
    assert (row.closed_date, row.closed_on_time, row.late_by_days) == (date(2026, 4, 10), True, 0)
    assert (row.overdue, row.days_remaining) == (False, None)
    assert row.due_date == date(2026, 4, 10)


def test_request_fulfilled_after_its_due_date_is_late_by_calendar_days() -> None:
    r = Request("2026-03-10")
    r.add("RequestFulfilled", "2026-04-14T23:30:00Z", outcome="partial")  # 15 Apr in London
    row = r.row("2026-05-01")
    assert row.status == "PARTIALLY_FULFILLED"
    assert row.closed_at == "2026-04-14T23:30:00.000000Z"
    assert (row.closed_date, row.closed_on_time, row.late_by_days) == (date(2026, 4, 15), False, 5)


@pytest.mark.parametrize(
    ("event_type", "payload", "status"),
    [
        ("RequestRefused", {"reason": "manifestly_unfounded", "complaint_rights_notified": True}, "REFUSED"),
        ("RequestWithdrawn", {}, "WITHDRAWN"),
        ("RequestClosed", {"reason": "duplicate_request"}, "CLOSED"),
    ],
)
def test_closing_events_set_their_status(event_type: str, payload: dict[str, Any], status: str) -> None:
    r = Request("2026-03-10")
    r.add(event_type, "2026-03-20", **payload)
    assert r.row("2026-03-21").status == status


def test_events_after_closure_are_annotated_request_already_closed_and_have_no_effect() -> None:
    r = Request("2026-03-10")
    r.add("RequestWithdrawn", "2026-03-15")
    ext = r.extend("2026-03-16")
    again = r.add("RequestFulfilled", "2026-03-17", outcome="full")
    row = r.row("2026-03-18")
    assert row.annotations == {ext: "REQUEST_ALREADY_CLOSED", again: "REQUEST_ALREADY_CLOSED"}
    assert row.status == "WITHDRAWN"
    assert row.extension is None
    assert row.due_date == date(2026, 4, 10)


def test_request_closed_while_paused_has_no_due_date() -> None:
    r = Request("2026-03-10")
    r.add("ClarificationRequested", "2026-03-12")
    r.add("RequestClosed", "2026-04-30", reason="no_clarification_received")
    row = r.row("2026-05-01")
    assert (row.status, row.due_date, row.closed_on_time) == ("CLOSED", None, None)
    assert row.pauses[0].days_excluded == 50  # 12 Mar .. 30 Apr


# -- as-of ---------------------------------------------------------------------------------------------
def test_events_after_as_of_are_ignored_and_facts_may_come_in_any_order() -> None:
    r = Request("2026-03-10")
    r.add("RequestFulfilled", "2026-03-20", outcome="full")
    before = evaluate_request(list(reversed(r.facts)), instant("2026-03-19"), EW)
    assert before is not None and before.status == "OPEN"
    assert evaluate_request(r.facts, instant("2026-03-09"), EW) is None


def test_subject_can_be_resolved_by_the_caller() -> None:
    r = Request("2026-03-10")
    row = evaluate_request(r.facts, instant("2026-03-11"), EW, resolve=lambda s: "survivor")
    assert row is not None and row.subject_id == "survivor"


# -- JSON and the queue order --------------------------------------------------------------------------
def test_row_json_has_exactly_the_6_4_columns_with_local_dates_and_utc_instants() -> None:
    r = Request("2026-06-30T23:30:00Z")
    r.add("ClarificationRequested", "2026-07-02")
    r.add("ClarificationReceived", "2026-07-03")
    r.extend("2026-07-10")
    out = r.row("2026-07-11").to_json()
    assert list(out) == [
        "request_id",
        "subject_id",
        "request_type",
        "channel",
        "received_at",
        "received_date",
        "rules_basis",
        "status",
        "clock_start_date",
        "pauses",
        "paused_days_total",
        "extension",
        "period_end_date",
        "due_date",
        "days_remaining",
        "overdue",
        "overdue_by_days",
        "closed_at",
        "closed_date",
        "closed_on_time",
        "late_by_days",
    ]
    assert out["received_at"] == "2026-06-30T23:30:00.000000Z"
    assert out["received_date"] == "2026-07-01"
    assert out["pauses"] == [
        {"requested_date": "2026-07-02", "received_date": "2026-07-03", "days_excluded": 2, "ignored": False}
    ]
    assert out["extension"] == {"notice_date": "2026-07-10", "reason": "complexity", "valid": True}
    assert out["period_end_date"] == "2026-10-03"
    assert out["due_date"] == "2026-10-05"


def _row_at(received: str, as_of: str, name: str, *events: tuple[str, str]) -> RequestRow:
    r = Request(received, name=name)
    for event_type, at in events:
        r.add(event_type, at, kind="identity")
    return r.row(as_of)


def test_queue_sorts_overdue_first_then_due_date_then_paused_and_awaiting_last() -> None:
    as_of = "2026-04-15"
    overdue_old = _row_at("2026-03-01", as_of, "a")  # due 1 Apr
    overdue_new = _row_at("2026-03-10", as_of, "b")  # due 10 Apr
    soon = _row_at("2026-03-20", as_of, "c")  # due 20 Apr
    later = _row_at("2026-04-01", as_of, "d")  # due 1 May
    paused = _row_at("2026-03-02", as_of, "e", ("ClarificationRequested", "2026-03-03"))
    awaiting = _row_at("2026-03-01", as_of, "f", ("IdentityVerificationRequested", "2026-03-02"))
    done = _row_at("2026-02-20", as_of, "g", ("RequestWithdrawn", "2026-02-21"))
    ordered = sort_queue([done, later, paused, soon, awaiting, overdue_new, overdue_old])
    assert [row.request_id for row in ordered] == [
        row.request_id for row in (overdue_old, overdue_new, soon, later, awaiting, paused, done)
    ]


def test_queue_ties_break_by_received_at_then_request_id() -> None:
    a = _row_at("2026-03-10T09:00:00Z", "2026-03-11", "x")
    b = _row_at("2026-03-10T10:00:00Z", "2026-03-11", "y")
    assert sort_queue([b, a]) == [a, b]


# -- properties -------------------------------------------------------------------------------------------
received_dates = st.dates(min_value=date(2020, 1, 1), max_value=date(2029, 12, 31))


def _simple(received: date, pauses: list[tuple[int, int]], extension_after: int | None) -> RequestRow:
    r = Request(received.isoformat())
    for start, length in pauses:
        requested = received + timedelta(days=start)
        r.add("ClarificationRequested", requested.isoformat())
        r.add("ClarificationReceived", (requested + timedelta(days=length)).isoformat())
    if extension_after is not None:
        r.extend((received + timedelta(days=extension_after)).isoformat())
    return r.row((received + timedelta(days=400)).isoformat())


pause_lists = st.lists(st.tuples(st.integers(0, 40), st.integers(0, 20)), max_size=3).map(
    lambda ps: _chain(ps)
)


def _chain(ps: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Make pauses successive: each starts after the previous one ended."""
    out, cursor = [], 0
    for gap, length in ps:
        out.append((cursor + gap, length))
        cursor += gap + length + 1
    return out


@settings(max_examples=150, deadline=None)
@given(received_dates, pause_lists, st.one_of(st.none(), st.integers(0, 60)))
def test_due_date_is_never_before_the_receipt_date(
    received: date, pauses: list[tuple[int, int]], ext: int | None
) -> None:
    row = _simple(received, pauses, ext)
    assert row.due_date is not None and row.due_date >= row.received_date
    assert EW.is_working_day(row.due_date)


@settings(max_examples=150, deadline=None)
@given(received_dates, pause_lists)
def test_adding_pauses_never_makes_the_due_date_earlier(
    received: date, pauses: list[tuple[int, int]]
) -> None:
    without = _simple(received, [], None)
    with_pauses = _simple(received, pauses, None)
    assert with_pauses.due_date is not None and without.due_date is not None
    assert with_pauses.due_date >= without.due_date


@settings(max_examples=150, deadline=None)
@given(received_dates, pause_lists, st.integers(0, 60))
def test_extended_due_date_is_never_before_the_initial_due_date(
    received: date, pauses: list[tuple[int, int]], ext: int
) -> None:
    initial = _simple(received, pauses, None)
    extended = _simple(received, pauses, ext)
    assert extended.due_date is not None and initial.due_date is not None
    assert extended.due_date >= initial.due_date
    assert extended.extension is not None
    if extended.extension.valid:
        assert extended.due_date > initial.due_date
    else:
        assert extended.due_date == initial.due_date
