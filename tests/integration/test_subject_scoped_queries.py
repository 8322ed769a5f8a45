"""A subject's answers (alerts, requests, complaints, disclosures, notices, retention) are read for its
merge family alone, and are exactly the fleet's answer filtered by subject (spec 6.2, 6.4, 6.5, 6.7,
6.9, 6.10): the stored alerts and the as-of rules (A16, A17, A25, A26) of every subject of the family,
whichever of them is named, at "now" and at a past instant.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from ledger.bootstrap import Ledger
from ledger.sample import generate_events
from ledger.store.messages import Message
from ledger.testing import event
from projections.alerts import alert_row
from projections.alerts_query import AS_OF_CODES
from projections.reading import ReadContext
from projections.service import Projections

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PAST = datetime(2026, 6, 15, 9, 30, tzinfo=UTC)
# The queries a subject export (and ``query VIEW --subject``) asks, with the filters it passes.
QUESTIONS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("alerts", {}),
    ("requests", {"include_closed": True}),
    ("complaints", {}),
    ("disclosures", {}),
    ("notices", {}),
    ("retention", {}),
)


@pytest.fixture
def sample(ledger: Ledger) -> Iterator[tuple[Ledger, Projections, list[str]]]:
    """A sample ledger with merges (views current) and every subject it holds, merged-away ones included."""
    events = generate_events(seed=3, subjects=90)
    result = ledger.ingest_messages([Message("test", 0, i, event=e) for i, e in enumerate(events)])
    assert result.stored == len(events)
    projections = Projections(ledger.store, ledger.keys, ledger.codes)
    projections.catch_up()
    # A subject with a stored request alert (A18-A21: its rows keep the subject they were raised for)
    # merged into one with an as-of alert: a family whose merged-away member holds alerts of its own.
    alerts = projections.query("alerts", as_of=NOW)
    request_codes = {
        "CLARIFICATION_AFTER_DEADLINE",
        "EXTENSION_REASONS_NOT_STATED",
        "LATE_EXTENSION_NOTICE",
        "REFUSAL_WITHOUT_COMPLAINT_RIGHTS",
    }
    merged = next(a["subject_id"] for a in alerts if a["code"] in request_codes)
    survivor = next(
        a["subject_id"]
        for a in alerts
        if a["code"] == "RETENTION_PERIOD_EXCEEDED" and a["subject_id"] != merged
    )
    # And a complainant (A16's rows) merged into the same survivor.
    complainant = next(
        c["subject_id"]
        for c in projections.query("complaints", as_of=NOW)
        if c["subject_id"] not in (merged, survivor)
    )
    at = max(e["occurred_at"] for e in events)
    merges = [
        event(
            "SubjectsMerged",
            survivor,
            {"surviving_subject_id": survivor, "merged_subject_id": other, "reason": "duplicate_record"},
            occurred_at=at,
        )
        for other in (merged, complainant)
    ]
    stored = ledger.ingest_messages(
        [Message("test", 0, len(events) + i, event=m) for i, m in enumerate(merges)]
    )
    assert stored.stored == 2
    projections.catch_up()
    subjects = sorted({str(e["subject_id"]) for e in events if e.get("subject_id")})
    yield ledger, projections, subjects


def _resolver(ledger: Ledger, projections: Projections, as_of: datetime) -> Iterator[Any]:
    with ledger.store.read() as cur:
        rctx = ReadContext(store=ledger.store, keys=ledger.keys, ctx=projections.ctx, as_of=as_of, cur=cur)
        yield rctx


@pytest.mark.parametrize("as_of", [NOW, PAST], ids=["now", "past"])
def test_a_subjects_answers_are_the_fleet_answers_of_its_merge_family(
    sample: tuple[Ledger, Projections, list[str]], as_of: datetime
) -> None:
    ledger, projections, subjects = sample
    whole = {view: projections.query(view, as_of=as_of, **f) for view, f in QUESTIONS}
    seen_codes: set[str] = set()
    merged_with_alerts = 0
    for rctx in _resolver(ledger, projections, as_of):
        merged = [s for s in subjects if rctx.resolve(s) != s]
        assert merged, "the sample merges subjects"
        for subject in subjects:
            survivor = rctx.resolve(subject)
            for view, filters in QUESTIONS:
                expected = [
                    row
                    for row in whole[view]
                    if row["subject_id"] is not None and rctx.resolve(row["subject_id"]) == survivor
                ]
                got = projections.query(view, as_of=as_of, subject=subject, **filters)
                assert got == expected, (view, subject)
                if view == "alerts":
                    seen_codes |= {a["code"] for a in got}
                    if subject in merged and got:
                        merged_with_alerts += 1
    # Not vacuous: the as-of rules and merged-away subjects with alerts are among those compared.
    if as_of == NOW:
        assert set(AS_OF_CODES) & seen_codes >= {"REQUEST_OVERDUE", "RETENTION_PERIOD_EXCEEDED"}
        assert merged_with_alerts > 0


def test_a_subjects_alerts_read_only_its_familys_rows_and_rules(
    sample: tuple[Ledger, Projections, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fleet's lists are never computed for one subject's alerts (their cost is the family's)."""
    from projections import alerts_query

    _, projections, subjects = sample
    calls: list[dict[str, Any]] = []
    for name in ("list_requests", "list_complaints"):
        real = getattr(alerts_query, name)

        def spy(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            calls.append({"name": _name, **kwargs})
            return _real(*args, **kwargs)

        monkeypatch.setattr(alerts_query, name, spy)
    rows_made: list[str] = []
    real_row = alert_row

    def counted(*args: Any, **kwargs: Any) -> Any:
        row = real_row(*args, **kwargs)
        rows_made.append(row["alert_id"])
        return row

    monkeypatch.setattr(alerts_query, "alert_row", counted)
    alerts = projections.query("alerts", as_of=NOW, subject=subjects[0])
    assert {c["name"] for c in calls} == {"list_requests", "list_complaints"}
    assert all(c.get("subject") is not None and c.get("family") for c in calls), calls
    # Only the family's stored rows and as-of alerts are made into rows: none is filtered out after.
    assert sorted(rows_made) == sorted(a["alert_id"] for a in alerts)
    assert len(projections.query("alerts", as_of=NOW)) > len(alerts)


def test_a_subject_export_reads_only_its_familys_requests_and_complaints(
    sample: tuple[Ledger, Projections, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Spec 6.8: a subject export's requests, complaints, annotations and alerts are read for its merge
    family, never computed for the whole queue and filtered afterwards."""
    from ledger.export import bundle, views
    from projections import alerts_query
    from projections import complaints as complaints_view
    from projections import requests as requests_view

    ledger, _, subjects = sample
    calls: list[dict[str, Any]] = []
    for module, name in (
        (views, "list_requests"),
        (requests_view, "list_requests"),
        (alerts_query, "list_requests"),
        (complaints_view, "list_complaints"),
        (alerts_query, "list_complaints"),
    ):
        real = getattr(module, name)

        def spy(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            calls.append({"name": _name, **kwargs})
            return _real(*args, **kwargs)

        monkeypatch.setattr(module, name, spy)
    doc = bundle.build_export(ledger, "subject", subjects[0], record_disclosure=False)
    assert doc["entries"]
    assert {c["name"] for c in calls} == {"list_requests", "list_complaints"}
    assert all(c.get("subject") is not None and c.get("family") for c in calls), calls
