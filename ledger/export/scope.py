"""What an export holds (spec 6.8): the stored records of a subject's merge family, a request or a complaint.

* A subject export (and an access pack) resolves the id to its merge family, as it stands now: the
  survivor and every subject merged into it, whichever of them was named. Every stored record whose
  hashed ``subject_id`` is one of them is in it, system events (erasure, deferral) included.
* A request export holds the records that carry the ``request_id``, the ``KeyShredded`` and
  ``ErasureDeferred`` that an erasure done for that request caused, and every ``ComplaintReceived`` whose
  ``about_request_id`` is the request.
* A complaint export holds the complaint's records.

Entries are ordered by ``occurred_at`` (as an instant, at microseconds) and then ``seq``; ``--from`` and
``--to`` keep those whose ``occurred_at`` falls inside the window (both ends included).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger.domain.timeutil import canonical_timestamp
from ledger.errors import LedgerError
from ledger.export.entries import StoredRecord
from ledger.store.database import LedgerStore
from ledger.store.dialect import InList, SqlCursor

__all__ = [
    "KINDS",
    "Scope",
    "UnknownScope",
    "check_scope_id",
    "entity_subject",
    "family_records",
    "select_entries",
]

log = logging.getLogger(__name__)

KINDS = ("subject", "request", "complaint", "access_pack")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_CHUNK = 500
# The entity an export of each kind names, in ledger_entities (subjects are not entities).
_ENTITY_KIND = {"request": "request", "complaint": "complaint"}


class UnknownScope(LedgerError):
    """The subject, request or complaint of an export is not one the ledger holds: nothing exported."""


def check_scope_id(option: str, value: str) -> str:
    """A ``--subject``/``--request``/``--complaint`` value: a UUID (upper case folded). Never echoed when
    it is not one: someone may have typed a name or an email address there."""
    folded = value.strip().lower()
    if not _UUID.fullmatch(folded):
        raise LedgerError(f"{option} must be an id: a UUID such as 5f0c2b8e-8e0a-4b7b-a6d4-1f2e3d4c5b6a")
    return folded


@dataclass(frozen=True)
class Scope:
    """An export's scope: its kind and id, the merge family it reads, and the time window."""

    kind: str
    id: str
    survivor: str
    members: tuple[str, ...]  # the survivor first
    time_from: datetime | None = None
    time_to: datetime | None = None


def entity_subject(cur: SqlCursor, kind: str, entity_id: str) -> str:
    """The subject of the request or complaint ``entity_id``; ``UnknownScope`` if the ledger has none."""
    row = cur.execute(
        "SELECT subject_id FROM {t:ledger_entities} WHERE kind = ? AND entity_id = ?",
        (_ENTITY_KIND[kind], entity_id),
    ).one()
    if row is None:
        raise UnknownScope(f"the ledger holds no {kind} {entity_id}; nothing was exported")
    return str(row["subject_id"])


def family_records(
    store: LedgerStore, cur: SqlCursor, members: Sequence[str], up_to_seq: int
) -> list[StoredRecord]:
    """Every stored record of the family with ``seq`` <= ``up_to_seq``, in ``seq`` order.

    The chain's ``subject_id`` column only finds the rows: a record shows only if its hashed record
    names one of ``members`` (a row whose column was edited never brings in another subject's event).
    """
    wanted = sorted(set(members))
    out: list[StoredRecord] = []
    notif = store.notification_column
    for start in range(0, len(wanted), _CHUNK):
        rows = cur.execute(
            "SELECT c.seq, c.prev_hash, c.hash, e.state FROM {t:ledger_chain} c "
            f"JOIN {store.events_table} e ON e.{notif} = c.notification_id "
            "WHERE c.subject_id {in} AND c.seq <= ? ORDER BY c.seq",
            (InList(wanted[start : start + _CHUNK]), up_to_seq),
        ).all()
        for row in rows:
            record = json.loads(bytes(row["state"]))["record"]
            if record.get("subject_id") not in wanted:
                log.warning("ledger_chain row seq %s does not match its stored event; run verify", row["seq"])
                continue
            out.append(StoredRecord(int(row["seq"]), str(row["hash"]), str(row["prev_hash"]), record))
    if len(wanted) > _CHUNK:
        out.sort(key=lambda r: r.seq)
    return out


def select_entries(
    scope: Scope, records: Iterable[StoredRecord], occurred: Mapping[int, datetime] | None = None
) -> list[StoredRecord]:
    """The family's records the export holds, in ``occurred_at`` then ``seq`` order, inside the window.

    ``occurred`` gives each record's ``occurred_at`` instant by seq, when the caller parsed them already.
    """
    records = list(records)
    if scope.kind == "request":
        chosen = _request_records(scope.id, records)
    elif scope.kind == "complaint":
        chosen = [r for r in records if _payload(r).get("complaint_id") == scope.id]
    else:
        chosen = records
    when = occurred or {r.seq: canonical_timestamp(str(r.record["occurred_at"])) for r in chosen}
    keyed = [(when[r.seq], r) for r in chosen]
    if scope.time_from is not None:
        keyed = [(t, r) for t, r in keyed if t >= scope.time_from]
    if scope.time_to is not None:
        keyed = [(t, r) for t, r in keyed if t <= scope.time_to]
    keyed.sort(key=lambda item: (item[0], item[1].seq))
    return [r for _, r in keyed]


def _request_records(request_id: str, records: list[StoredRecord]) -> list[StoredRecord]:
    """The request's own records, the system events its erasures caused, complaints about it."""
    erasures = {
        r.event_id
        for r in records
        if r.record.get("event_type") == "DataErased" and _payload(r).get("request_id") == request_id
    }
    out = []
    for r in records:
        payload, event_type = _payload(r), r.record.get("event_type")
        if (
            payload.get("request_id") == request_id
            or (event_type == "ComplaintReceived" and payload.get("about_request_id") == request_id)
            or (
                event_type in ("KeyShredded", "ErasureDeferred")
                and (r.record.get("correlation_id") in erasures or payload.get("ref_event_id") in erasures)
            )
        ):
            out.append(r)
    return out


def _payload(r: StoredRecord) -> dict[str, Any]:
    payload = r.record.get("payload")
    return payload if isinstance(payload, dict) else {}
