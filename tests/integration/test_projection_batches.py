"""The runner applies events in batches and keeps a bounded number of alert engines in memory; neither may
change an answer: the views must be exactly what applying the store one event at a time, with every
subject's engine kept, makes of it (spec section 2: a view is a pure function of the store in seq order).
"""

from __future__ import annotations

from typing import Any

from conftest import view_tables

from ledger.bootstrap import Ledger
from ledger.sample import generate_events
from ledger.store.messages import Message
from projections.alerts import AlertsView
from projections.service import Projections


def _ingest(ledger: Ledger, events: list[dict[str, Any]]) -> None:
    result = ledger.ingest_messages([Message("test", 0, i, event=e) for i, e in enumerate(events)])
    assert result.stored == len(events)


def _alerts_view(projections: Projections) -> AlertsView:
    view = next(v for v in projections.runner.views if v.name == "alerts")
    assert isinstance(view, AlertsView)
    return view


def _projections(ledger: Ledger, *, batch_size: int, cached_facts: int) -> Projections:
    projections = Projections(ledger.store, ledger.keys, ledger.codes)
    projections.runner.batch_size = batch_size
    _alerts_view(projections).cache_facts = cached_facts
    return projections


def test_a_tiny_alert_engine_cache_and_any_batch_size_give_the_views_of_one_event_at_a_time(
    ledger: Ledger,
) -> None:
    events = generate_events(seed=5, subjects=60)
    assert any(e["event_type"] == "SubjectsMerged" for e in events)  # a merge moves a subject's alerts
    half = len(events) // 2
    _ingest(ledger, events[:half])
    # Incremental, as `project` runs beside `ingest`: engines holding 10 facts in all (one or two of the
    # 60 subjects at a time), batches of 50 events.
    bounded = _projections(ledger, batch_size=50, cached_facts=10)
    bounded.catch_up()
    _ingest(ledger, events[half:])
    bounded.catch_up()
    in_batches = view_tables(ledger, bounded)
    assert in_batches["view_alerts"], "the sample raises alerts"

    one_by_one = _projections(ledger, batch_size=1, cached_facts=10**9)
    one_by_one.rebuild("all")
    assert in_batches == view_tables(ledger, one_by_one)

    # And a rebuild in large batches with every engine kept.
    large = _projections(ledger, batch_size=1000, cached_facts=10**9)
    large.rebuild("all")
    assert in_batches == view_tables(ledger, large)


def test_the_alert_engines_hold_at_most_their_budget_of_facts(ledger: Ledger) -> None:
    _ingest(ledger, generate_events(seed=11, subjects=30))
    projections = _projections(ledger, batch_size=100, cached_facts=40)
    projections.catch_up()
    view = _alerts_view(projections)
    held = {subject: len(engine._facts) for subject, engine in view._engines.items()}
    assert len(held) > 1 and sum(held.values()) <= 40  # several small subjects, never more than 40 facts
    assert set(view._sizes) == set(view._engines)  # no bookkeeping kept for a dropped engine
