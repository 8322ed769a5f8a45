"""Notices (spec 6.9) and retention (6.7) as fleet-wide views, on SQLite and on real PostgreSQL.

Issue 4: the views answer any ``as_of`` from their own tables (no store replay), exactly as the pure
rules do on the full history, resolve merges at query time, survive a rebuild unchanged and never hold
a personal value.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from conftest import FIXED_NOW, Clock
from test_store_contract import _personal_strings

from ledger.bootstrap import Ledger
from ledger.calendars import load_calendar
from ledger.domain.obligations import evaluate_notices, evaluate_retention
from ledger.sample import generate_events
from ledger.store.messages import Message
from ledger.testing import collected, event, new_id
from projections.alerts import AlertsView
from projections.context import ProjectionContext
from projections.notices import NoticesView, list_notices
from projections.reading import ReadContext
from projections.requests import RequestsView
from projections.retention import RetentionView, list_retention, open_erasure_requests
from projections.runner import ProjectionRunner

# Fixed subject ids, so the fleet-wide order (by resolved subject) is known in advance.
S1, S2, S3, S4, S5 = (f"00000000-0000-4000-8000-00000000000{n}" for n in range(1, 6))
COLLECTED_AT = "2026-03-10T10:00:00Z"


def _messages(events: list[dict[str, Any]]) -> list[Message]:
    return [Message("test", 0, i, event=e, raw=json.dumps(e).encode()) for i, e in enumerate(events)]


def _ingest(ledger: Ledger, events: list[dict[str, Any]]) -> None:
    result = ledger.ingest_messages(_messages(events))
    assert result.dead_letters == []


def _runner(ledger: Ledger, *extra: Any) -> ProjectionRunner:
    ctx = ProjectionContext(ledger.store, ledger.codes, load_calendar())
    runner = ProjectionRunner(ledger.store, [NoticesView(), RetentionView(), *extra], ctx)
    runner.catch_up()
    return runner


def _at(ledger: Ledger, runner: ProjectionRunner, when: str, query: Callable[..., Any], **kw: Any) -> Any:
    with ledger.store.read() as cur:
        rctx = ReadContext(
            store=ledger.store, keys=ledger.keys, ctx=runner.ctx, as_of=datetime.fromisoformat(when), cur=cur
        )
        return [row.to_json() for row in query(cur, rctx, **kw)]


def _art14(subject: str, *, at: str = COLLECTED_AT, exemption: str | None = None) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "data_items": [{"category": "credit_history", "field": "score", "value": "fictional-band-C"}],
        "source": {"type": "third_party", "name": "credit_reference_agency"},
        "purposes": [{"purpose": "agreement_performance", "lawful_basis": "contract"}],
        "processing_means": "automated",
    }
    if exemption is not None:
        payload["art14_exemption"] = exemption
    return event("DataCollected", subject, payload, occurred_at=at)


def _notice(subject: str, at: str) -> dict[str, Any]:
    payload = {"notice_version": "2026.1", "article": "art14", "topics": ["general"], "channel": "email"}
    return event("PrivacyNoticeProvided", subject, payload, occurred_at=at)


def _shared(subject: str, at: str) -> dict[str, Any]:
    recipient = {
        "recipient_id": "FICT-BUREAU-1",
        "name": "Fictional Bureau Ltd",
        "category": "credit_reference_agency",
        "role": "controller",
        "country": "GB",
    }
    payload = {
        "recipient": recipient,
        "categories": ["credit_history"],
        "purpose": "agreement_performance",
        "lawful_basis": "contract",
    }
    return event("DataShared", subject, payload, occurred_at=at)


def _emailed(subject: str, at: str) -> dict[str, Any]:
    payload = {
        "purpose": "agreement_performance",
        "lawful_basis": "contract",
        "categories": ["contact_details"],
        "channel": "email",
    }
    return event("DataUsed", subject, payload, occurred_at=at)


def _merged(survivor: str, merged: str, at: str) -> dict[str, Any]:
    payload = {"surviving_subject_id": survivor, "merged_subject_id": merged, "reason": "duplicate_record"}
    return event("SubjectsMerged", survivor, payload, occurred_at=at)


def _schedule(subject: str, until: str, *, at: str = "2026-01-10T10:00:00Z") -> dict[str, Any]:
    payload = {
        "categories": ["contact_details"],
        "rule_id": "R-CONTACT-1",
        "trigger_date": "2026-01-10",
        "retain_until": until,
    }
    return event("RetentionScheduleAssigned", subject, payload, occurred_at=at)


def _hold(subject: str, hold_id: str, at: str) -> dict[str, Any]:
    payload = {
        "hold_id": hold_id,
        "categories": ["contact_details"],
        "reason": "litigation",
        "matter_ref": "MATTER-0042",
    }
    return event("LegalHoldPlaced", subject, payload, occurred_at=at)


def _notice_row(
    collection: dict[str, Any], subject: str, due: str, status: str, **instants: str
) -> dict[str, Any]:
    return {
        "collection_event_id": collection["event_id"],
        "subject_id": subject,
        "collected_date": collection["occurred_at"][:10],
        "notice_due_date": due,
        "status": status,
        "first_communication_at": instants.get("communication"),
        "first_disclosure_at": instants.get("disclosure"),
        "notice_provided_at": instants.get("notice"),
    }


def _retention_row(subject: str, status: str, past: int, holds: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "subject_id": subject,
        "category": "contact_details",
        "retain_until": "2026-06-30",
        "rule_id": "R-CONTACT-1",
        "on_legal_hold": bool(holds),
        "hold_ids": list(holds),
        "status": status,
        "days_past_retention": past,
    }


# -- 6.9 notices -------------------------------------------------------------------------------------


def test_art14_notice_is_pending_until_a_month_has_passed_then_overdue(ledger: Ledger):
    collection = _art14(S1)
    _ingest(ledger, [collection])
    runner = _runner(ledger)
    assert _at(ledger, runner, "2026-03-09T12:00:00Z", list_notices) == []
    pending = _notice_row(collection, S1, "2026-04-10", "PENDING")
    assert _at(ledger, runner, "2026-03-20T12:00:00Z", list_notices) == [pending]
    # 23:59:59 on the due date in London (BST) is still in time; the next London day is overdue.
    assert _at(ledger, runner, "2026-04-10T22:59:59Z", list_notices) == [pending]
    overdue = _notice_row(collection, S1, "2026-04-10", "OVERDUE")
    assert _at(ledger, runner, "2026-04-10T23:00:00Z", list_notices) == [overdue]
    assert _at(ledger, runner, "2026-04-10T23:00:00Z", list_notices, status="PENDING") == []


def test_notice_statuses_across_the_fleet(ledger: Ledger):
    exempt = _art14(S1, exemption="disproportionate_effort")
    in_time = _art14(S2)
    late = _art14(S3)
    disclosed = _art14(S4)
    emailed = _art14(S5)
    _ingest(
        ledger,
        [
            exempt,
            in_time,
            _notice(S2, "2026-03-25T09:00:00Z"),
            late,
            _notice(S3, "2026-04-20T09:00:00Z"),
            disclosed,
            _shared(S4, "2026-03-15T12:00:00Z"),
            _notice(S4, "2026-03-15T14:00:00Z"),
            emailed,
            _notice(S5, "2026-03-12T08:00:00Z"),
            _emailed(S5, "2026-03-12T09:00:00Z"),
        ],
    )
    runner = _runner(ledger)
    disclosure = "2026-03-15T12:00:00.000000Z"
    assert _at(ledger, runner, "2026-03-15T11:00:00Z", list_notices) == [
        _notice_row(exempt, S1, "2026-04-10", "EXEMPT"),
        _notice_row(in_time, S2, "2026-04-10", "PENDING"),
        _notice_row(late, S3, "2026-04-10", "PENDING"),
        _notice_row(disclosed, S4, "2026-04-10", "PENDING"),
        _notice_row(
            emailed,
            S5,
            "2026-03-12",
            "SATISFIED",
            communication="2026-03-12T09:00:00.000000Z",
            notice="2026-03-12T08:00:00.000000Z",
        ),
    ]
    # The first disclosure brings the due date forward and, without a notice before it, is overdue.
    assert _at(ledger, runner, "2026-03-15T12:00:00Z", list_notices, subject=S4) == [
        _notice_row(disclosed, S4, "2026-03-15", "OVERDUE", disclosure=disclosure)
    ]
    assert _at(ledger, runner, "2026-04-15T12:00:00Z", list_notices, status="OVERDUE") == [
        _notice_row(late, S3, "2026-04-10", "OVERDUE")
    ]
    statuses = [
        (r["subject_id"], r["status"]) for r in _at(ledger, runner, "2026-05-01T00:00:00Z", list_notices)
    ]
    assert statuses == [
        (S1, "EXEMPT"),
        (S2, "SATISFIED"),
        (S3, "SATISFIED_LATE"),
        (S4, "SATISFIED_LATE"),
        (S5, "SATISFIED"),
    ]


def test_notice_to_the_survivor_satisfies_a_collection_on_the_merged_subject(ledger: Ledger):
    collection = _art14(S1)
    _ingest(
        ledger, [collection, _notice(S2, "2026-03-20T09:00:00Z"), _merged(S2, S1, "2026-04-01T09:00:00Z")]
    )
    runner = _runner(ledger)
    expected = [_notice_row(collection, S2, "2026-04-10", "SATISFIED", notice="2026-03-20T09:00:00.000000Z")]
    assert _at(ledger, runner, "2026-05-01T00:00:00Z", list_notices) == expected
    assert _at(ledger, runner, "2026-05-01T00:00:00Z", list_notices, subject=S1) == expected
    assert _at(ledger, runner, "2026-05-01T00:00:00Z", list_notices, subject=S2) == expected


def test_merge_after_the_views_applied_the_rows_moves_them_to_the_survivor(ledger: Ledger):
    collection = _art14(S1)
    _ingest(ledger, [collection])
    runner = _runner(ledger)
    assert _at(ledger, runner, "2026-05-01T00:00:00Z", list_notices)[0]["subject_id"] == S1
    _ingest(ledger, [_shared(S2, "2026-03-11T09:00:00Z"), _merged(S2, S1, "2026-04-01T09:00:00Z")])
    runner.catch_up()
    assert _at(ledger, runner, "2026-05-01T00:00:00Z", list_notices) == [
        _notice_row(collection, S2, "2026-03-11", "OVERDUE", disclosure="2026-03-11T09:00:00.000000Z")
    ]


# -- 6.7 retention -----------------------------------------------------------------------------------


def test_retention_is_retained_then_due_then_held_while_a_hold_is_active(ledger: Ledger):
    hold = new_id()
    _ingest(
        ledger,
        [
            collected(
                S1,
                [("contact_details", "email", "rita.retain@example.com")],
                occurred_at="2026-01-10T09:00:00Z",
            ),
            _schedule(S1, "2026-06-30"),
            _hold(S1, hold, "2026-07-10T09:00:00Z"),
            event("LegalHoldReleased", S1, {"hold_id": hold}, occurred_at="2026-08-01T09:00:00Z"),
        ],
    )
    runner = _runner(ledger)
    assert _at(ledger, runner, "2026-01-09T00:00:00Z", list_retention) == []
    assert _at(ledger, runner, "2026-06-30T22:59:59Z", list_retention) == [_retention_row(S1, "RETAIN", 0)]
    assert _at(ledger, runner, "2026-07-02T12:00:00Z", list_retention) == [_retention_row(S1, "DUE", 2)]
    assert _at(ledger, runner, "2026-07-15T12:00:00Z", list_retention) == [
        _retention_row(S1, "HELD", 15, (hold,))
    ]
    assert _at(ledger, runner, "2026-08-02T12:00:00Z", list_retention, status="DUE") == [
        _retention_row(S1, "DUE", 33)
    ]
    assert _at(ledger, runner, "2026-08-02T12:00:00Z", list_retention, status="HELD") == []


def test_retention_is_erased_after_the_shred_and_due_again_once_recollected(ledger: Ledger, clock: Clock):
    _ingest(
        ledger,
        [
            collected(
                S1,
                [("contact_details", "email", "eddie.erased@example.com")],
                occurred_at="2026-01-10T09:00:00Z",
            ),
            _schedule(S1, "2026-06-30"),
        ],
    )
    clock.now = datetime.fromisoformat("2026-09-01T12:00:00Z")
    assert ledger.erase(S1).dead_letters == []
    clock.now = FIXED_NOW
    runner = _runner(ledger)
    assert _at(ledger, runner, "2026-09-02T12:00:00Z", list_retention) == [_retention_row(S1, "ERASED", 64)]
    # Before the erasure instant the obligation stood as it was (the A25 history needs it); no value
    # is read here, so nothing is un-erased.
    assert _at(ledger, runner, "2026-08-31T12:00:00Z", list_retention) == [_retention_row(S1, "DUE", 62)]
    _ingest(
        ledger,
        [
            collected(
                S1,
                [("contact_details", "email", "eddie.back@example.com")],
                occurred_at="2026-09-10T09:00:00Z",
            )
        ],
    )
    runner.catch_up()
    assert _at(ledger, runner, "2026-09-11T12:00:00Z", list_retention) == [_retention_row(S1, "DUE", 73)]
    assert _at(ledger, runner, "2026-09-05T12:00:00Z", list_retention) == [_retention_row(S1, "ERASED", 67)]


def test_erasure_under_a_hold_is_held_then_erased_when_the_hold_is_released(ledger: Ledger, clock: Clock):
    hold = new_id()
    _ingest(
        ledger,
        [
            collected(
                S1,
                [("contact_details", "email", "harry.held@example.com")],
                occurred_at="2026-01-10T09:00:00Z",
            ),
            _schedule(S1, "2026-06-30"),
            _hold(S1, hold, "2026-07-10T09:00:00Z"),
        ],
    )
    clock.now = datetime.fromisoformat("2026-09-01T12:00:00Z")
    assert ledger.erase(S1).dead_letters == []
    clock.now = FIXED_NOW
    _ingest(ledger, [event("LegalHoldReleased", S1, {"hold_id": hold}, occurred_at="2026-09-20T09:00:00Z")])
    runner = _runner(ledger)
    assert _at(ledger, runner, "2026-09-10T12:00:00Z", list_retention) == [
        _retention_row(S1, "HELD", 72, (hold,))
    ]
    assert _at(ledger, runner, "2026-09-21T12:00:00Z", list_retention) == [_retention_row(S1, "ERASED", 83)]


def test_retention_of_a_merged_subject_is_reported_under_the_survivor(ledger: Ledger):
    _ingest(ledger, [_schedule(S1, "2026-06-30"), _merged(S2, S1, "2026-02-01T09:00:00Z")])
    runner = _runner(ledger)
    expected = [_retention_row(S2, "DUE", 1)]
    assert _at(ledger, runner, "2026-07-01T12:00:00Z", list_retention) == expected
    assert _at(ledger, runner, "2026-07-01T12:00:00Z", list_retention, subject=S1) == expected
    assert _at(ledger, runner, "2026-07-01T12:00:00Z", list_retention, subject=new_id()) == []


def test_open_erasure_requests_of_a_subject(ledger: Ledger):
    erasure, access = new_id(), new_id()

    def received(request: str, kind: str) -> dict[str, Any]:
        payload = {"request_id": request, "request_type": kind, "channel": "email", "via_third_party": False}
        return event("RightsRequestReceived", S1, payload, occurred_at="2026-03-02T09:00:00Z")

    fulfilled = event(
        "RequestFulfilled", S1, {"request_id": erasure, "outcome": "full"}, occurred_at="2026-03-20T09:00:00Z"
    )
    _ingest(
        ledger,
        [
            received(erasure, "erasure"),
            received(access, "access"),
            _merged(S1, S2, "2026-03-05T09:00:00Z"),
            fulfilled,
        ],
    )
    runner = _runner(ledger, RequestsView(), AlertsView())
    open_then = _at(ledger, runner, "2026-03-10T12:00:00Z", open_erasure_requests, subject=S2)
    assert [(r["request_id"], r["subject_id"], r["status"]) for r in open_then] == [(erasure, S1, "OPEN")]
    assert _at(ledger, runner, "2026-03-21T12:00:00Z", open_erasure_requests, subject=S1) == []


# -- whole fleet -------------------------------------------------------------------------------------


def _table_rows(ledger: Ledger) -> list[list[dict[str, Any]]]:
    with ledger.store.read() as cur:
        return [
            cur.execute(f"SELECT * FROM {{t:{table}}} ORDER BY seq").all()
            for table in (*NoticesView.tables, *RetentionView.tables)
        ]


@pytest.fixture(scope="module")
def sample() -> list[dict[str, Any]]:
    """Fictional sample events of 60 subjects."""
    return generate_events(seed=3, subjects=60)


SAMPLE_AS_OF = ("2026-03-01T00:00:00Z", "2026-06-15T12:00:00Z", "2026-11-01T12:00:00Z")


def test_sample_fleet_answers_equal_the_rules_on_the_replayed_history(
    ledger: Ledger, sample: list[dict[str, Any]]
):
    _ingest(ledger, sample)
    runner = _runner(ledger)
    subjects = sorted({e["subject_id"] for e in sample if e.get("subject_id")})
    seen_statuses: set[str] = set()
    for when in SAMPLE_AS_OF:
        as_of = datetime.fromisoformat(when)
        with ledger.store.read() as cur:
            rctx = ReadContext(store=ledger.store, keys=ledger.keys, ctx=runner.ctx, as_of=as_of, cur=cur)
            notices, retention = list_notices(cur, rctx), list_retention(cur, rctx)
            expected_notices, expected_retention = [], []
            for survivor in sorted({rctx.resolve(s) for s in subjects}):
                facts = rctx.subject_facts(survivor)
                expected_notices += evaluate_notices(facts, as_of, subject_id=survivor)
                expected_retention += evaluate_retention(facts, as_of, subject_id=survivor)
            assert notices == expected_notices
            assert retention == expected_retention
            for subject in subjects:
                survivor = rctx.resolve(subject)
                assert list_notices(cur, rctx, subject=subject) == [
                    r for r in notices if r.subject_id == survivor
                ]
                assert list_retention(cur, rctx, subject=subject) == [
                    r for r in retention if r.subject_id == survivor
                ]
        seen_statuses |= {r.status for r in notices} | {r.status for r in retention}
    assert {"SATISFIED", "EXEMPT", "OVERDUE", "RETAIN", "DUE", "ERASED"} <= seen_statuses


def test_rebuild_gives_identical_rows_and_answers(ledger: Ledger, sample: list[dict[str, Any]]):
    _ingest(ledger, sample)
    runner = _runner(ledger)

    def answers() -> list[Any]:
        return [
            (_at(ledger, runner, when, list_notices), _at(ledger, runner, when, list_retention))
            for when in SAMPLE_AS_OF
        ]

    before_rows, before = _table_rows(ledger), answers()
    assert runner.rebuild() > 0
    assert _table_rows(ledger) == before_rows
    assert answers() == before


def test_no_view_table_holds_a_personal_value_of_the_sample(ledger: Ledger, sample: list[dict[str, Any]]):
    _ingest(ledger, sample)
    _runner(ledger)
    secrets = _personal_strings(sample)
    assert len(secrets) > 100
    rows = _table_rows(ledger)
    assert sum(len(t) for t in rows) > 100
    text = json.dumps(rows, default=str)
    assert sorted(s for s in secrets if s in text) == []
    for table in rows:
        for row in table:
            assert '"enc"' not in row["payload"]
