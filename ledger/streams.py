"""The streams events are appended to: one per subject, rights request, complaint or alert (spec 3.2).

Apart from ``ledger.events`` (whose stored event classes take a while to create) so that readers, the
chain's verification and the views find an event's stream without importing the append path.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from uuid import UUID, uuid5

from ledger.domain.catalogue import EVENT_TYPES, StreamKind

__all__ = ["record_stream", "stream_id"]

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
