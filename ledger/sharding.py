"""Sharding by subject: the routing rule and the fleet-wide merge of views (see deploy/SCALING.md).

Not wired into ``consume`` yet: this is the rule a router in front of N ledgers (one PostgreSQL schema,
log origin and signing key each) applies, and the merge a fleet-wide read applies to the shards'
answers. ``tests/integration/test_two_shards.py`` and ``bench/shards.py`` run it on this machine.

- A subject lives on one shard: ``shard_of(subject_id)``, a hash of the id (the Kafka key already is the
  subject, so a Kafka partition can be mapped to its shard's consumers unchanged).
- A merge must stay within one shard: :func:`route` refuses a ``SubjectsMerged`` whose subjects live on
  different shards (what the router dead-letters as ``CROSS_SHARD_MERGE``); both subjects keep their
  records where they are.
- A fleet-wide view is each shard's answer merged in the view's own order (:func:`merge_answers`); the
  per-shard rows never overlap, because no record and no merge family spans two shards.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

__all__ = ["CROSS_SHARD_MERGE", "Routed", "merge_answers", "route", "shard_of"]

CROSS_SHARD_MERGE = "CROSS_SHARD_MERGE"
_MERGE_ENDS = ("surviving_subject_id", "merged_subject_id")


def shard_of(subject_id: str, shards: int) -> int:
    """The shard of a subject: the first 8 bytes of SHA-256 of its id, modulo the shard count.

    Stable across processes, machines and languages (unlike Python's ``hash``); changing ``shards``
    moves subjects, so a fleet grows by splitting a shard's range, never by changing N in place.
    """
    if shards < 1:
        raise ValueError("at least one shard")
    digest = hashlib.sha256(subject_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % shards


class Routed:
    """Events split by shard, in their original order within each shard, and the refused merges."""

    def __init__(self, shards: int) -> None:
        self.by_shard: list[list[dict[str, Any]]] = [[] for _ in range(shards)]
        self.refused: list[tuple[dict[str, Any], str]] = []  # (event, code)

    def accepted(self) -> list[dict[str, Any]]:
        """Every routed event, shard by shard (what a single ledger of the same input would store)."""
        return [e for events in self.by_shard for e in events]


def route(events: Iterable[Mapping[str, Any]], shards: int) -> Routed:
    """Route each event to its subject's shard; refuse a merge of subjects on different shards."""
    out = Routed(shards)
    for event in events:
        shard = shard_of(str(event["subject_id"]), shards)
        if event.get("event_type") == "SubjectsMerged":
            payload = event.get("payload") or {}
            ends = {
                shard_of(str(payload.get(k)), shards) for k in ("surviving_subject_id", "merged_subject_id")
            }
            if ends != {shard}:
                out.refused.append((dict(event), CROSS_SHARD_MERGE))
                continue
        out.by_shard[shard].append(dict(event))
    return out


def _queue_key(row: Mapping[str, Any]) -> tuple[int, date, str, str]:
    """The request queue's order (spec 6.4, ``ledger.domain.request_clock.sort_queue``) on JSON rows."""
    status = str(row.get("status"))
    if row.get("overdue"):
        group = 0
    elif status in ("OPEN", "EXTENDED"):
        group = 1
    elif status in ("PAUSED", "AWAITING_IDENTITY", "AWAITING_FEE"):
        group = 2
    else:
        group = 3
    due = row.get("due_date")
    due_date = date.fromisoformat(str(due)) if group < 2 and due else date.max
    return (group, due_date, str(row.get("received_at")), str(row.get("request_id")))


_ORDER = {
    "requests": _queue_key,
    "disclosures": lambda r: (str(r["shared_at"]), str(r["disclosure_event_id"])),
    "complaints": lambda r: (str(r.get("received_date")), str(r.get("complaint_id"))),
}


def merge_answers(view: str, answers: Sequence[Sequence[Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """One fleet-wide answer of ``view`` from each shard's answer, in the view's order."""
    if view not in _ORDER:
        raise ValueError(f"no fleet-wide merge for {view}: one of {', '.join(sorted(_ORDER))}")
    rows = [dict(r) for answer in answers for r in answer]
    return sorted(rows, key=_ORDER[view])
