"""Keeps every view current: follow the chain in ``seq`` order, rows and positions in one transaction.

Why not eventsourcing's ``ProjectionRunner``: it tracks notification ids (which have gaps on PostgreSQL),
commits one transaction per event (a 200,000-event rebuild would take minutes), and its subscription
waits for a NOTIFY without a timeout (a lost notification stalls it silently; stack notes 1.3, #305).
This runner reads the gap-free ``seq`` of the integrity chain in batches, on both backends; on
PostgreSQL a LISTEN on the event table's channel wakes it at once, and a poll every second makes a lost
notification cost at most that second. Each view has its own position, so one view can be rebuilt
while the others stay as they are.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import PersistenceError

from ledger.domain.facts import Fact
from ledger.errors import LedgerError
from ledger.store.database import LedgerStore
from ledger.store.dialect import InList, SqlCursor
from projections.base import ProjectionError, StoredFact, View
from projections.context import ProjectionContext
from projections.leader import Leadership, LeadershipLost

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Gauge, Histogram

__all__ = ["ProjectionRunner", "read_lag"]


def _database_down() -> tuple[type[BaseException], ...]:
    """Errors of an unreachable or restarting database (as ``consumers.consumer.RETRYABLE``): the
    transaction rolled back, so the runner waits and tries again instead of exiting. Imported when
    first needed: a query on SQLite loads no PostgreSQL client."""
    import psycopg
    from psycopg_pool import PoolTimeout

    return (PersistenceError, psycopg.Error, PoolTimeout, OSError)


log = logging.getLogger(__name__)


class ProjectionRunner:
    """Applies stored events to views; ``catch_up`` for in-process use, ``run_forever`` as a service."""

    def __init__(
        self,
        store: LedgerStore,
        views: Sequence[View],
        ctx: ProjectionContext,
        *,
        batch_size: int = 1000,
        registry: CollectorRegistry | None = None,
        maintenance: Callable[[], object] | None = None,
    ) -> None:
        self.store = store
        # Run at the start of every pass (``catch_up``): the ``project`` command expires parked events
        # past their grace here, so they expire even when no new message arrives (spec 3.5 point 4).
        self.maintenance = maintenance
        self.views = list(views)
        self.ctx = ctx
        self.batch_size = batch_size
        # The positions this runner's last transaction left (None: its in-memory state may be stale).
        self._committed: dict[str, int] | None = None
        # The metrics are made when first used (``registry``): a query imports no prometheus_client.
        # The batch times measured until then (one per batch) are observed at that moment.
        self._registry = registry
        self._metrics: tuple[CollectorRegistry, Histogram, Gauge] | None = None
        self._unobserved: list[float] = []
        if registry is not None:
            self._make_metrics()
        # Called first in every batch's write transaction (``Leadership.fence``): raises to roll back.
        self.fence: Callable[[SqlCursor], None] | None = None
        if store.read_only:
            return  # queries only: the views are read as they are, nothing is created
        with store.ddl_lock(), store.write(lock=False) as cur:
            cur.execute(
                "CREATE TABLE IF NOT EXISTS {t:view_tracking} (name TEXT PRIMARY KEY, seq BIGINT NOT NULL)"
            )
            for view in self.views:
                for statement in view.create_statements(cur.dialect):
                    cur.execute(statement)
                cur.execute(
                    "INSERT INTO {t:view_tracking} (name, seq) VALUES (?, 0) ON CONFLICT DO NOTHING",
                    (view.name,),
                )

    # -- metrics -----------------------------------------------------------------------------

    def _make_metrics(self) -> tuple[CollectorRegistry, Histogram, Gauge]:
        if self._metrics is not None:
            return self._metrics
        from prometheus_client import CollectorRegistry, Gauge, Histogram

        registry = self._registry if self._registry is not None else CollectorRegistry(auto_describe=True)
        # Each view's lag is read from the database at scrape time (ledger.collector.LedgerCollector).
        batch_seconds = Histogram(
            "ledger_projection_batch_duration_seconds",
            "Time to apply one batch of stored events to the views (one database transaction)",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=registry,
        )
        leader_gauge = Gauge(
            "ledger_projection_leader",
            "1 while this project process writes the views (PostgreSQL: it holds the ledger's leader "
            "lock), 0 while it stands by, ready to take over",
            registry=registry,
        )
        self._metrics = (registry, batch_seconds, leader_gauge)
        for seconds in self._unobserved:
            batch_seconds.observe(seconds)
        self._unobserved.clear()
        return self._metrics

    @property
    def registry(self) -> CollectorRegistry:
        """The runner's Prometheus metrics (batch durations, leadership)."""
        return self._make_metrics()[0]

    @property
    def batch_seconds(self) -> Histogram:
        """``ledger_projection_batch_duration_seconds``."""
        return self._make_metrics()[1]

    @property
    def leader_gauge(self) -> Gauge:
        """``ledger_projection_leader``."""
        return self._make_metrics()[2]

    def _observe_batch(self, seconds: float) -> None:
        # Short commands never pay for the metrics; a long-lived runner creates them once this list is
        # long, so what waits to be observed stays bounded.
        if self._metrics is None and len(self._unobserved) < 4096:
            self._unobserved.append(seconds)
        else:
            self._make_metrics()[1].observe(seconds)

    # -- positions ---------------------------------------------------------------------------

    def positions(self) -> dict[str, int]:
        """Each view's position: the last ``seq`` applied."""
        with self.store.read() as cur:
            rows = cur.execute("SELECT name, seq FROM {t:view_tracking}").all()
        known = {str(r["name"]): int(r["seq"]) for r in rows}
        return {v.name: known.get(v.name, 0) for v in self.views}

    def head(self) -> int:
        """The last stored ``seq``."""
        with self.store.read() as cur:
            value = cur.execute("SELECT MAX(seq) AS m FROM {t:ledger_chain}").scalar()
        return int(value or 0)

    def lag(self) -> dict[str, int]:
        """Events each view still has to apply."""
        head = self.head()
        return {name: head - seq for name, seq in self.positions().items()}

    # -- applying ----------------------------------------------------------------------------

    def catch_up(
        self, *, max_batches: int | None = None, progress: Callable[[int], None] | None = None
    ) -> int:
        """Apply every stored event the views have not seen; returns how many events were read.

        ``progress`` is called after each batch with the number of events read so far.
        """
        if self.maintenance is not None:
            self.maintenance()
        total = 0
        batches = 0
        with _fewer_collections():
            while max_batches is None or batches < max_batches:
                applied = self._step()
                if applied == 0:
                    break
                total += applied
                batches += 1
                if progress is not None:
                    progress(total)
        return total

    def _step(self) -> int:
        started = time.perf_counter()
        positions = self.positions()
        start = min(positions.values(), default=0)
        facts = self._read(start)
        if not facts:
            return 0
        last = facts[-1].seq
        applied: dict[str, int] = {}
        # Cleared until this transaction commits: after a failure the views start from the database.
        committed, self._committed = self._committed, None
        with self.store.write(lock=False) as cur:
            if self.fence is not None:
                self.fence(cur)
            current = self._positions_for_update(cur)
            if current != committed:
                # Another runner (another process) applied events since this one last did: what the
                # views and the context keep in memory misses those events.
                for view in self.views:
                    view.reset()
                self.ctx.forget_merges()
            moved = current != positions
            if not moved:
                self._apply(cur, facts, positions, applied)
        if moved:
            # Positions moved between the read and the lock: read again from where they are now.
            return self._step()
        self._committed = {v.name: max(positions[v.name], last) for v in self.views}
        self._observe_batch(time.perf_counter() - started)
        log.debug(
            "applied seq %d-%d (%d events) to %s in %.1f ms",
            facts[0].seq,
            last,
            len(facts),
            ", ".join(f"{name} {n}" for name, n in applied.items()) or "no view",
            (time.perf_counter() - started) * 1000,
        )
        return len(facts)

    def _apply(
        self, cur: SqlCursor, facts: list[StoredFact], positions: dict[str, int], applied: dict[str, int]
    ) -> None:
        self.ctx.load_merges(cur)
        last = facts[-1].seq
        for stored in facts:
            if stored.record.get("event_type") == "SubjectsMerged":
                payload = stored.record["payload"]
                self.ctx.note_merge(payload["merged_subject_id"], payload["surviving_subject_id"], stored.seq)
        moved: dict[int, list[str]] = {}  # position before -> the views that were there
        for view in self.views:
            mine = [f for f in facts if f.seq > positions[view.name]]
            if mine:
                # One call per batch: views read what they need and write their rows in bulk.
                view.apply_batch(cur, mine, self.ctx)
                moved.setdefault(positions[view.name], []).append(view.name)
                applied[view.name] = len(mine)
        for expected, names in moved.items():
            self._advance(cur, names, expected, last)

    def _positions_for_update(self, cur: SqlCursor) -> dict[str, int]:
        """Each view's position, read in the write transaction that will advance it (and locked)."""
        lock = " FOR UPDATE" if cur.dialect.is_postgres else ""  # SQLite: BEGIN IMMEDIATE locked it
        rows = cur.execute("SELECT name, seq FROM {t:view_tracking}" + lock).all()
        known = {str(r["name"]): int(r["seq"]) for r in rows}
        return {v.name: known.get(v.name, 0) for v in self.views}

    def _advance(self, cur: SqlCursor, names: list[str], expected: int, new: int) -> None:
        cur.execute(
            "UPDATE {t:view_tracking} SET seq = ? WHERE name {in} AND seq = ?",
            (new, InList(names), expected),
        )
        if cur.rowcount != len(names):
            # Another runner applied these events first: roll everything back and start over.
            raise ProjectionError(f"view {', '.join(names)} was advanced by another runner")

    def _read(self, after: int) -> list[StoredFact]:
        store = self.store
        with store.read() as cur:
            rows = cur.execute(
                "SELECT c.seq, e.state FROM {t:ledger_chain} c "
                f"JOIN {store.events_table} e ON e.{store.notification_column} = c.notification_id "
                f"WHERE c.seq > ? ORDER BY c.seq LIMIT {int(self.batch_size)}",
                (after,),
            ).all()
        out = []
        for row in rows:
            record = json.loads(bytes(row["state"]))["record"]
            out.append(StoredFact(Fact.from_record(record, int(row["seq"])), record))
        return out

    # -- rebuild -----------------------------------------------------------------------------

    def rebuild(
        self, names: Sequence[str] | None = None, *, progress: Callable[[int], None] | None = None
    ) -> int:
        """Empty the named views (all if None) and replay the store into them from ``seq`` 1."""
        chosen = [v for v in self.views if names is None or v.name in names]
        unknown = set(names or ()) - {v.name for v in self.views}
        if unknown:
            raise ProjectionError(f"unknown view(s): {', '.join(sorted(unknown))}")
        with self.store.write(lock=False) as cur:
            for view in chosen:
                for table in view.tables:
                    cur.execute(f"DELETE FROM {{t:{table}}}")
                cur.execute("UPDATE {t:view_tracking} SET seq = 0 WHERE name = ?", (view.name,))
        for view in chosen:
            view.reset()
        log.debug("rebuilding %s from seq 1", ", ".join(v.name for v in chosen))
        return self.catch_up(progress=progress)

    # -- service -----------------------------------------------------------------------------

    def run_forever(
        self,
        stop: threading.Event,
        *,
        poll_seconds: float = 1.0,
        checkpoint: Callable[[], object] | None = None,
        checkpoint_every_s: float = 2.0,
        leadership: Leadership | None = None,
        standby_poll_seconds: float = 2.0,
    ) -> None:
        """Follow the store until ``stop``: wake on NOTIFY (PostgreSQL) or every ``poll_seconds``.

        ``checkpoint`` (``Ledger.checkpoint_if_grown``) is called at most every ``checkpoint_every_s``:
        the log gets a signed checkpoint while it grows even where no consumer runs. A refusal is logged
        as an error and tried again later.

        With ``leadership`` (several ``project`` processes on one PostgreSQL ledger) only the leader
        applies, expires parked events and signs; the others try to take over every
        ``standby_poll_seconds``. Every batch is fenced: a process that lost the lead writes nothing more.
        """
        listener = _Listener(self.store) if self.store.dialect.is_postgres else None
        next_checkpoint = time.monotonic() + checkpoint_every_s
        self.fence = None if leadership is None else leadership.fence
        leading = leadership is None  # SQLite, or a single process: always applies
        self.leader_gauge.set(1 if leading else 0)
        said_standby = False
        try:
            while not stop.is_set():
                if leadership is not None and not (leadership.check() or leadership.try_acquire()):
                    leading = False
                    self.leader_gauge.set(0)
                    if not said_standby:
                        log.info("standing by: another project process leads the views")
                        said_standby = True
                    stop.wait(standby_poll_seconds)
                    continue
                if not leading:
                    # A new term: what this process remembers of the views may be stale.
                    leading, said_standby = True, False
                    self._committed = None
                    self.leader_gauge.set(1)
                try:
                    applied = self.catch_up(max_batches=50)
                except LeadershipLost as exc:
                    log.warning("%s", exc)
                    leading = False
                    self.leader_gauge.set(0)
                    continue
                except ProjectionError as exc:
                    log.warning("%s; retrying", exc)
                    applied = 0
                except _database_down() as exc:
                    # The transaction rolled back; /readyz says 503 meanwhile. Try again after a pause.
                    log.warning("database unavailable (%s); retrying", type(exc).__name__)
                    stop.wait(poll_seconds)
                    continue
                if checkpoint is not None and time.monotonic() >= next_checkpoint:
                    next_checkpoint = time.monotonic() + checkpoint_every_s
                    try:
                        checkpoint()
                    except LedgerError as exc:
                        log.error("no checkpoint signed: %s", exc)
                    except _database_down() as exc:
                        log.warning("no checkpoint signed: database unavailable (%s)", type(exc).__name__)
                if applied:
                    continue
                if listener is not None:
                    listener.wait(poll_seconds)
                else:
                    stop.wait(poll_seconds)
        finally:
            self.fence = None
            if leadership is not None:
                leadership.release()
            if listener is not None:
                listener.close()


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Collect garbage less often while batches are applied (the thresholds come back after).

    The alert engines keep many small objects alive; at the default thresholds the collector walked
    them some 580 times per 20,000 events (10-15% of a rebuild's CPU). A batch makes no garbage cycles
    worth collecting sooner; refcounting frees the rest at once.
    """
    before = gc.get_threshold()
    if before[0]:  # (0: automatic collection is off, and stays off)
        gc.set_threshold(max(before[0], 20_000), before[1], max(before[2], 100))
    try:
        yield
    finally:
        gc.set_threshold(*before)


def read_lag(store: LedgerStore, names: Sequence[str]) -> dict[str, int]:
    """Events each named view still has to apply, read without creating or changing anything.

    A view the runner never started (no tracking row, or no tracking table yet) lags by every event.
    """
    with store.read() as cur:
        head = int(cur.execute("SELECT MAX(seq) AS m FROM {t:ledger_chain}").scalar() or 0)
        known: dict[str, int] = {}
        if cur.has_table("view_tracking"):
            known = {
                str(r["name"]): int(r["seq"])
                for r in cur.execute("SELECT name, seq FROM {t:view_tracking}").all()
            }
    return {name: head - known.get(name, 0) for name in names}


class _Listener:
    """A LISTEN on the event table's NOTIFY channel; only a wake-up, never trusted to arrive.

    A lost connection (the database restarting) is not an error: ``wait`` then just sleeps, and the
    next ``wait`` connects again, so ``project`` outlives a database outage (its /readyz says 503).
    """

    def __init__(self, store: LedgerStore) -> None:
        recorder: Any = store.recorder
        ds = store.datastore
        self._conninfo = ds.pool.conninfo
        self._kwargs = {**dict(ds.pool.kwargs or {}), "autocommit": True}
        self._channel = str(recorder.channel_name)
        self.conn: Any = None
        self._connect()

    def _connect(self) -> bool:
        import psycopg

        try:
            self.conn = psycopg.connect(self._conninfo, **self._kwargs)
            self.conn.execute(f'LISTEN "{self._channel}"')
        except psycopg.Error as exc:
            log.warning("cannot listen for new events (%s); polling until the database answers", exc)
            self.close()
            return False
        return True

    def wait(self, seconds: float) -> None:
        import psycopg

        if self.conn is None and not self._connect():
            time.sleep(seconds)
            return
        try:
            for _ in self.conn.notifies(timeout=seconds, stop_after=1):
                break
        except psycopg.Error as exc:
            log.warning("lost the database connection (%s); polling until it answers", type(exc).__name__)
            self.close()
            time.sleep(seconds)

    def close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # a broken connection may fail to close; it is gone either way
                log.debug("closing a broken listener connection failed", exc_info=True)
