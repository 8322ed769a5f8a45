"""Two runners (two processes: an ``ingest`` and a ``query``) taking turns keep the views exact.

Each runner keeps caches in memory (the alert engines of recent subjects, the merges); when another
runner applied events in between, those caches miss them. The views must still end as a rebuild from
zero makes them.
"""

from __future__ import annotations

from typing import Any

from conftest import view_tables

from ledger.bootstrap import Ledger
from ledger.sample import generate_events
from ledger.store.messages import Message
from projections.service import Projections


def _ingest(ledger: Ledger, events: list[dict[str, Any]]) -> None:
    ledger.ingest_messages([Message("test", 0, i, event=e) for i, e in enumerate(events)])


def test_runners_taking_turns_leave_the_views_as_a_rebuild_from_zero(ledger: Ledger):
    events = generate_events(seed=5, subjects=25)
    third = len(events) // 3
    mine = Projections(ledger.store, ledger.keys, ledger.codes)
    theirs = Projections(ledger.store, ledger.keys, ledger.codes)
    _ingest(ledger, events[:third])
    mine.catch_up()
    _ingest(ledger, events[third : 2 * third])
    theirs.catch_up()
    _ingest(ledger, events[2 * third :])
    mine.catch_up()
    taking_turns = view_tables(ledger, mine)
    fresh = Projections(ledger.store, ledger.keys, ledger.codes)
    fresh.rebuild("all")
    assert taking_turns == view_tables(ledger, fresh)
