"""What bounds `project`'s memory: the alert engines kept in memory (an LRU bounded by the facts they hold,
``projections.alerts.ENGINE_CACHE_FACTS``) are most of it once a catch-up passes that many facts; every
other view keeps no state between batches. At its default budget they must fit well inside the memory
goal of a long-running `project` (500 MB peak), with room for the interpreter, the batch and the driver.
"""

from __future__ import annotations

import gc
import tracemalloc
from typing import Any

from ledger.bootstrap import Ledger
from ledger.sample import generate_events
from ledger.store.messages import Message
from projections.alerts import ENGINE_CACHE_FACTS, AlertsView
from projections.service import Projections

# The share of the 500 MB goal the engines may take at their default budget, as traced: the process takes
# about 100 MB besides them, and its resident size runs about 15% above the traced bytes (allocator slack).
ENGINE_BUDGET_BYTES = 200 * 2**20


def _ingest(ledger: Ledger, events: list[dict[str, Any]]) -> None:
    result = ledger.ingest_messages([Message("test", 0, i, event=e) for i, e in enumerate(events)])
    assert result.stored == len(events)


def test_the_alert_engines_at_their_default_budget_fit_well_inside_the_memory_goal(ledger: Ledger) -> None:
    _ingest(ledger, generate_events(seed=7, subjects=80))
    projections = Projections(ledger.store, ledger.keys, ledger.codes)
    view = next(v for v in projections.runner.views if isinstance(v, AlertsView))
    view.cache_facts = 10**9  # every engine kept: measure what one held fact costs
    # Traced from before the engines are made: what dropping them frees (they and the facts only they
    # hold) is what they take.
    tracemalloc.start()
    try:
        projections.catch_up()
        held = sum(len(engine._facts) for engine in view._engines.values())
        assert held > 500, "the sample keeps enough facts in the engines to measure them"
        engines = dict(view._engines)
        view.reset()
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        engines.clear()
        gc.collect()
        freed = before - tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    per_fact = freed / held
    assert per_fact > 0
    assert ENGINE_CACHE_FACTS * per_fact <= ENGINE_BUDGET_BYTES, (
        f"{per_fact:,.0f} B per held fact: {ENGINE_CACHE_FACTS:,} facts take "
        f"{ENGINE_CACHE_FACTS * per_fact / 2**20:,.0f} MB"
    )
