"""Several ``project`` processes on one PostgreSQL ledger: one leader writes the views, the others stand
by and take over when it dies, and a leader that lost its lock writes no further batch.

Real PostgreSQL, real ``privacy-ledger project`` processes (SIGKILLed), views compared with a rebuild
from zero.
"""

from __future__ import annotations

import base64
import itertools
import re
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import env_without_ledger_settings, view_tables
from kafka_support import REPO, wait_until
from serve_support import free_port, http

from ledger.bootstrap import Ledger
from ledger.config import Settings
from ledger.sample import generate_events
from ledger.store.messages import Message
from projections.leader import Leadership, LeadershipLost
from projections.service import Projections

pytestmark = pytest.mark.postgres


class _PgSchema:
    """A fresh schema of the real server with a master key and a var folder; dropped at the end."""

    def __init__(self, base_url: str, tmp: Path) -> None:
        self.base_url = base_url
        self.schema = f"l_{uuid.uuid4().hex[:10]}"
        self.tmp = tmp
        self.key = tmp / "master.key"
        self.key.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
        self.key.chmod(0o600)  # the ledger refuses a key file open to others
        self.offset = 0

    @property
    def url(self) -> str:
        return f"{self.base_url}?schema={self.schema}"

    def settings(self) -> Settings:
        return Settings(database_url=self.url, master_key_file=self.key, var_dir=self.tmp / "var")

    def env(self, **extra: str) -> dict[str, str]:
        return env_without_ledger_settings(
            {
                "LEDGER_DATABASE_URL": self.url,
                "LEDGER_MASTER_KEY_FILE": str(self.key),
                "LEDGER_VAR_DIR": str(self.tmp / "var"),
                **extra,
            }
        )

    def ingest(self, ledger: Ledger, events: list[dict[str, Any]]) -> None:
        messages = [Message("test", 0, self.offset + i, event=e) for i, e in enumerate(events)]
        self.offset += len(events)
        ledger.ingest_messages(messages)

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.base_url) as conn:
            conn.execute(f'SET search_path TO "{self.schema}"')
            return list(conn.execute(sql, params).fetchall())

    def drop(self) -> None:
        with psycopg.connect(self.base_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')


@pytest.fixture
def pg(pg_url: str, tmp_path: Path) -> Iterator[_PgSchema]:
    schema = _PgSchema(pg_url, tmp_path)
    yield schema
    schema.drop()


@pytest.fixture
def pg_ledger(pg: _PgSchema) -> Iterator[Ledger]:
    ledger = Ledger.open(pg.settings())
    yield ledger
    ledger.close()


def _terminate_backend(base_url: str, pid: int | None) -> None:
    assert pid is not None
    with psycopg.connect(base_url, autocommit=True) as conn:
        # Waits (up to 10 s) until the backend is gone and its locks are released.
        assert conn.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,)).fetchone() == (True,)


# -- the lock and its fence, in-process ---------------------------------------------------------


def test_one_leader_per_ledger_and_each_ledger_schema_has_its_own_lock(pg_url: str, tmp_path: Path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, other = _PgSchema(pg_url, tmp_path / "a"), _PgSchema(pg_url, tmp_path / "b")
    ledgers = [Ledger.open(first.settings()), Ledger.open(first.settings()), Ledger.open(other.settings())]
    leaders = [Leadership(ledger.store) for ledger in ledgers]
    try:
        assert leaders[0].try_acquire()
        assert not leaders[1].try_acquire()  # the same ledger: stands by
        assert leaders[2].try_acquire()  # another schema: its own leader
        assert (leaders[0].epoch, leaders[2].epoch) == (1, 1)
        leaders[0].release()  # a clean stop hands over at once
        assert leaders[1].try_acquire() and leaders[1].epoch == 2
    finally:
        for leader in leaders:
            leader.release()
        for ledger in ledgers:
            ledger.close()
        first.drop()
        other.drop()


def test_a_leader_whose_lock_connection_is_terminated_writes_no_further_batch(
    pg: _PgSchema, pg_ledger: Ledger
):
    events = generate_events(seed=41, subjects=20)
    pg.ingest(pg_ledger, events[: len(events) // 2])
    projections = Projections(pg_ledger.store, pg_ledger.keys, pg_ledger.codes)
    leader = Leadership(pg_ledger.store)
    assert leader.try_acquire()
    projections.runner.fence = leader.fence
    assert projections.catch_up() > 0
    before = projections.runner.positions()
    _terminate_backend(pg.base_url, leader.backend_pid)  # e.g. a partition, or an operator's kill
    pg.ingest(pg_ledger, events[len(events) // 2 :])
    with pytest.raises(LeadershipLost):
        projections.catch_up()
    assert projections.runner.positions() == before  # the batch was rolled back
    assert not leader.leading


def test_an_old_leader_cannot_write_once_another_process_took_over(pg: _PgSchema, pg_ledger: Ledger):
    events = generate_events(seed=42, subjects=10)
    pg.ingest(pg_ledger, events)
    second = Ledger.open(pg.settings())
    try:
        old_views = Projections(pg_ledger.store, pg_ledger.keys, pg_ledger.codes)
        new_views = Projections(second.store, second.keys, second.codes)
        old, new = Leadership(pg_ledger.store), Leadership(second.store)
        assert old.try_acquire() and not new.try_acquire()
        old_views.runner.fence, new_views.runner.fence = old.fence, new.fence
        _terminate_backend(pg.base_url, old.backend_pid)
        assert new.try_acquire() and new.epoch == 2
        with pytest.raises(LeadershipLost):
            old_views.catch_up()
        assert set(old_views.runner.positions().values()) == {0}
        assert new_views.catch_up() == pg_ledger.head_seq()
        new.release()
    finally:
        second.close()


# -- real processes: failover ---------------------------------------------------------------------


class _Project:
    """``privacy-ledger project`` as a separate process with its ops port; its log in a file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.log_path = log
        self._log = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ledger.cli", "project", "--metrics-port", str(self.port)],
            cwd=REPO,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def leader_gauge(self) -> float | None:
        """``ledger_projection_leader`` from its /metrics (None while it does not answer)."""
        try:
            status, _, body = http(f"http://127.0.0.1:{self.port}/metrics")
        except OSError:
            return None
        found = re.search(r"^ledger_projection_leader ([0-9.]+)$", body, re.MULTILINE)
        return float(found.group(1)) if status == 200 and found else None

    def ready(self) -> int:
        try:
            return http(f"http://127.0.0.1:{self.port}/readyz")[0]
        except OSError:
            return 0

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(60)
        self._log.close()
        return code

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


_APPLIED = re.compile(r"applied seq (\d+)-(\d+) ")


def _applied_ranges(text: str) -> list[tuple[int, int]]:
    return [(int(a), int(b)) for a, b in _APPLIED.findall(text)]


def test_the_standby_takes_over_from_a_killed_leader_without_losing_or_repeating_a_view_row(
    pg: _PgSchema, pg_ledger: Ledger, tmp_path: Path
):
    events = generate_events(seed=43, subjects=400)
    first, second, third = events[:300], events[300:-200], events[-200:]
    pg.ingest(pg_ledger, first)
    env = pg.env(LEDGER_LOG_LEVEL="DEBUG", LEDGER_PROJECT_STANDBY_POLL_SECONDS="1")
    procs = [_Project(env, tmp_path / "p1.log"), _Project(env, tmp_path / "p2.log")]
    try:
        wait_until(lambda: None not in [p.leader_gauge() for p in procs], 60, "both processes' /metrics")
        wait_until(
            lambda: sorted(p.leader_gauge() or 0 for p in procs) == [0.0, 1.0], 30, "exactly one leader"
        )
        leader, standby = sorted(procs, key=lambda p: -(p.leader_gauge() or 0))
        head = pg_ledger.head_seq()
        wait_until(lambda: _min_position(pg) == head, 60, "the leader applying the first events")
        assert standby.ready() == 200, "a standby is ready: it can take over"
        assert leader.ready() == 200

        pg.ingest(pg_ledger, second)
        wait_until(lambda: _min_position(pg) > head, 60, "the leader working on the new events")
        assert _min_position(pg) < pg_ledger.head_seq(), "killed mid-work"
        leader.kill()
        killed_at = time.monotonic()
        wait_until(lambda: standby.leader_gauge() == 1.0, 20, "the standby taking over")
        took_over_in = time.monotonic() - killed_at
        assert took_over_in < 10, took_over_in

        pg.ingest(pg_ledger, third)
        head = pg_ledger.head_seq()
        wait_until(lambda: _min_position(pg) == head, 120, "the new leader catching up")
        wait_until(lambda: _signed_size(pg) == head, 30, "the new leader signing a checkpoint")
    finally:
        codes = [p.stop() for p in procs]
    assert codes[procs.index(standby)] == 0, standby.output()

    # The new leader's term is the second; it applied nothing before taking over.
    assert pg.query("SELECT epoch FROM projection_leader") == [(2,)]
    standby_log = standby.output()
    took_over = standby_log.index("leading the views (term 2")
    assert "standing by" in standby_log[:took_over]
    assert not _applied_ranges(standby_log[:took_over]), "the standby wrote while the leader lived"
    # No batch applied twice: the ranges both processes applied never overlap.
    ranges = sorted(_applied_ranges(leader.output()) + _applied_ranges(standby_log))
    assert all(b[0] > a[1] for a, b in itertools.pairwise(ranges)), ranges
    assert ranges[0][0] == 1 and ranges[-1][1] == head

    # Every view as a rebuild from zero makes it: no row lost, none repeated.
    projections = Projections(pg_ledger.store, pg_ledger.keys, pg_ledger.codes)
    followed = view_tables(pg_ledger, projections)
    assert sum(len(rows) for rows in followed.values()) > 0
    projections.rebuild("all")
    assert followed == view_tables(pg_ledger, projections)


def _min_position(pg: _PgSchema) -> int:
    try:
        return int(pg.query("SELECT MIN(seq) FROM view_tracking")[0][0] or 0)
    except psycopg.errors.UndefinedTable:
        return 0


def _signed_size(pg: _PgSchema) -> int:
    return int(pg.query("SELECT MAX(tree_size) FROM ledger_checkpoints")[0][0] or 0)
