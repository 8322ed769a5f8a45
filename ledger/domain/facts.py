"""Stored events as the pure rules see them: ordered facts without personal values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from ledger.domain.timeutil import canonical_timestamp

__all__ = ["Fact", "business_order"]


@dataclass(frozen=True)
class Fact:
    """One stored event: its chain position, both clocks, envelope ids and non-personal payload.

    ``payload`` is the stored payload: personal fields are ciphertext envelopes, which no rule reads.
    ``subject_id`` is the envelope subject, not resolved through merges (``None`` for alert handling).
    """

    seq: int
    recorded_at: datetime
    occurred_at: datetime
    event_id: str
    event_type: str
    subject_id: str | None
    payload: Mapping[str, Any]
    producer_system: str = ""

    @classmethod
    def from_record(cls, record: Mapping[str, Any], seq: int) -> Fact:
        """Build a fact from a stored record (the ledger's ``record`` dict) and its ``seq``."""
        return cls(
            seq=seq,
            recorded_at=_stored_instant(str(record["recorded_at"])),
            occurred_at=_stored_instant(str(record["occurred_at"])),
            event_id=str(record["event_id"]),
            event_type=str(record["event_type"]),
            subject_id=record.get("subject_id"),
            payload=record.get("payload") or {},
            producer_system=str((record.get("producer") or {}).get("system", "")),
        )

    @property
    def order_key(self) -> tuple[datetime, int]:
        """Business order (spec section 2, Recomputation): ``occurred_at``, ties by ``seq``."""
        return (self.occurred_at, self.seq)


# Lengths of ``YYYY-MM-DDTHH:MM:SSZ`` with no, 3 or 6 fractional digits: the forms the ledger writes and most
# producers send, which ``datetime.fromisoformat`` reads to the same instant as ``canonical_timestamp``.
_ISO_LENGTHS: Final = frozenset({20, 24, 27})


def _stored_instant(text: str) -> datetime:
    """``canonical_timestamp(text)`` of a stored (validated) timestamp, read faster in its usual forms."""
    if len(text) in _ISO_LENGTHS and text[-1] == "Z" and text[10] == "T":
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            pass
    return canonical_timestamp(text)


def business_order(facts: list[Fact]) -> list[Fact]:
    """The facts sorted by ``occurred_at`` then ``seq``."""
    return sorted(facts, key=lambda f: f.order_key)
