"""What erasure and parking may use of the batch being written (breaks writer -> erasure -> writer).

:class:`ledger.store.writer.BatchWriter` satisfies :class:`WriteContext`; erasure and parking are
written against this protocol only, so the writer can import them at module level.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from ledger.domain.validation import LedgerFacts
from ledger.errors import EventRejected
from ledger.store.dialect import SqlCursor
from ledger.store.keystore import KeyRing
from ledger.store.messages import BatchResult, Message

__all__ = ["WriteContext"]


class WriteContext(LedgerFacts, Protocol):
    """One open, locked write transaction and what the batch learnt so far."""

    cur: SqlCursor
    ring: KeyRing
    result: BatchResult
    recorded_at: datetime
    recorded_at_text: str
    park_grace_seconds: int
    # Parked events of this batch's event ids, and every parked reference (kind, id).
    parked: dict[str, tuple[str, str]]
    parked_refs: set[tuple[str, str]]

    def known_event(self, event_id: str) -> tuple[str, str] | None:
        """(fingerprint key id, fingerprint) of a stored or just appended event, else None."""
        ...

    def entity(self, kind: str, entity_id: str) -> dict[str, Any] | None:
        """The created entity (request, hold, ...) row, or None if it does not exist (yet)."""
        ...

    def append_sealed(
        self, sealed: dict[str, Any], fp_kid: str, fingerprint: str, *, producer: bool
    ) -> None: ...

    def dead_letter(self, msg: Message, exc: EventRejected, event: dict[str, Any] | None = None) -> None: ...

    def system_event(
        self,
        event_type: str,
        subject_id: str,
        occurred_at: str,
        payload: dict[str, Any],
        *,
        cause: str,
        correlation_id: str,
    ) -> None: ...

    def merged_set(self, subject_id: str) -> list[str]: ...
