"""Alerts view (spec 6.5): every alert ever raised, with its status history, never deleted.

Alert history is a pure function of the store read in ``seq`` order (spec section 2): after each event
the alert set of the affected scope (a resolved subject, or a request) is recomputed and compared with
the set before it. New alerts are raised with ``detected_at`` = that event's ``recorded_at``; alerts no
longer justified (a late event changed the past) become ``RETRACTED``. As-of alerts (A16, A17, A25,
A26) are computed at query time from the fleet views, at the asked instant.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, ClassVar, Final

from ledger.domain.alert_model import Alert
from ledger.domain.alerts import IncrementalAlerts
from ledger.domain.catalogue import EVENT_TYPES
from ledger.domain.facts import Fact
from ledger.store.dialect import Dialect, InList, SqlCursor
from projections.base import StoredFact, dumps, utc
from projections.context import ProjectionContext

__all__ = ["AlertRows", "AlertsView", "Sync", "alert_row", "sync_alerts"]

# The facts the cached alert engines may hold in all (an engine keeps every fact of its subject, about
# 3 KB each in memory): the least recently used engines are dropped beyond it, and rebuilt from the store
# (one read per batch for all of the batch's subjects) when their subject's next fact comes. It is what
# bounds `project`'s memory: `project --once` over 1,018,836 sample events peaked at 253 MB with 50,000
# (410 MB with 100,000; flat once the budget is held), at the same rate (bench/README.md, `scale.py`).
ENGINE_CACHE_FACTS = 50_000


_COLUMNS: Final = (
    *("alert_id", "scope", "code", "severity", "subject_id", "triggering_event_id", "related_event_ids"),
    *("event_occurred_at", "detected_at", "status", "message", "as_of_rule", "raised_seq", "changed_seq"),
    "retracted_at",
)
_CHUNK: Final = 1000  # ids or scopes per IN list

# One ``AlertRows.sync`` to make: (scopes, new scope, the alerts, the fact that made them).
Sync = tuple[list[str], str, list[Alert], Fact]


class AlertRows:
    """The alert rows of one batch: read once (per scope, or per id), changed in memory, written at the end.

    ``sync`` makes exactly the changes one UPDATE/INSERT per alert would make; ``flush`` writes the rows
    it changed (one DELETE of those that were stored, one bulk insert), so the table ends the same.
    """

    def __init__(self) -> None:
        self._rows: dict[str, dict[str, Any]] = {}  # alert id -> the row as it now stands
        self._by_scope: dict[str, set[str]] = {}  # scope -> ids of the rows above in it
        self._loaded: set[str] = set()  # scopes whose rows are all in ``_rows``
        self._absent: set[str] = set()  # ids known to have no row
        self._stored: set[str] = set()  # ids of ``_rows`` read from the table
        self._dirty: set[str] = set()  # ids of ``_rows`` changed since read (or new)

    def load(self, cur: SqlCursor, scopes: Iterable[str]) -> None:
        """Read the rows of the ``scopes`` not read yet (one query per thousand scopes)."""
        missing = sorted(set(scopes) - self._loaded)
        for start in range(0, len(missing), _CHUNK):
            chunk = missing[start : start + _CHUNK]
            rows = cur.execute("SELECT * FROM {t:view_alerts} WHERE scope {in}", (InList(chunk),)).all()
            for row in rows:
                self._take(row)
        self._loaded.update(missing)

    def load_ids(self, cur: SqlCursor, ids: Iterable[str]) -> None:
        """Read the rows of the alert ids not known yet (one query per thousand ids)."""
        missing = sorted({i for i in ids if i not in self._rows and i not in self._absent})
        for start in range(0, len(missing), _CHUNK):
            chunk = missing[start : start + _CHUNK]
            rows = cur.execute("SELECT * FROM {t:view_alerts} WHERE alert_id {in}", (InList(chunk),)).all()
            for row in rows:
                self._take(row)
            self._absent.update(i for i in chunk if i not in self._rows)

    def replay(self, cur: SqlCursor, syncs: Sequence[Sync]) -> None:
        """``sync`` each of ``syncs`` in order after reading every row they can touch (a few queries)."""
        self.load(cur, {scope for sync in syncs for scope in sync[0]})
        self.load_ids(cur, {alert.alert_id for sync in syncs for alert in sync[2]})
        for scopes, new_scope, alerts, fact in syncs:
            self.sync(cur, scopes, new_scope, alerts, fact)

    def _take(self, row: dict[str, Any]) -> None:
        alert_id = str(row["alert_id"])
        if alert_id in self._rows:
            return  # the row in memory is newer than the table's
        self._rows[alert_id] = row
        self._stored.add(alert_id)
        self._by_scope.setdefault(str(row["scope"]), set()).add(alert_id)

    def _find(self, cur: SqlCursor, alert_id: str) -> dict[str, Any] | None:
        row = self._rows.get(alert_id)
        if row is not None or alert_id in self._absent:
            return row
        found = cur.execute("SELECT * FROM {t:view_alerts} WHERE alert_id = ?", (alert_id,)).one()
        if found is None:
            self._absent.add(alert_id)
            return None
        self._take(found)
        return found

    def _change(self, key: str, row: dict[str, Any], **values: Any) -> None:
        old_scope = row.get("scope")
        row.update(values)
        if row["scope"] != old_scope:
            if old_scope is not None:
                self._by_scope.get(str(old_scope), set()).discard(key)
            self._by_scope.setdefault(str(row["scope"]), set()).add(key)
        self._rows[key] = row
        self._absent.discard(key)
        self._dirty.add(key)

    def sync(
        self, cur: SqlCursor, scopes: Sequence[str], new_scope: str, alerts: Iterable[Alert], fact: Fact
    ) -> None:
        """Make the live alerts of ``scopes`` equal ``alerts`` (owned by ``new_scope``) as of ``fact``."""
        self.load(cur, scopes)
        existing = {i: self._rows[i] for scope in scopes for i in self._by_scope.get(scope, ())}
        wanted = {a.alert_id: a for a in alerts}
        when = utc(fact.recorded_at)
        for alert_id, old in sorted(existing.items()):
            if alert_id not in wanted and old["status"] != "RETRACTED":
                self._change(alert_id, old, status="RETRACTED", retracted_at=when, changed_seq=fact.seq)
        for alert_id, alert in sorted(wanted.items()):
            related = dumps(list(alert.related_event_ids))
            row = existing.get(alert_id) or self._find(cur, alert_id)
            if row is None:
                # Raised for the first time ever (a row never leaves the table).
                self._change(
                    alert_id,
                    {},
                    alert_id=alert_id,
                    scope=new_scope,
                    code=alert.code,
                    severity=alert.severity,
                    subject_id=alert.subject_id,
                    triggering_event_id=alert.trigger_id.split("#")[0],
                    related_event_ids=related,
                    event_occurred_at=alert.event_occurred_at,
                    detected_at=when,
                    status="OPEN",
                    message=alert.message,
                    as_of_rule=0,
                    raised_seq=fact.seq,
                    changed_seq=fact.seq,
                    retracted_at=None,
                )
                continue
            changed = (
                row["status"] == "RETRACTED"
                or row["scope"] != new_scope
                or row["subject_id"] != alert.subject_id
                or row["related_event_ids"] != related
                or row["message"] != alert.message
            )
            if changed:
                # Re-raised or updated: detected_at keeps the first detection.
                self._change(
                    alert_id,
                    row,
                    scope=new_scope,
                    status="OPEN",
                    retracted_at=None,
                    subject_id=alert.subject_id,
                    related_event_ids=related,
                    message=alert.message,
                    changed_seq=fact.seq,
                )

    def flush(self, cur: SqlCursor) -> None:
        """Write the changed rows: delete the stored ones, insert them all as they now stand."""
        dirty = sorted(self._dirty)
        stored = [i for i in dirty if i in self._stored]
        for start in range(0, len(stored), _CHUNK):
            cur.execute(
                "DELETE FROM {t:view_alerts} WHERE alert_id {in}", (InList(stored[start : start + _CHUNK]),)
            )
        cur.insert_rows("view_alerts", _COLUMNS, [[self._rows[i][c] for c in _COLUMNS] for i in dirty])
        self._stored.update(dirty)
        self._dirty.clear()


def sync_alerts(
    cur: SqlCursor, scopes: Sequence[str], new_scope: str, alerts: Iterable[Alert], fact: Fact
) -> None:
    """Make the live alerts of ``scopes`` equal ``alerts`` (now owned by ``new_scope``), as of ``fact``."""
    rows = AlertRows()
    rows.sync(cur, scopes, new_scope, alerts, fact)
    rows.flush(cur)


class AlertsView:
    """Event-triggered alerts of subjects (rules A1-A15, A22-A24) and alert handling events."""

    name: ClassVar[str] = "alerts"
    tables: ClassVar[tuple[str, ...]] = ("view_alerts", "view_alert_handling")

    def __init__(self, cache_facts: int = ENGINE_CACHE_FACTS) -> None:
        # The engines in memory hold at most this many facts (beyond it only the engine in use stays); a
        # subject whose engine was dropped is read back from the store when its next fact comes.
        self.cache_facts = cache_facts
        self._engines: OrderedDict[str, IncrementalAlerts] = OrderedDict()
        self._sizes: dict[str, int] = {}  # facts held by each cached engine
        self._held = 0  # their sum
        # The batch's histories read ahead by ``_prefetch``, each used at most once.
        self._histories: dict[str, tuple[int, list[Fact]]] = {}
        # The alert table changes of the batch being applied (made at its end).
        self._syncs: list[Sync] = []

    def create_statements(self, d: Dialect) -> list[str]:
        """The alert table and the acknowledgement/resolution table."""
        big = d.bigint
        return [
            f"CREATE TABLE IF NOT EXISTS {d.table('view_alerts')} (alert_id TEXT PRIMARY KEY, "
            "scope TEXT NOT NULL, code TEXT NOT NULL, severity TEXT NOT NULL, subject_id TEXT, "
            "triggering_event_id TEXT NOT NULL, related_event_ids TEXT NOT NULL, event_occurred_at TEXT, "
            "detected_at TEXT, status TEXT NOT NULL, "
            f"message TEXT NOT NULL, as_of_rule INTEGER NOT NULL, raised_seq {big} NOT NULL, "
            f"changed_seq {big} NOT NULL, retracted_at TEXT)",
            f"CREATE INDEX IF NOT EXISTS view_alerts_scope_idx ON {d.table('view_alerts')} (scope)",
            f"CREATE INDEX IF NOT EXISTS view_alerts_subject_idx ON {d.table('view_alerts')} (subject_id)",
            # Queries: the alert codes of a page's events (disclosures, exports), and the alerts of one
            # severity in their order, read page by page (projections.alerts_query.alerts_page).
            f"CREATE INDEX IF NOT EXISTS view_alerts_trigger_idx ON {d.table('view_alerts')} "
            "(triggering_event_id)",
            f"CREATE INDEX IF NOT EXISTS view_alerts_order_idx ON {d.table('view_alerts')} "
            "(severity, event_occurred_at, code, alert_id)",
            f"CREATE TABLE IF NOT EXISTS {d.table('view_alert_handling')} (alert_id TEXT PRIMARY KEY, "
            "acknowledged_at TEXT, resolved_at TEXT, handled_seq BIGINT NOT NULL)",
        ]

    def reset(self) -> None:
        """Drop the cached engines."""
        self._engines.clear()
        self._sizes.clear()
        self._held = 0

    def apply_batch(self, cur: SqlCursor, facts: Sequence[StoredFact], ctx: ProjectionContext) -> None:
        """Apply the facts in order; the histories of the subjects without a cached engine are read first,
        in one query for the whole batch."""
        self._histories = self._prefetch(cur, facts, ctx)
        self._syncs = []
        try:
            for stored in facts:
                self._apply(cur, stored, ctx)
            # The engines never read the alert table: its changes are made after them, all rows read at once.
            rows = AlertRows()
            rows.replay(cur, self._syncs)
            rows.flush(cur)
        finally:
            self._histories = {}
            self._syncs = []

    def _prefetch(
        self, cur: SqlCursor, facts: Sequence[StoredFact], ctx: ProjectionContext
    ) -> dict[str, tuple[int, list[Fact]]]:
        """(up_to_seq, history) of each subject whose first fact in the batch will find no cached engine."""
        wanted: dict[str, tuple[list[str], int]] = {}
        seen: set[str] = set()
        for stored in facts:
            fact = stored.fact
            if fact.subject_id is None or fact.event_type not in EVENT_TYPES:
                continue
            survivor = ctx.resolve(fact.subject_id, fact.seq)
            if survivor in seen:
                continue
            seen.add(survivor)
            # A merge always reads its survivor afresh (in ``_apply``); a cached engine is current.
            if fact.event_type != "SubjectsMerged" and survivor not in self._engines:
                wanted[survivor] = (ctx.members(survivor, fact.seq - 1), fact.seq - 1)
        if not wanted:
            return {}
        found = ctx.subject_histories(cur, wanted)
        return {survivor: (wanted[survivor][1], found[survivor]) for survivor in wanted}

    def _apply(self, cur: SqlCursor, stored: StoredFact, ctx: ProjectionContext) -> None:
        """Recompute the alerts of the fact's resolved subject; record alert handling."""
        fact = stored.fact
        if fact.event_type in ("AlertAcknowledged", "AlertResolved"):
            self._handle(cur, fact)
            return
        if fact.subject_id is None or fact.event_type not in EVENT_TYPES:
            return
        # Every fact naming the subject feeds its engine (request events included: some rules read them).
        survivor = ctx.resolve(fact.subject_id, fact.seq)
        if fact.event_type == "SubjectsMerged":
            merged = str(fact.payload["merged_subject_id"])
            self._drop(merged)
            self._drop(survivor)
            engine = self._engine(cur, survivor, fact.seq, ctx)
            self._syncs.append(
                ([f"subject:{survivor}", f"subject:{merged}"], f"subject:{survivor}", engine.alerts, fact)
            )
            return
        known = survivor in self._engines
        engine = self._engine(cur, survivor, fact.seq - 1, ctx)
        # The engine's changes are the difference between its alert sets before and after the fact.
        changes = engine.append(fact)
        self._sizes[survivor] += 1
        self._held += 1
        if known and not changes:
            return  # nothing raised, retracted or changed: no need to read or write the table
        after = {a.alert_id: a for a in engine.alerts}
        self._syncs.append(([f"subject:{survivor}"], f"subject:{survivor}", list(after.values()), fact))

    def _engine(
        self, cur: SqlCursor, survivor: str, up_to_seq: int, ctx: ProjectionContext
    ) -> IncrementalAlerts:
        # A cached engine is current: every fact of its subject passes through apply, in seq order.
        cached = self._engines.get(survivor)
        if cached is not None:
            self._engines.move_to_end(survivor)
            return cached
        engine = IncrementalAlerts(ctx.codes, survivor)
        prefetched = self._histories.pop(survivor, None)
        if prefetched is not None and prefetched[0] == up_to_seq:
            history = prefetched[1]
        else:
            history = ctx.subject_facts(cur, ctx.members(survivor, up_to_seq), up_to_seq)
        for past in history:
            engine.append(past)
        self._engines[survivor] = engine
        self._sizes[survivor] = len(history)
        self._held += len(history)
        while self._held > self.cache_facts and len(self._engines) > 1:
            self._drop(next(iter(self._engines)))  # the least recently used
        return engine

    def _drop(self, subject: str) -> None:
        """Forget a subject's engine."""
        if self._engines.pop(subject, None) is not None:
            self._held -= self._sizes.pop(subject)

    def _handle(self, cur: SqlCursor, fact: Fact) -> None:
        alert_id = str(fact.payload.get("alert_id"))
        column = "acknowledged_at" if fact.event_type == "AlertAcknowledged" else "resolved_at"
        when = utc(fact.occurred_at)
        row = cur.execute("SELECT * FROM {t:view_alert_handling} WHERE alert_id = ?", (alert_id,)).one()
        if row is None:
            cur.execute(
                f"INSERT INTO {{t:view_alert_handling}} (alert_id, {column}, handled_seq) VALUES (?, ?, ?)",
                (alert_id, when, fact.seq),
            )
        elif row[column] is None or row[column] > when:
            cur.execute(
                f"UPDATE {{t:view_alert_handling}} SET {column} = ?, handled_seq = ? WHERE alert_id = ?",
                (when, fact.seq, alert_id),
            )


def alert_row(row: dict[str, Any], handling: dict[str, Any] | None, as_of: datetime) -> dict[str, Any]:
    """The 6.5/section 5 output of one stored alert at ``as_of`` (status from its handling)."""
    as_of_text = utc(as_of)
    status = str(row["status"])
    if status != "RETRACTED" and handling is not None:
        if handling.get("resolved_at") and handling["resolved_at"] <= as_of_text:
            status = "RESOLVED"
        elif handling.get("acknowledged_at") and handling["acknowledged_at"] <= as_of_text:
            status = "ACKNOWLEDGED"
    return {
        "alert_id": row["alert_id"],
        "code": row["code"],
        "severity": row["severity"],
        "subject_id": row["subject_id"],
        "triggering_event_id": row["triggering_event_id"],
        "related_event_ids": json.loads(row["related_event_ids"]),
        "event_occurred_at": row["event_occurred_at"],
        "detected_at": row["detected_at"],
        "status": status,
        "message": row["message"],
    }
