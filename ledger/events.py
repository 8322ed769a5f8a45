"""Stored event classes on the eventsourcing library, one per catalogue type, with explicit topics.

Each ingested event is appended to one stream (spec: one per subject, per rights request, per complaint;
alert-handling events to one per alert). The event's ``record`` is the stored form: the validated
envelope with personal fields as ciphertext envelopes, plus ``recorded_at``. That record (with ``seq``
and ``prev_hash``) is what the integrity chain hashes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import DomainEvent

from ledger.domain.catalogue import EVENT_TYPES, StreamKind, stored_topic

__all__ = ["EVENT_CLASSES", "LedgerEvent", "event_class", "record_stream", "stream_id"]

# Namespaces that keep the stream ids of subjects, requests, complaints and alerts apart even if a
# producer reused one UUID for two kinds of entity.
_STREAM_NAMESPACES = {
    StreamKind.SUBJECT: UUID("6f1d3c52-5a0e-4b8e-9f61-2f0c1b7d9a01"),
    StreamKind.REQUEST: UUID("6f1d3c52-5a0e-4b8e-9f61-2f0c1b7d9a02"),
    StreamKind.COMPLAINT: UUID("6f1d3c52-5a0e-4b8e-9f61-2f0c1b7d9a03"),
    StreamKind.ALERT: UUID("6f1d3c52-5a0e-4b8e-9f61-2f0c1b7d9a04"),
}


@lru_cache(maxsize=65536)
def stream_id(kind: StreamKind, entity_id: str) -> UUID:
    """The stable stream (originator) id of a subject, request, complaint or alert."""
    return uuid5(_STREAM_NAMESPACES[kind], entity_id)


def record_stream(event: dict[str, Any]) -> UUID:
    """The stream an event is appended to: its rights request, complaint or alert, else its subject."""
    spec = EVENT_TYPES[event["event_type"]]
    payload = event["payload"]
    if spec.stream is StreamKind.REQUEST:
        return stream_id(spec.stream, payload["request_id"])
    if spec.stream is StreamKind.COMPLAINT:
        return stream_id(spec.stream, payload["complaint_id"])
    if spec.stream is StreamKind.ALERT:
        return stream_id(spec.stream, payload["alert_id"])
    return stream_id(StreamKind.SUBJECT, event["subject_id"])


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
