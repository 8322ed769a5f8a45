"""Reads the pages need beside the views: a request's clock history, a subject's timeline, its active
legal holds, and the last signed checkpoint. None of them decrypts anything: personal fields show as
their category only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from ledger.domain.calendar import utc_text
from ledger.log.checkpoints import latest_checkpoint
from ledger.store.database import LedgerStore
from ledger.store.dialect import InList
from projections.base import skeleton

__all__ = [
    "CLOCK_EFFECTS",
    "active_holds",
    "describe",
    "last_checkpoint",
    "request_history",
    "request_subject",
    "subject_timeline",
]

# Spec 4.4: what each request event does to the statutory clock (section 7).
CLOCK_EFFECTS: Final[Mapping[str, str]] = {
    "RightsRequestReceived": "Received: the receipt date starts the clock",
    "IdentityVerificationRequested": "Clock stopped: awaiting identity (it restarts on the evidence)",
    "IdentityEvidenceReceived": "Clock restarts from this date",
    "IdentityVerified": "No effect on the clock",
    "IdentityVerificationFailed": "No effect on the clock",
    "FeeRequested": "Clock stopped: awaiting the fee",
    "FeePaid": "Clock restarts from this date",
    "ClarificationRequested": "Pause starts (this day does not count)",
    "ClarificationReceived": "Pause ends (this day does not count)",
    "RequestExtended": "Extension to three months, if the notice was in time",
    "RequestFulfilled": "Closed: fulfilled",
    "RequestRefused": "Closed: refused",
    "RequestWithdrawn": "Closed: withdrawn",
    "RequestClosed": "Closed",
    "DataErased": "Erasure recorded for the request",
    "DataRectified": "Rectification recorded for the request",
    "ProcessingRestricted": "Restriction recorded for the request",
}
_SKIP: Final = frozenset({"request_id", "complaint_id"})


def _personal(node: Any) -> bool:
    return isinstance(node, dict) and "kid" in node and set(node) <= {"kid", "cat"}


def describe(payload: Mapping[str, Any], skip: Iterable[str] = _SKIP) -> list[str]:
    """Short, non-personal lines about an event's payload skeleton: codes and ids as stored, a personal
    field only as ``field: (personal, category)``."""
    lines: list[str] = []
    left_out = set(skip)
    for key, value in payload.items():
        if key in left_out:
            continue
        text = _text(value)
        if text:
            lines.append(f"{key.replace('_', ' ')}: {text}")
    return lines


def _text(value: Any) -> str:
    if _personal(value):
        return f"(personal, {value.get('cat') or 'withheld'})"
    if isinstance(value, dict):
        if "recipient_id" in value:
            return f"{value['recipient_id']} ({value.get('country', '?')})"
        if "purpose" in value and "lawful_basis" in value:
            return f"{value['purpose']} ({value['lawful_basis']})"
        if "category" in value and "field" in value:
            return f"{value['category']}.{value['field']}"
        parts = [f"{k} {_text(v)}" for k, v in value.items() if not _personal(v) and v not in (None, "")]
        return ", ".join(parts)
    if isinstance(value, list):
        return ", ".join(t for t in (_text(v) for v in value) if t)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def request_subject(store: LedgerStore, request_id: str) -> str | None:
    """The subject a rights request names (as the request queue keeps it), or None if unknown."""
    with store.read() as cur:
        row = cur.execute("SELECT subject_id FROM {t:view_requests} WHERE entity_id = ?", (request_id,)).one()
    return None if row is None or row["subject_id"] is None else str(row["subject_id"])


def request_history(store: LedgerStore, request_id: str, as_of: datetime) -> list[dict[str, Any]]:
    """The request's events up to ``as_of`` (the request queue's non-personal copy), oldest first, each
    with what it does to the clock."""
    with store.read() as cur:
        rows = cur.execute(
            "SELECT seq, event_id, event_type, occurred_at, recorded_at, payload "
            "FROM {t:view_requests_facts} WHERE entity_id = ? AND occurred_at <= ? ORDER BY occurred_at, seq",
            (request_id, utc_text(as_of)),
        ).all()
    return [
        {
            "seq": int(r["seq"]),
            "event_id": str(r["event_id"]),
            "event_type": str(r["event_type"]),
            "occurred_at": str(r["occurred_at"]),
            "recorded_at": str(r["recorded_at"]),
            "effect": CLOCK_EFFECTS.get(str(r["event_type"]), "Recorded"),
            "details": describe(json.loads(str(r["payload"]))),
        }
        for r in rows
    ]


def subject_timeline(
    store: LedgerStore, subject_ids: Sequence[str], limit: int
) -> tuple[list[dict[str, Any]], int]:
    """The newest ``limit`` stored events naming any of ``subject_ids`` (newest first), and how many there
    are in all. Personal fields are left encrypted and shown only by category."""
    with store.read() as cur:
        total = int(
            cur.execute(
                "SELECT COUNT(*) AS n FROM {t:ledger_chain} WHERE subject_id {in}",
                (InList(list(subject_ids)),),
            ).scalar()
            or 0
        )
        rows = cur.execute(
            "SELECT c.seq, c.subject_id, e.state FROM {t:ledger_chain} c "
            f"JOIN {store.events_table} e ON e.{store.notification_column} = c.notification_id "
            "WHERE c.subject_id {in} ORDER BY c.seq DESC LIMIT ?",
            (InList(list(subject_ids)), limit),
        ).all()
    out = []
    for row in rows:
        record = json.loads(bytes(row["state"]))["record"]
        if record.get("subject_id") != row["subject_id"]:
            continue  # a chain row that does not match its hashed record: `verify` names it
        out.append(
            {
                "seq": int(row["seq"]),
                "subject_id": str(row["subject_id"]),
                "event_type": str(record.get("event_type")),
                "occurred_at": str(record.get("occurred_at")),
                "producer": str((record.get("producer") or {}).get("system", "")),
                "details": describe(skeleton(record.get("payload") or {}), ()),
            }
        )
    return out, total


def active_holds(store: LedgerStore, subject_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The legal holds in force on any of ``subject_ids``: id, subject and categories."""
    with store.read() as cur:
        rows = cur.execute(
            "SELECT hold_id, subject_id, categories FROM {t:ledger_holds} WHERE active = 1 "
            "AND subject_id {in} ORDER BY hold_id",
            (InList(list(subject_ids)),),
        ).all()
    return [
        {
            "hold_id": str(r["hold_id"]),
            "subject_id": str(r["subject_id"]),
            "categories": json.loads(str(r["categories"])),
        }
        for r in rows
    ]


def last_checkpoint(store: LedgerStore) -> dict[str, Any] | None:
    """The latest signed checkpoint (size, root, issued_at), or None before the first."""
    if not store.has_table("ledger_checkpoints"):
        return None
    with store.read() as cur:
        issued = latest_checkpoint(cur)
        size = int(cur.execute("SELECT MAX(seq) AS m FROM {t:ledger_chain}").scalar() or 0)
    if issued is None:
        return None
    return {**issued.as_dict(), "log_size": size}
