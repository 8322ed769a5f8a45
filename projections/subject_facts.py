"""A view that keeps, per envelope subject, the skeleton of the facts a pure rule reads.

One row per kept fact, an ``anchor`` flag marking the facts that make a subject show up in a fleet-wide
query, and a loader that reads the anchors at ``as_of`` and then the other facts of the anchored
subjects' resolution sets. The notices and retention views are built on it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

from ledger.domain.facts import Fact
from ledger.store.dialect import Dialect, InList, SqlCursor
from projections.base import StoredFact, dumps, utc
from projections.reading import ReadContext

__all__ = ["SubjectFactsView"]

_CHUNK = 500  # subjects per IN list for the few subjects only reachable through a merge
_COLUMNS = ("seq", "subject_id", "event_id", "event_type", "occurred_at", "recorded_at", "anchor", "payload")


class SubjectFactsView:
    """Keeps the skeleton of selected facts per envelope subject; subclasses choose them with ``keep``."""

    name: ClassVar[str]
    tables: ClassVar[tuple[str, ...]]

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        cls.tables = (f"view_{cls.name}_facts",)

    @property
    def table(self) -> str:
        """The facts table."""
        return f"view_{self.name}_facts"

    def keep(self, fact: Fact) -> tuple[bool, dict[str, Any]] | None:
        """``(anchor, skeleton payload)`` for a fact the view keeps, or None."""
        raise NotImplementedError

    def create_statements(self, d: Dialect) -> list[str]:
        """One row per kept fact; indexes for the anchor read and the per-subject read."""
        t = d.table(self.table)
        return [
            f"CREATE TABLE IF NOT EXISTS {t} (seq {d.bigint} PRIMARY KEY, subject_id TEXT NOT NULL, "
            "event_id TEXT NOT NULL, event_type TEXT NOT NULL, occurred_at TEXT NOT NULL, "
            "recorded_at TEXT NOT NULL, anchor INTEGER NOT NULL, payload TEXT NOT NULL)",
            f"CREATE INDEX IF NOT EXISTS {self.table}_anchor_idx ON {t} (anchor, occurred_at, subject_id)",
            f"CREATE INDEX IF NOT EXISTS {self.table}_subject_idx ON {t} (subject_id, occurred_at)",
        ]

    def reset(self) -> None:
        """No in-memory state."""

    def apply_batch(self, cur: SqlCursor, facts: Sequence[StoredFact], ctx: Any) -> None:
        """Insert the rows of the facts the view keeps (facts without a subject are never kept)."""
        rows = []
        for stored in facts:
            fact = stored.fact
            if fact.subject_id is None:
                continue
            kept = self.keep(fact)
            if kept is None:
                continue
            anchor, payload = kept
            rows.append(
                (
                    fact.seq,
                    fact.subject_id,
                    fact.event_id,
                    fact.event_type,
                    stored.occurred_text,
                    stored.recorded_text,
                    1 if anchor else 0,
                    dumps(payload),
                )
            )
        cur.insert_rows(self.table, _COLUMNS, rows)

    # -- reading -----------------------------------------------------------------------------

    def facts_by_subject(
        self, cur: SqlCursor, rctx: ReadContext, subject: str | None = None
    ) -> dict[str, list[Fact]]:
        """Kept facts with ``occurred_at`` <= ``as_of``, grouped by resolved subject (merges as they are now).

        With ``subject``: only that subject's resolution set. Without: every resolution set holding an
        anchor at ``as_of`` (three reads: the anchors, the merges, the other facts of those sets).
        """
        as_of = utc(rctx.as_of)
        t = self.table
        if subject is not None:
            members = rctx.members(rctx.resolve(subject))
            rows = cur.execute(
                f"SELECT * FROM {{t:{t}}} WHERE subject_id {{in}} AND occurred_at <= ?",
                (InList(members), as_of),
            ).all()
        else:
            rows = cur.execute(
                f"SELECT * FROM {{t:{t}}} WHERE anchor = 1 AND occurred_at <= ?", (as_of,)
            ).all()
            anchored = {str(r["subject_id"]) for r in rows}
            survivors = {rctx.resolve(s) for s in anchored}
            merged = cur.execute("SELECT merged_subject_id FROM {t:ledger_merges}").all()
            reachable = survivors | {
                m for m in (str(r["merged_subject_id"]) for r in merged) if rctx.resolve(m) in survivors
            }
            rows += cur.execute(
                f"SELECT * FROM {{t:{t}}} WHERE anchor = 0 AND occurred_at <= ? AND subject_id IN "
                f"(SELECT subject_id FROM {{t:{t}}} WHERE anchor = 1 AND occurred_at <= ?)",
                (as_of, as_of),
            ).all()
            extra = sorted(reachable - anchored)
            for start in range(0, len(extra), _CHUNK):
                rows += cur.execute(
                    f"SELECT * FROM {{t:{t}}} WHERE subject_id {{in}} AND occurred_at <= ?",
                    (InList(extra[start : start + _CHUNK]), as_of),
                ).all()
        grouped: dict[str, list[Fact]] = {}
        for row in sorted(rows, key=lambda r: int(r["seq"])):
            fact = _fact(row)
            grouped.setdefault(rctx.resolve(str(fact.subject_id)), []).append(fact)
        return dict(sorted(grouped.items()))


def _fact(row: Mapping[str, Any]) -> Fact:
    # The columns hold the view's own ``utc`` text, so the fast ISO parser reads them exactly.
    return Fact(
        seq=int(row["seq"]),
        recorded_at=datetime.fromisoformat(str(row["recorded_at"])),
        occurred_at=datetime.fromisoformat(str(row["occurred_at"])),
        event_id=str(row["event_id"]),
        event_type=str(row["event_type"]),
        subject_id=str(row["subject_id"]),
        payload=json.loads(row["payload"]),
    )
