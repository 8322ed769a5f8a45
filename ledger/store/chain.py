"""The integrity chain (spec 3.4): gap-free ``seq``, ``prev_hash`` and ``hash`` over the stored form."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from ledger.canonical import canonical_bytes
from ledger.store.database import LedgerStore

__all__ = ["GENESIS_HASH", "ChainReport", "chained_record", "record_hash", "verify_chain"]

GENESIS_HASH = "0" * 64
_PAGE = 2000


def chained_record(record: dict[str, Any], seq: int, prev_hash: str) -> dict[str, Any]:
    """The record as hashed: the stored event (personal fields as ciphertext) plus seq and prev_hash."""
    out = dict(record)
    out["seq"] = seq
    out["prev_hash"] = prev_hash
    return out


def record_hash(record: dict[str, Any], seq: int, prev_hash: str) -> str:
    """``SHA-256(JCS(stored event without hash))`` as lowercase hex."""
    return hashlib.sha256(canonical_bytes(chained_record(record, seq, prev_hash))).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    """What ``verify`` reports."""

    valid: bool
    length: int
    head_hash: str
    first_invalid_seq: int | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


def verify_chain(store: LedgerStore) -> ChainReport:
    """Recompute every hash and link from the stored events; report the first seq that fails.

    A seq fails when it is missing (a deleted chain row), when its stored event is missing or was
    edited (hash mismatch), or when its ``prev_hash`` does not link to the previous hash. Events in the
    event table that no chain row covers (inserted behind the ledger's back) fail at ``length + 1``.
    """
    notif = store.notification_column
    expected_seq, prev, first_invalid = 1, GENESIS_HASH, None
    length = 0
    with store.read() as cur:
        last = 0
        while True:
            rows = cur.execute(
                "SELECT c.seq, c.event_id, c.recorded_at, c.prev_hash, c.hash, e.state, e.topic "
                f"FROM {{t:ledger_chain}} c LEFT JOIN {store.events_table} e "
                f"ON e.{notif} = c.notification_id WHERE c.seq > ? ORDER BY c.seq LIMIT {_PAGE}",
                (last,),
            ).all()
            if not rows:
                break
            for row in rows:
                seq = int(row["seq"])
                ok = seq == expected_seq and row["prev_hash"] == prev
                if ok and row["state"] is not None:
                    record = _record_of(row["state"])
                    ok = (
                        record is not None
                        and record_hash(record, seq, prev) == row["hash"]
                        and record.get("event_id") == row["event_id"]
                        and record.get("recorded_at") == row["recorded_at"]
                    )
                else:
                    ok = False
                if not ok and first_invalid is None:
                    first_invalid = min(seq, expected_seq)
                prev = str(row["hash"])
                expected_seq = seq + 1
                length = seq
                last = seq
        events = int(cur.execute(f"SELECT COUNT(*) AS n FROM {store.events_table}").scalar())
        chained = int(cur.execute("SELECT COUNT(*) AS n FROM {t:ledger_chain}").scalar())
    if first_invalid is None and events != chained:
        first_invalid = length + 1
    return ChainReport(
        valid=first_invalid is None,
        length=length,
        head_hash=prev,
        first_invalid_seq=first_invalid,
    )


def _record_of(state: Any) -> dict[str, Any] | None:
    try:
        decoded = json.loads(bytes(state))
    except (ValueError, UnicodeDecodeError):
        return None
    record = decoded.get("record") if isinstance(decoded, dict) else None
    return record if isinstance(record, dict) else None
