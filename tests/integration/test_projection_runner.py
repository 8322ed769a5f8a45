"""The projection runner: lag gauge, single-view rebuild, and no silent stall on a lost NOTIFY."""

from __future__ import annotations

import base64
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ledger.bootstrap import Ledger
from ledger.config import Settings
from ledger.ops import exposition_registry
from ledger.sample import generate_events
from ledger.store.messages import Message
from projections import runner as runner_module
from projections.service import Projections


def _ingest(ledger: Ledger, events: list[dict[str, Any]]) -> None:
    ledger.ingest_messages([Message("test", 0, i, event=e) for i, e in enumerate(events)])


def _lag(ledger: Ledger, view: str) -> float:
    """The view's lag as `project` serves it on /metrics (read from the database at scrape time)."""
    value = exposition_registry(ledger).get_sample_value("ledger_projection_lag_events", {"view": view})
    assert value is not None
    return value


def test_lag_per_view_is_exported_and_reaches_zero(ledger: Ledger):
    _ingest(ledger, generate_events(seed=4, subjects=15))
    projections = Projections(ledger.store, ledger.keys, ledger.codes)
    head = projections.runner.head()
    assert projections.runner.lag() == {name: head for name in projections.runner.positions()}
    assert _lag(ledger, "alerts") == head
    projections.catch_up()
    assert set(projections.runner.lag().values()) == {0}
    assert _lag(ledger, "requests") == 0
    batches = projections.runner.registry.get_sample_value("ledger_projection_batch_duration_seconds_count")
    assert batches is not None and batches >= 1


def test_batch_times_wait_for_the_metrics_in_a_bounded_list_and_none_is_lost(ledger: Ledger):
    """A long-lived runner whose metrics nobody asked for yet keeps a bounded list of batch times, then
    observes every batch in the histogram."""
    runner = Projections(ledger.store, ledger.keys, ledger.codes).runner
    for _ in range(10_000):
        runner._observe_batch(0.001)
    assert len(runner._unobserved) <= 4096
    count = runner.registry.get_sample_value("ledger_projection_batch_duration_seconds_count")
    assert count == 10_000


def test_rebuilding_one_view_leaves_the_others_alone(ledger: Ledger):
    _ingest(ledger, generate_events(seed=4, subjects=15))
    projections = Projections(ledger.store, ledger.keys, ledger.codes)
    projections.catch_up()
    before = projections.query("requests", as_of=ledger.clock(), include_closed=True)
    positions = projections.runner.positions()
    projections.rebuild("requests")
    assert projections.runner.positions() == positions
    assert projections.query("requests", as_of=ledger.clock(), include_closed=True) == before


@pytest.fixture
def pg_ledger(pg_url: str, tmp_path: Path) -> Iterator[Ledger]:
    """A ledger in a fresh schema of the real PostgreSQL server (LISTEN/NOTIFY exists only there)."""
    schema = f"r_{uuid.uuid4().hex[:10]}"
    key = tmp_path / "master.key"
    key.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
    key.chmod(0o600)  # the ledger refuses a key file open to others
    ledger = Ledger.open(Settings(database_url=f"{pg_url}?schema={schema}", master_key_file=key))
    yield ledger
    ledger.close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.mark.postgres
def test_a_lost_notification_does_not_stall_the_runner(pg_ledger: Ledger, monkeypatch: pytest.MonkeyPatch):
    ledger = pg_ledger

    class DeafListener:
        """A LISTEN connection that never hears anything: every NOTIFY is lost."""

        def __init__(self, store: Any) -> None:
            self.waits = 0

        def wait(self, seconds: float) -> None:
            self.waits += 1
            time.sleep(seconds)

        def close(self) -> None:
            pass

    monkeypatch.setattr(runner_module, "_Listener", DeafListener)
    projections = Projections(ledger.store, ledger.keys, ledger.codes)
    stop = threading.Event()
    thread = threading.Thread(
        target=projections.runner.run_forever, args=(stop,), kwargs={"poll_seconds": 0.2}
    )
    thread.start()
    try:
        time.sleep(0.5)
        _ingest(ledger, generate_events(seed=4, subjects=10))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and set(projections.runner.lag().values()) != {0}:
            time.sleep(0.2)
        assert set(projections.runner.lag().values()) == {0}, "the runner stalled without its NOTIFY"
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive()
