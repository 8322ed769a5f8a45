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
from typing import Any, ClassVar

from ledger.domain.alert_model import Alert
from ledger.domain.alerts import IncrementalAlerts
from ledger.domain.catalogue import EVENT_TYPES
from ledger.domain.facts import Fact
from ledger.store.dialect import Dialect, InList, SqlCursor
from projections.base import StoredFact, dumps, utc
from projections.context import ProjectionContext

__all__ = ["AlertsView", "alert_row", "sync_alerts"]

# Resolved subjects whose alert engines stay in memory; others are rebuilt from the store when needed
# (a 200k-event store has ~15k subjects: a smaller cache rebuilt engines 65k times in a rebuild).
_ENGINE_CACHE = 50_000


def sync_alerts(
    cur: SqlCursor, scopes: Sequence[str], new_scope: str, alerts: Iterable[Alert], fact: Fact
) -> None:
    """Make the live alerts of ``scopes`` equal ``alerts`` (now owned by ``new_scope``), as of ``fact``."""
    rows = cur.execute(
        "SELECT alert_id, scope, status, subject_id, related_event_ids, message FROM {t:view_alerts} "
        "WHERE scope {in}",
        (InList(list(scopes)),),
    ).all()
    existing = {str(r["alert_id"]): r for r in rows}
    wanted = {a.alert_id: a for a in alerts}
    when = utc(fact.recorded_at)
    for alert_id, old in sorted(existing.items()):
        if alert_id not in wanted and old["status"] != "RETRACTED":
            cur.execute(
                "UPDATE {t:view_alerts} SET status = 'RETRACTED', retracted_at = ?, changed_seq = ? "
                "WHERE alert_id = ?",
                (when, fact.seq, alert_id),
            )
    for alert_id, alert in sorted(wanted.items()):
        row: dict[str, Any] | None = existing.get(alert_id)
        if row is None:
            # Raised for the first time ever (a row never leaves the table).
            found = cur.execute(
                "SELECT alert_id, scope, status, subject_id, related_event_ids, message FROM {t:view_alerts} "
                "WHERE alert_id = ?",
                (alert_id,),
            ).one()
            if found is None:
                cur.execute(
                    "INSERT INTO {t:view_alerts} (alert_id, scope, code, severity, subject_id, "
                    "triggering_event_id, related_event_ids, event_occurred_at, detected_at, status, "
                    "message, as_of_rule, raised_seq, changed_seq, retracted_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'OPEN', ?, 0, ?, ?, NULL)",
                    (
                        alert_id,
                        new_scope,
                        alert.code,
                        alert.severity,
                        alert.subject_id,
                        alert.trigger_id.split("#")[0],
                        dumps(list(alert.related_event_ids)),
                        alert.event_occurred_at,
                        when,
                        alert.message,
                        fact.seq,
                        fact.seq,
                    ),
                )
                continue
            row = found
        changed = (
            row["status"] == "RETRACTED"
            or row.get("scope", new_scope) != new_scope
            or row.get("subject_id") != alert.subject_id
            or row.get("related_event_ids") != dumps(list(alert.related_event_ids))
            or row.get("message") != alert.message
        )
        if changed:
            # Re-raised or updated: detected_at keeps the first detection.
            cur.execute(
                "UPDATE {t:view_alerts} SET scope = ?, status = 'OPEN', retracted_at = NULL, subject_id = ?, "
                "related_event_ids = ?, message = ?, changed_seq = ? WHERE alert_id = ?",
                (
                    new_scope,
                    alert.subject_id,
                    dumps(list(alert.related_event_ids)),
                    alert.message,
                    fact.seq,
                    alert_id,
                ),
            )


class AlertsView:
    """Event-triggered alerts of subjects (rules A1-A15, A22-A24) and alert handling events."""

    name: ClassVar[str] = "alerts"
    tables: ClassVar[tuple[str, ...]] = ("view_alerts", "view_alert_handling")

    def __init__(self) -> None:
        self._engines: OrderedDict[str, IncrementalAlerts] = OrderedDict()
        # The alert set each cached engine had after its last fact, as written to the table.
        self._live: dict[str, dict[str, Alert]] = {}

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
            f"CREATE TABLE IF NOT EXISTS {d.table('view_alert_handling')} (alert_id TEXT PRIMARY KEY, "
            "acknowledged_at TEXT, resolved_at TEXT, handled_seq BIGINT NOT NULL)",
        ]

    def reset(self) -> None:
        """Drop the cached engines."""
        self._engines.clear()
        self._live.clear()

    def apply(self, cur: SqlCursor, stored: StoredFact, ctx: ProjectionContext) -> None:
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
            self._engines.pop(merged, None)
            self._engines.pop(survivor, None)
            self._live.pop(merged, None)
            engine = self._engine(cur, survivor, fact.seq, ctx)
            self._live[survivor] = {a.alert_id: a for a in engine.alerts}
            sync_alerts(
                cur, [f"subject:{survivor}", f"subject:{merged}"], f"subject:{survivor}", engine.alerts, fact
            )
            return
        known = survivor in self._engines
        engine = self._engine(cur, survivor, fact.seq - 1, ctx)
        before = self._live.get(survivor) if known else None
        engine.append(fact)
        after = {a.alert_id: a for a in engine.alerts}
        self._live[survivor] = after
        if before is not None and before == after:
            return  # nothing raised, retracted or changed: no need to read or write the table
        sync_alerts(cur, [f"subject:{survivor}"], f"subject:{survivor}", after.values(), fact)

    def _engine(
        self, cur: SqlCursor, survivor: str, up_to_seq: int, ctx: ProjectionContext
    ) -> IncrementalAlerts:
        # A cached engine is current: every fact of its subject passes through apply, in seq order.
        cached = self._engines.get(survivor)
        if cached is not None:
            self._engines.move_to_end(survivor)
            return cached
        engine = IncrementalAlerts(ctx.codes, survivor)
        for past in ctx.subject_facts(cur, ctx.members(survivor, up_to_seq), up_to_seq):
            engine.append(past)
        self._engines[survivor] = engine
        while len(self._engines) > _ENGINE_CACHE:
            evicted, _ = self._engines.popitem(last=False)
            self._live.pop(evicted, None)
        return engine

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
