"""The integrity chain (spec 3.4): gap-free ``seq``, ``prev_hash`` and ``hash`` over the stored form."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from uuid import UUID

from ledger.canonical import canonical_bytes
from ledger.domain.catalogue import EVENT_TYPES, stored_topic
from ledger.events import record_stream
from ledger.store.database import LedgerStore
from ledger.store.dialect import SqlCursor
from ledger.store.tree_audit import LogContext, TreeAudit

__all__ = [
    "GENESIS_HASH",
    "ChainReport",
    "chained_bytes",
    "chained_record",
    "record_hash",
    "verify_chain",
]

log = logging.getLogger(__name__)

GENESIS_HASH = "0" * 64
_PAGE = 2000
_NOWHERE = 1 << 62  # an index row that names no stored event fails at length + 1
_TOPICS = {name: stored_topic(name) for name in EVENT_TYPES}


def chained_record(record: dict[str, Any], seq: int, prev_hash: str) -> dict[str, Any]:
    """The record as hashed: the stored event (personal fields as ciphertext) plus seq and prev_hash."""
    out = dict(record)
    out["seq"] = seq
    out["prev_hash"] = prev_hash
    return out


def chained_bytes(record: dict[str, Any], seq: int, prev_hash: str) -> bytes:
    """The chained record's canonical bytes (JCS): what ``hash`` covers, and Merkle leaf ``seq - 1``."""
    return canonical_bytes(chained_record(record, seq, prev_hash))


def record_hash(record: dict[str, Any], seq: int, prev_hash: str) -> str:
    """``SHA-256(JCS(stored event without hash))`` as lowercase hex."""
    return hashlib.sha256(chained_bytes(record, seq, prev_hash)).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    """What ``verify`` reports: the chain, the Merkle tree (size and base64 root), the latest checkpoint
    (``{size, root, source, valid}``, ``source`` ``table`` or ``witness``) and value-free problems."""

    valid: bool
    length: int
    head_hash: str
    first_invalid_seq: int | None
    tree_size: int = 0
    root_hash: str | None = None
    checkpoint: dict[str, Any] | None = None
    checkpoints_issued: int = 0
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


def verify_chain(
    store: LedgerStore,
    *,
    progress: Callable[[int], None] | None = None,
    context: LogContext | None = None,
) -> ChainReport:
    """Recompute every hash and link from the stored events; report the first seq that fails.

    A seq fails when it is missing (a deleted chain row), when its stored event is missing or was
    edited (hash mismatch), or when its ``prev_hash`` does not link to the previous hash. Events in the
    event table that no chain row covers (inserted behind the ledger's back) fail at ``length + 1``.

    Every column that reads and views use to find events is checked against the hashed record too, so
    editing one fails at its seq: the chain row's ``notification_id`` (it must lead to the hashed
    event), ``event_id``, ``event_type``, ``subject_id``, ``stream_id``, ``stream_version`` and
    ``recorded_at``; the event row's ``topic``, ``originator_id`` and ``originator_version``; the dedup
    index (``event_id`` -> ``seq``) and the merge index (against the ``SubjectsMerged`` events).
    The Merkle tree and the checkpoints are checked on the way (:class:`ledger.store.tree_audit.TreeAudit`):
    every stored leaf and subtree against the records, every issued checkpoint's signature (with
    ``context.key``) and root, and the witness copy (``context.witness_note``); a checkpoint larger than
    the log fails at ``length + 1`` (a cut tail), one with another root at the first seq after the last
    checkpoint that still agrees (rewritten history). ``valid`` also needs ``problems`` to be empty (a
    forged checkpoint names no seq). ``progress`` is called after each page with the last ``seq`` checked.
    """
    started = time.perf_counter()
    has_tree = store.has_table("ledger_checkpoints")
    notif = store.notification_column
    expected_seq, prev = 1, GENESIS_HASH
    invalid: list[int] = []
    length = 0
    versions: dict[str, int] = {}  # stream -> last version seen
    merges: dict[str, tuple[str, str, int]] = {}  # merged -> (survivor, event_id, seq), first one wins
    with store.read() as cur:
        audit = TreeAudit(cur, context, has_tree=has_tree)
        last = 0
        while True:
            rows = cur.execute(
                "SELECT c.seq, c.stream_id, c.stream_version, c.event_id, c.event_type, c.subject_id, "
                "c.recorded_at, c.prev_hash, c.hash, e.state, e.topic, e.originator_id, "
                "e.originator_version, "
                f"d.seq AS dedup_seq FROM {{t:ledger_chain}} c LEFT JOIN {store.events_table} e "
                f"ON e.{notif} = c.notification_id LEFT JOIN {{t:ledger_dedup}} d ON d.event_id = c.event_id "
                f"WHERE c.seq > ? ORDER BY c.seq LIMIT {_PAGE}",
                (last,),
            ).all()
            if not rows:
                break
            for row in rows:
                seq = int(row["seq"])
                record = _record_of(row["state"]) if row["state"] is not None else None
                data = chained_bytes(record, seq, prev) if record is not None else None
                audit.add(seq, data)
                ok = (
                    seq == expected_seq
                    and row["prev_hash"] == prev
                    and data is not None
                    and hashlib.sha256(data).hexdigest() == row["hash"]
                )
                if record is not None:
                    # Also counts the record's stream version when the row already failed.
                    ok = _row_matches(row, record, seq, versions) and ok
                if record is not None and record.get("event_type") == "SubjectsMerged":
                    payload = record.get("payload") or {}
                    merges.setdefault(
                        str(payload.get("merged_subject_id")),
                        (str(payload.get("surviving_subject_id")), str(record.get("event_id")), seq),
                    )
                if not ok:
                    invalid.append(min(seq, expected_seq))
                prev = str(row["hash"])
                expected_seq = seq + 1
                length = seq
                last = seq
            audit.check_page()
            if progress is not None:
                progress(last)
        events = int(cur.execute(f"SELECT COUNT(*) AS n FROM {store.events_table}").scalar())
        chained = int(cur.execute("SELECT COUNT(*) AS n FROM {t:ledger_chain}").scalar())
        if events != chained:
            invalid.append(length + 1)
        invalid.extend(min(s, length + 1) for s in _index_faults(cur, merges))
        chain_invalid = min(invalid, default=None)
        tree = audit.finish(length)
    problems = [] if chain_invalid is None else [f"chain: first invalid seq {chain_invalid}"]
    problems += audit.problems
    first_invalid = min([*invalid, *audit.invalid], default=None)
    log.debug(
        "verified %d chain rows (%d events): first invalid seq %s, %.1f ms",
        length,
        events,
        first_invalid,
        (time.perf_counter() - started) * 1000,
    )
    return ChainReport(
        valid=first_invalid is None and not problems,
        length=length,
        head_hash=prev,
        first_invalid_seq=first_invalid,
        problems=problems,
        warnings=audit.warnings,
        **tree,
    )


def _row_matches(row: dict[str, Any], record: dict[str, Any], seq: int, versions: dict[str, int]) -> bool:
    """True if the chain row's and event row's index columns say what the hashed record says."""
    event_type = record.get("event_type")
    topic = _TOPICS.get(event_type) if isinstance(event_type, str) else None
    if topic is None:
        return False
    try:
        stream = record_stream(record)
    except (KeyError, TypeError, ValueError):
        return False
    # UUID on PostgreSQL, 32 hex digits on SQLite.
    originator = row["originator_id"]
    originator_hex = (
        originator.hex if isinstance(originator, UUID) else str(originator).replace("-", "").lower()
    )
    sid = str(stream)
    version = versions.get(sid, 0) + 1
    versions[sid] = version
    return (
        row["event_id"] == record.get("event_id")
        and row["event_type"] == event_type
        and row["subject_id"] == record.get("subject_id")
        and row["recorded_at"] == record.get("recorded_at")
        and row["stream_id"] == sid
        and originator_hex == stream.hex
        and int(row["stream_version"]) == version == int(row["originator_version"])
        and row["topic"] == topic
        and row["dedup_seq"] is not None
        and int(row["dedup_seq"]) == seq
    )


def _index_faults(cur: SqlCursor, merges: dict[str, tuple[str, str, int]]) -> list[int]:
    """Seqs named by dedup or merge index rows that no hashed event accounts for."""
    faults: list[int] = []
    orphan = cur.execute(
        "SELECT MIN(d.seq) AS s FROM {t:ledger_dedup} d LEFT JOIN {t:ledger_chain} c ON c.seq = d.seq "
        "WHERE c.event_id IS NULL OR c.event_id <> d.event_id"
    ).scalar()
    if orphan is not None:
        faults.append(int(orphan))
    rows = cur.execute(
        "SELECT m.merged_subject_id, m.surviving_subject_id, m.event_id, d.seq "
        "FROM {t:ledger_merges} m LEFT JOIN {t:ledger_dedup} d ON d.event_id = m.event_id"
    ).all()
    found: set[str] = set()
    for r in rows:
        merged = str(r["merged_subject_id"])
        found.add(merged)
        expected = merges.get(merged)
        if expected is None or expected[:2] != (str(r["surviving_subject_id"]), str(r["event_id"])):
            seqs = [expected[2]] if expected is not None else []
            if r["seq"] is not None:
                seqs.append(int(r["seq"]))
            faults.append(min(seqs, default=_NOWHERE))
    faults.extend(seq for merged, (_, _, seq) in merges.items() if merged not in found)
    return faults


def _record_of(state: Any) -> dict[str, Any] | None:
    try:
        decoded = json.loads(bytes(state))
    except (ValueError, UnicodeDecodeError):
        return None
    record = decoded.get("record") if isinstance(decoded, dict) else None
    return record if isinstance(record, dict) else None
