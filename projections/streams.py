"""Fleet-wide views of entity streams (rights requests, complaints): their facts kept as view rows.

The request queue and the complaints queue must answer any ``as_of`` from their own tables, without
replaying the event store: each keeps the non-personal skeleton of its stream's events, and a query
folds them with the pure clock of ``ledger.domain`` at the asked instant.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

from ledger.domain.catalogue import EVENT_TYPES, StreamKind
from ledger.domain.facts import Fact
from ledger.domain.timeutil import canonical_timestamp
from ledger.store.dialect import Dialect, InList, SqlCursor
from projections.base import StoredFact, dumps, utc

__all__ = ["StreamView"]

_FACT_COLUMNS = (
    *("entity_id", "seq", "event_id", "event_type", "occurred_at", "recorded_at", "subject_id"),
    "payload",
)
_SUMMARY_COLUMNS = ("entity_id", "subject_id", "received_at", "closed_at", "last_seq", "summary")


def in_kind(stored: StoredFact, kind: StreamKind) -> bool:
    """True if the stored event belongs to a stream of ``kind``."""
    spec = EVENT_TYPES.get(stored.fact.event_type)
    return spec is not None and spec.stream is kind


class StreamView:
    """Keeps every event of one kind of stream as a row; subclasses summarise a stream per event."""

    name: ClassVar[str]
    kind: ClassVar[StreamKind]
    id_field: ClassVar[str]
    tables: ClassVar[tuple[str, ...]]

    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        cls.tables = (f"view_{cls.name}_facts", f"view_{cls.name}")

    @property
    def facts_table(self) -> str:
        return f"view_{self.name}_facts"

    @property
    def table(self) -> str:
        return f"view_{self.name}"

    def create_statements(self, d: Dialect) -> list[str]:
        """The facts table and the summary table."""
        big = d.bigint
        return [
            f"CREATE TABLE IF NOT EXISTS {d.table(self.facts_table)} (entity_id TEXT NOT NULL, "
            f"seq {big} NOT NULL, event_id TEXT NOT NULL, event_type TEXT NOT NULL, "
            "occurred_at TEXT NOT NULL, recorded_at TEXT NOT NULL, subject_id TEXT, payload TEXT NOT NULL, "
            "PRIMARY KEY (entity_id, seq))",
            f"CREATE TABLE IF NOT EXISTS {d.table(self.table)} (entity_id TEXT PRIMARY KEY, "
            "subject_id TEXT, received_at TEXT, closed_at TEXT, last_seq BIGINT NOT NULL, "
            "summary TEXT NOT NULL)",
            f"CREATE INDEX IF NOT EXISTS {self.table}_received_idx ON {d.table(self.table)} (received_at)",
            # A subject's requests or complaints (``candidates(subjects=...)``) without reading every row.
            f"CREATE INDEX IF NOT EXISTS {self.table}_subject_idx ON {d.table(self.table)} (subject_id)",
        ]

    def reset(self) -> None:
        """No in-memory state."""

    def apply_batch(self, cur: SqlCursor, facts: Sequence[StoredFact], ctx: Any) -> None:
        """Keep the events of this kind of stream, then refresh each touched stream's summary.

        One read of the touched streams' kept facts, one insert of the new ones, and one rewrite of their
        summaries; the hook runs after each event on the stream's facts up to that event, as it would
        one event at a time.
        """
        mine = [stored for stored in facts if in_kind(stored, self.kind)]
        if not mine:
            return
        rows: list[tuple[Any, ...]] = []
        for stored in mine:
            fact = stored.fact
            entity = str(fact.payload.get(self.id_field, ""))
            rows.append(
                (
                    entity,
                    fact.seq,
                    fact.event_id,
                    fact.event_type,
                    stored.occurred_text,
                    stored.recorded_text,
                    fact.subject_id,
                    dumps(stored.skeleton),
                )
            )
        kept = self.load(cur, [row[0] for row in rows])
        cur.insert_rows(self.facts_table, _FACT_COLUMNS, rows)
        latest: dict[str, tuple[list[Fact], Fact]] = {}
        for stored, row in zip(mine, rows, strict=True):
            entity = row[0]
            # The fact as ``load`` would read it back from its row.
            stream = kept[entity]
            stream.append(_fact(dict(zip(_FACT_COLUMNS, row, strict=True))))
            latest[entity] = (stream, stored.fact)
            self.after_update(cur, entity, stream, stored.fact, ctx)
        entities = sorted(latest)
        for start in range(0, len(entities), 1000):
            chunk = InList(entities[start : start + 1000])
            cur.execute(f"DELETE FROM {{t:{self.table}}} WHERE entity_id {{in}}", (chunk,))
        summaries = []
        for entity, (stream, fact) in latest.items():
            summary = self.summarise(stream, ctx)
            summaries.append(
                (
                    entity,
                    summary.get("subject_id"),
                    summary.get("received_at"),
                    summary.get("closed_at"),
                    fact.seq,
                    dumps(summary),
                )
            )
        cur.insert_rows(self.table, _SUMMARY_COLUMNS, summaries)

    def summarise(self, facts: list[Fact], ctx: Any) -> dict[str, Any]:
        """The stored summary of a stream (receipt, closure, subject) from all its facts."""
        raise NotImplementedError

    def after_update(self, cur: SqlCursor, entity: str, facts: list[Fact], fact: Fact, ctx: Any) -> None:
        """Hook: e.g. alerts raised by the stream's events."""

    # -- reading -----------------------------------------------------------------------------

    def load(self, cur: SqlCursor, entities: Iterable[str]) -> dict[str, list[Fact]]:
        """The kept facts of each stream, in seq order."""
        wanted = sorted(set(entities))
        out: dict[str, list[Fact]] = {e: [] for e in wanted}
        for start in range(0, len(wanted), 1000):
            chunk = wanted[start : start + 1000]
            rows = cur.execute(
                f"SELECT * FROM {{t:{self.facts_table}}} WHERE entity_id {{in}} ORDER BY entity_id, seq",
                (InList(chunk),),
            ).all()
            for r in rows:
                out[str(r["entity_id"])].append(_fact(r))
        return out

    def of_subjects(
        self, cur: SqlCursor, ids: list[str], subjects: set[str], resolve: Any = None
    ) -> list[str]:
        """The streams among ``ids`` whose receipt names one of ``subjects`` (or resolves to one)."""
        if not ids:
            return []
        rows = cur.execute(
            f"SELECT entity_id, subject_id FROM {{t:{self.table}}} WHERE entity_id {{in}}", (InList(ids),)
        ).all()
        keep = set()
        for r in rows:
            subject = r["subject_id"]
            if subject is None:
                continue
            if subject in subjects or (resolve is not None and resolve(subject) in subjects):
                keep.add(str(r["entity_id"]))
        return [i for i in ids if i in keep]

    def candidates(
        self, cur: SqlCursor, as_of: datetime, *, include_closed: bool, subjects: Iterable[str] | None = None
    ) -> list[str]:
        """Streams received by ``as_of`` (and, unless asked otherwise, still open at it); with ``subjects``
        only those whose receipt names one of them."""
        as_of_text = utc(as_of)
        sql = f"SELECT entity_id FROM {{t:{self.table}}} WHERE received_at IS NOT NULL AND received_at <= ?"
        params: list[Any] = [as_of_text]
        if not include_closed:
            sql += " AND (closed_at IS NULL OR closed_at > ?)"
            params.append(as_of_text)
        if subjects is not None:
            sql += " AND subject_id {in}"
            params.append(InList(sorted(set(subjects))))
        return [str(r["entity_id"]) for r in cur.execute(sql + " ORDER BY entity_id", params).all()]


def _fact(row: Mapping[str, Any]) -> Fact:
    return Fact(
        seq=int(row["seq"]),
        recorded_at=_instant(str(row["recorded_at"])),
        occurred_at=_instant(str(row["occurred_at"])),
        event_id=str(row["event_id"]),
        event_type=str(row["event_type"]),
        subject_id=row["subject_id"],
        payload=json.loads(row["payload"]),
    )


def _instant(text: str) -> datetime:
    """A column the view wrote with ``utc`` (``YYYY-MM-DDTHH:MM:SS.ffffffZ``): the fast ISO parser reads it
    exactly; any other text goes through the strict parser."""
    if len(text) == 27 and text[10] == "T" and text[19] == "." and text[26] == "Z":
        return datetime.fromisoformat(text)
    return canonical_timestamp(text)
