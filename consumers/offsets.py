"""Kafka positions owned by the database: read on assignment, advanced in the batch's transaction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from consumers.errors import ConsumerError
from ledger.store.database import LedgerStore
from ledger.store.dialect import InList, SqlCursor

__all__ = ["OffsetConflict", "Span", "advance_offsets", "read_offsets"]

# (topic, partition) -> (the next offset the database held when this consumer read it, or None when it
# held none; the next offset after this batch)
Span = tuple[int | None, int]


class OffsetConflict(ConsumerError):
    """Another consumer moved a partition's position first: this batch is rolled back, not applied."""


def read_offsets(store: LedgerStore, topic: str, partitions: Iterable[int]) -> dict[int, int]:
    """The next offset to read for each partition the database has a position for."""
    wanted = sorted(set(partitions))
    if not wanted:
        return {}
    with store.read() as cur:
        rows = cur.execute(
            "SELECT partition, next_offset FROM {t:ledger_offsets} WHERE topic = ? AND partition {in}",
            (topic, InList(wanted)),
        ).all()
    return {int(r["partition"]): int(r["next_offset"]) for r in rows}


def advance_offsets(cur: SqlCursor, spans: Mapping[tuple[str, int], Span], now: str) -> None:
    """Compare-and-set each partition's position inside the open transaction.

    The update only applies where the stored position is still the one this consumer started from, so a
    consumer that lost its partitions (a zombie past ``max_poll_interval_ms``) cannot move a position
    its successor already moved: it gets :class:`OffsetConflict` and its whole batch rolls back.
    """
    for (topic, partition), (expected, next_offset) in sorted(spans.items()):
        if expected is None:
            cur.execute(
                "INSERT INTO {t:ledger_offsets} (topic, partition, next_offset, updated_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (topic, partition, next_offset, now),
            )
        else:
            cur.execute(
                "UPDATE {t:ledger_offsets} SET next_offset = ?, updated_at = ? "
                "WHERE topic = ? AND partition = ? AND next_offset = ?",
                (next_offset, now, topic, partition, expected),
            )
        if cur.rowcount != 1:
            raise OffsetConflict(f"position of {topic}[{partition}] was moved by another consumer")
