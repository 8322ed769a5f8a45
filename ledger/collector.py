"""The ledger-wide metrics, read from the database at scrape time by every long-running process.

:class:`LedgerCollector` reads, in one read transaction, the conservation counters, open dead letters,
parked messages, checkpoints, view lag, overdue rights requests, deferred erasures and the last recorded
``verify``, so every process (``consume``, ``project``, ``serve``) exports the same consistent figures and
none has to keep them current. Counts, ages and codes only, never a value. ``ledger.ops`` serves them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from ledger.domain.timeutil import canonical_timestamp, format_instant
from ledger.errors import ErrorCode
from ledger.store.dialect import SqlCursor

if TYPE_CHECKING:
    from ledger.bootstrap import Ledger
    from ledger.store.database import LedgerStore

__all__ = ["VERIFY_META", "LedgerCollector", "record_verify_result", "view_lags"]

log = logging.getLogger(__name__)

# The ``ledger_meta`` row where ``verify --record`` keeps its last outcome (JSON: at, valid, tree_size,
# last_valid_at).
VERIFY_META = "verify_last"
# The spec 6.13 counters (and the ledger_counters rows they read) that only ever grow.
_COUNTERS = (
    ("consumed", "consumed"),
    ("stored_producer_events", "stored"),
    ("duplicates", "duplicates"),
    ("dead_lettered", "dead_lettered"),
)


def _seconds(later: datetime, text: str) -> float:
    return max((later - canonical_timestamp(text)).total_seconds(), 0.0)


class LedgerCollector:
    """The ledger-wide metrics, read from the database at every scrape (one read transaction)."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def describe(self) -> Iterable[Metric]:
        """Nothing up front: registering must not read the database."""
        return []

    def collect(self) -> Iterator[Metric]:
        """Every ledger-wide metric; only ``ledger_database_up 0`` when the database cannot be read."""
        up = GaugeMetricFamily("ledger_database_up", "1 if the database answered this scrape's read, else 0")
        try:
            metrics = self._read()
        except Exception as exc:  # an outage must not break the scrape; the gauge says it
            log.warning("ledger metrics not read (%s)", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from metrics

    def _read(self) -> list[Metric]:
        ledger = self.ledger
        now = ledger.clock()
        with ledger.store.read() as cur:
            out = self._ingestion(cur, now)
            out += self._log(cur, now)
            out += self._views(cur, now)
            out += self._verify(cur)
        return out

    def _ingestion(self, cur: SqlCursor, now: datetime) -> list[Metric]:
        stored = {
            str(r["name"]): int(r["value"])
            for r in cur.execute("SELECT name, value FROM {t:ledger_counters}").all()
        }
        total = CounterMetricFamily(
            "ledger_ingest_messages",
            "Ledger-wide ingestion counters (spec 6.13), from the database: consumed = "
            "stored_producer_events + duplicates + dead_lettered + parked",
            labels=["kind"],
        )
        for kind, column in _COUNTERS:
            total.add_metric([kind], stored.get(column, 0))
        system = CounterMetricFamily("ledger_system_events", "System events the ledger appended (spec 4.8)")
        system.add_metric([], stored.get("system_events", 0))
        parked_row = cur.execute(
            "SELECT COUNT(*) AS n, MIN(arrived_at) AS oldest FROM {t:ledger_parked}"
        ).one()
        parked_now = int(parked_row["n"]) if parked_row else 0
        oldest = parked_row["oldest"] if parked_row else None
        parked = GaugeMetricFamily(
            "ledger_parked_messages", "Messages parked, waiting for what they refer to"
        )
        parked.add_metric([], parked_now)
        age = GaugeMetricFamily(
            "ledger_parked_oldest_age_seconds",
            "Age of the oldest parked message by the ledger clock (0 when none is parked)",
        )
        age.add_metric([], 0.0 if oldest is None else _seconds(now, str(oldest)))
        grace = GaugeMetricFamily(
            "ledger_park_grace_seconds",
            "LEDGER_PARK_GRACE_SECONDS: a parked message older than this is dead-lettered UNKNOWN_REFERENCE",
        )
        grace.add_metric([], self.ledger.settings.park_grace_seconds)
        gap = GaugeMetricFamily(
            "ledger_ingest_conservation_gap_messages",
            "consumed - (stored_producer_events + duplicates + dead_lettered + parked): 0 unless the "
            "counters are broken",
        )
        gap.add_metric(
            [],
            stored.get("consumed", 0)
            - stored.get("stored", 0)
            - stored.get("duplicates", 0)
            - stored.get("dead_lettered", 0)
            - parked_now,
        )
        by_code = {str(code): 0 for code in ErrorCode}
        for r in cur.execute(
            "SELECT error_code, COUNT(*) AS n FROM {t:ledger_dead_letters} WHERE status = 'OPEN' "
            "GROUP BY error_code"
        ).all():
            by_code[str(r["error_code"])] = int(r["n"])
        letters = GaugeMetricFamily(
            "ledger_dead_letters_open", "Open dead letters by error code (spec 3.6)", labels=["code"]
        )
        for code, n in sorted(by_code.items()):
            letters.add_metric([code], n)
        deferred = GaugeMetricFamily(
            "ledger_erasures_deferred_pending",
            "Erasures (DataErased) a legal hold still blocks, in part or whole",
        )
        deferred.add_metric(
            [],
            int(
                cur.execute(
                    "SELECT COUNT(DISTINCT erasure_event_id) AS n FROM {t:ledger_deferred} WHERE done = 0"
                ).scalar()
                or 0
            ),
        )
        return [total, system, parked, age, grace, gap, letters, deferred]

    def _log(self, cur: SqlCursor, now: datetime) -> list[Metric]:
        head = int(cur.execute("SELECT MAX(seq) AS m FROM {t:ledger_chain}").scalar() or 0)
        records = GaugeMetricFamily("ledger_log_records", "Records in the log (the last seq, the tree size)")
        records.add_metric([], head)
        out: list[Metric] = [records]
        latest = None
        if cur.has_table("ledger_checkpoints"):
            latest = cur.execute(
                "SELECT tree_size, issued_at FROM {t:ledger_checkpoints} ORDER BY tree_size DESC LIMIT 1"
            ).one()
        signed = 0 if latest is None else int(latest["tree_size"])
        size = GaugeMetricFamily("ledger_checkpoint_records", "Records the last signed checkpoint covers")
        size.add_metric([], signed)
        out.append(size)
        if latest is not None:
            age = GaugeMetricFamily(
                "ledger_checkpoint_age_seconds", "Seconds since the last signed checkpoint (ledger clock)"
            )
            age.add_metric([], _seconds(now, str(latest["issued_at"])))
            out.append(age)
        pending = GaugeMetricFamily(
            "ledger_checkpoint_pending_age_seconds",
            "Seconds the oldest record no signed checkpoint covers has waited (0 when all are covered)",
        )
        waiting = 0.0
        if head > signed:
            first = cur.execute(
                "SELECT recorded_at FROM {t:ledger_chain} WHERE seq = ?", (signed + 1,)
            ).scalar()
            waiting = 0.0 if first is None else _seconds(now, str(first))
        pending.add_metric([], waiting)
        out.append(pending)
        return out

    def _views(self, cur: SqlCursor, now: datetime) -> list[Metric]:
        events = GaugeMetricFamily(
            "ledger_projection_lag_events", "Stored events a view has not applied yet", labels=["view"]
        )
        seconds = GaugeMetricFamily(
            "ledger_projection_lag_seconds",
            "Age of the oldest stored event a view has not applied yet (0 when caught up)",
            labels=["view"],
        )
        for name, (behind, age) in view_lags(cur, now).items():
            events.add_metric([name], behind)
            seconds.add_metric([name], age)
        tracked = cur.has_table("view_tracking")
        out: list[Metric] = [events, seconds]
        if tracked and cur.has_table("view_requests"):
            overdue = GaugeMetricFamily(
                "ledger_rights_requests_overdue",
                "Open rights requests past their statutory deadline now (spec 6.4, as last projected)",
            )
            overdue.add_metric([], self._overdue_requests(cur, now))
            out.append(overdue)
        return out

    def _overdue_requests(self, cur: SqlCursor, now: datetime) -> int:
        from ledger.calendars import load_calendar
        from projections.context import ProjectionContext
        from projections.requests import list_requests

        ctx = ProjectionContext(self.ledger.store, self.ledger.codes, load_calendar())
        return sum(1 for row in list_requests(cur, ctx, now) if row.overdue)

    def _verify(self, cur: SqlCursor) -> list[Metric]:
        raw = cur.execute("SELECT v FROM {t:ledger_meta} WHERE k = ?", (VERIFY_META,)).scalar()
        if raw is None:
            return []
        last = json.loads(str(raw))
        ran = GaugeMetricFamily(
            "ledger_verify_last_run_timestamp_seconds", "When `verify --record` last ran (Unix time)"
        )
        ran.add_metric([], canonical_timestamp(last["at"]).timestamp())
        valid = GaugeMetricFamily(
            "ledger_verify_last_run_valid", "1 if the last recorded `verify` found the log valid, else 0"
        )
        valid.add_metric([], 1 if last["valid"] else 0)
        out: list[Metric] = [ran, valid]
        if last.get("last_valid_at"):
            ok = GaugeMetricFamily(
                "ledger_verify_last_success_timestamp_seconds",
                "When a recorded `verify` last found the log valid (Unix time)",
            )
            ok.add_metric([], canonical_timestamp(last["last_valid_at"]).timestamp())
            out.append(ok)
        return out


def view_lags(cur: SqlCursor, now: datetime) -> dict[str, tuple[int, float]]:
    """Each view's lag: (events not applied yet, age in seconds of the oldest of them, 0 when none).

    A view the runner never started (no tracking row, or no tracking table yet) lags by every event.
    """
    from projections.service import VIEW_NAMES

    head = int(cur.execute("SELECT MAX(seq) AS m FROM {t:ledger_chain}").scalar() or 0)
    positions: dict[str, int] = {}
    if cur.has_table("view_tracking"):
        positions = {
            str(r["name"]): int(r["seq"])
            for r in cur.execute("SELECT name, seq FROM {t:view_tracking}").all()
        }
    ages: dict[int, float] = {}  # position -> age of the event after it
    out: dict[str, tuple[int, float]] = {}
    for name in VIEW_NAMES:
        position = positions.get(name, 0)
        if position >= head:
            out[name] = (0, 0.0)
            continue
        if position not in ages:
            first = cur.execute(
                "SELECT recorded_at FROM {t:ledger_chain} WHERE seq = ?", (position + 1,)
            ).scalar()
            ages[position] = 0.0 if first is None else _seconds(now, str(first))
        out[name] = (head - position, ages[position])
    return out


def record_verify_result(store: LedgerStore, at: datetime, valid: bool, tree_size: int) -> None:
    """Keep the outcome of a ``verify`` in ``ledger_meta`` for the collectors (``verify --record``)."""
    with store.write(lock=False) as cur:
        raw = cur.execute("SELECT v FROM {t:ledger_meta} WHERE k = ?", (VERIFY_META,)).scalar()
        before = json.loads(str(raw)) if raw is not None else {}
        text = format_instant(at)
        value = {
            "at": text,
            "valid": valid,
            "tree_size": tree_size,
            "last_valid_at": text if valid else before.get("last_valid_at"),
        }
        cur.execute(
            "INSERT INTO {t:ledger_meta} (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
            (VERIFY_META, json.dumps(value, sort_keys=True)),
        )
