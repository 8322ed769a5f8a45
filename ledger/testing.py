"""Helpers for tests and simulations: build catalogue events with fictional data."""

from __future__ import annotations

import uuid
from typing import Any

__all__ = ["collected", "event", "new_id"]


def new_id() -> str:
    """A random canonical UUID string."""
    return str(uuid.uuid4())


def event(
    event_type: str,
    subject_id: str | None,
    payload: dict[str, Any],
    *,
    occurred_at: str = "2026-10-01T09:00:00Z",
    event_id: str | None = None,
    producer: str = "test.fixture",
    **envelope: Any,
) -> dict[str, Any]:
    """A JSON-form event with a fresh id unless one is given."""
    out: dict[str, Any] = {
        "event_id": event_id or new_id(),
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": occurred_at,
        "producer": {"system": producer},
        "payload": payload,
        **envelope,
    }
    if subject_id is not None:
        out["subject_id"] = subject_id
    return out


def collected(
    subject_id: str,
    items: list[tuple[str, str, Any]],
    *,
    occurred_at: str = "2026-10-01T09:00:00Z",
    event_id: str | None = None,
) -> dict[str, Any]:
    """A ``DataCollected`` from the subject online, for contract performance, of (category, field, value)."""
    return event(
        "DataCollected",
        subject_id,
        {
            "data_items": [{"category": c, "field": f, "value": v} for c, f, v in items],
            "source": {"type": "data_subject", "channel": "online"},
            "purposes": [{"purpose": "agreement_performance", "lawful_basis": "contract"}],
            "processing_means": "automated",
        },
        occurred_at=occurred_at,
        event_id=event_id,
    )
