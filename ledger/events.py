"""Stored event classes on the eventsourcing library, one per catalogue type, with explicit topics.

Each ingested event is appended to one stream (spec: one per subject, per rights request, per complaint;
alert-handling events to one per alert). The event's ``record`` is the stored form: the validated
envelope with personal fields as ciphertext envelopes, plus ``recorded_at``. That record (with ``seq``
and ``prev_hash``) is what the integrity chain hashes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eventsourcing.domain import DomainEvent

from ledger.domain.catalogue import EVENT_TYPES, stored_topic
from ledger.streams import record_stream, stream_id  # re-exported: they were defined here

__all__ = ["EVENT_CLASSES", "LedgerEvent", "event_class", "record_stream", "stream_id"]


@dataclass(frozen=True)
class LedgerEvent(DomainEvent):
    """A stored ledger event: ``record`` holds the hashed stored form (ciphertext for personal fields)."""

    record: dict[str, Any]

    @property
    def event_type(self) -> str:
        """The catalogue event type."""
        return str(self.record["event_type"])


def _make(name: str) -> type[LedgerEvent]:
    cls = type(
        name,
        (LedgerEvent,),
        {"TOPIC": stored_topic(name), "__module__": __name__, "__qualname__": name},
    )
    return dataclass(frozen=True)(cls)


# One class per catalogue type; the stored topic (e.g. ``privacy.consent_withdrawn.v1``) is explicit
# and stable, so renaming or moving Python code never orphans stored events.
EVENT_CLASSES: dict[str, type[LedgerEvent]] = {name: _make(name) for name in EVENT_TYPES}


def event_class(event_type: str) -> type[LedgerEvent]:
    """The stored event class of a catalogue event type."""
    return EVENT_CLASSES[event_type]
