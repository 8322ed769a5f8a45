"""The integrity chain (spec 3.4): gap-free ``seq``, ``prev_hash`` and ``hash`` over the stored form."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ledger.canonical import canonical_bytes
from ledger.domain.catalogue import EVENT_TYPES, stored_topic
from ledger.log.tree import Frontier
from ledger.store.database import LedgerStore
from ledger.store.dialect import SqlCursor
from ledger.streams import record_stream

if TYPE_CHECKING:
    # The tree and checkpoint audit (Ed25519 and all): imported by ``verify_chain``, not by the writers
    # that only need ``chained_bytes``.
    from ledger.store.tree_audit import LogContext

__all__ = [
    "ANCHOR_META",
    "GENESIS_HASH",
    "ChainReport",
    "chained_bytes",
    "chained_record",
    "read_anchor",
    "record_anchor",
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
    (``{size, root, source, valid}``, ``source`` ``table`` or ``witness``) and value-free problems.

    ``mode`` is ``full`` or ``incremental`` (from the last verified checkpoint, ``anchor``); ``checked``
    and ``not_checked`` say in words what this run covered; ``events_checked`` records were re-hashed
    in ``seconds`` (``events_per_second``). ``verified_checkpoint`` is the largest signed checkpoint whose
    root this run matched: what ``verify --record`` keeps as the next run's starting point.
    """

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
    mode: str = "full"
    anchor: dict[str, Any] | None = None
    checked: list[str] = field(default_factory=list)
    not_checked: list[str] = field(default_factory=list)
    events_checked: int = 0
    seconds: float = 0.0
    events_per_second: float | None = None
    verified_checkpoint: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


# The ``ledger_meta`` row of the last verified checkpoint: ``{"size", "hash", "root"}``, the checkpoint's
# tree size, the chain hash of record ``size`` and the signed root, as the verify that matched them saw.
ANCHOR_META = "verify_anchor"


@dataclass(frozen=True)
class _Start:
    """Where an incremental verification starts: after record ``size``, whose chain hash is ``hash``."""

    size: int
    hash: str
    frontier: Frontier
    anchor: dict[str, Any]


def read_anchor(cur: SqlCursor) -> dict[str, Any] | None:
    """The last verified checkpoint recorded by ``verify --record`` (None: none yet)."""
    raw = cur.execute("SELECT v FROM {t:ledger_meta} WHERE k = ?", (ANCHOR_META,)).scalar()
    try:
        value = json.loads(str(raw)) if raw is not None else None
    except ValueError:
        return {"size": None}  # unreadable: reported, and the verification is full
    return value if isinstance(value, dict) else None


def record_anchor(store: LedgerStore, report: ChainReport) -> bool:
    """After a valid verification, keep its largest matched signed checkpoint as the next run's start
    (``verify --record``); False (nothing written) if the report is invalid or matched none."""
    size = report.verified_checkpoint
    if not report.valid or size is None:
        return False
    with store.write(lock=False) as cur:
        row = cur.execute(
            "SELECT c.hash, k.root_hash FROM {t:ledger_chain} c JOIN {t:ledger_checkpoints} k "
            "ON k.tree_size = c.seq WHERE c.seq = ?",
            (size,),
        ).one()
        if row is None:
            return False
        value = json.dumps({"size": size, "hash": str(row["hash"]), "root": str(row["root_hash"])})
        cur.execute(
            "INSERT INTO {t:ledger_meta} (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
            (ANCHOR_META, value),
        )
    return True


def verify_chain(
    store: LedgerStore,
    *,
    progress: Callable[[int], None] | None = None,
    context: LogContext | None = None,
    incremental: bool = False,
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

    ``incremental``: start after the last verified checkpoint (``read_anchor``) instead of at seq 1, once
    that checkpoint checks out (:func:`_anchor_start`): its signature with ``context.key``, the stored
    tree's root at its size against its signed root, its last record re-hashed (the recorded chain hash)
    and proven in that root, and a chain row for every seq up to it. Then every later record is checked
    as above, with the checkpoints from that one on and the witness copy. Records before it are not
    re-hashed: an edit there that leaves the stored tree and chain hashes alone shows only to a full
    verification (or a proof of that record); a rewrite that changes the tree is seen in the signed root.
    Without a recorded checkpoint, or when it does not check out (reported), the verification is full.
    """
    from ledger.store.tree_audit import TreeAudit

    started = time.perf_counter()
    has_tree = store.has_table("ledger_checkpoints")
    notif = store.notification_column
    expected_seq, prev = 1, GENESIS_HASH
    invalid: list[int] = []
    length = 0
    checked = 0
    versions: dict[str, int] = {}  # stream -> last version seen
    merges: dict[str, tuple[str, str, int]] = {}  # merged -> (survivor, event_id, seq), first one wins
    start_problems: list[str] = []
    with store.read() as cur:
        start: _Start | None = None
        why_full = "requested"
        if incremental:
            start, why_full = _anchor_start(cur, store, context, has_tree, start_problems)
        if start is not None:
            expected_seq, prev, length = start.size + 1, start.hash, start.size
        audit = TreeAudit(cur, context, has_tree=has_tree, start=start.frontier if start else None)
        last = length
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
            records = [_record_of(row["state"]) if row["state"] is not None else None for row in rows]
            if start is not None:
                _load_versions(cur, records, versions, start.size)
            for row, record in zip(rows, records, strict=True):
                seq = int(row["seq"])
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
            checked += len(rows)
            audit.check_page()
            if progress is not None:
                progress(last)
        events, chained = _row_counts(cur, store, start)
        if events != chained:
            invalid.append(length + 1)
        since = start.size if start is not None else 0
        invalid.extend(min(s, length + 1) for s in _index_faults(cur, merges, since))
        chain_invalid = min(invalid, default=None)
        tree = audit.finish(length)
    seconds = time.perf_counter() - started
    problems = [*start_problems]
    problems += [] if chain_invalid is None else [f"chain: first invalid seq {chain_invalid}"]
    problems += audit.problems
    first_invalid = min([*invalid, *audit.invalid], default=None)
    log.debug(
        "verified %d chain rows (%d events): first invalid seq %s, %.1f ms",
        checked,
        events,
        first_invalid,
        seconds * 1000,
    )
    if start is not None:
        mode = "incremental"
        scope = _incremental_scope(start.size, length)
        unchecked = [
            f"records 1..{start.size - 1}: not re-hashed, nor their index columns and dedup and merge "
            "rows (edits there that leave the stored tree and chain hashes alone show only to `verify "
            "--full`; a rewrite of the tree shows in the signed root)",
            f"checkpoints smaller than {start.size}: not re-checked (each was when it was the latest)",
            f"event rows of records 1..{start.size}: not counted (one deleted, or one added in a gap of "
            "the event table's ids, shows only to `verify --full`)",
        ]
    else:
        mode = "full"
        scope = [
            f"records 1..{length}: every hash, link, index column, tree node and checkpoint ({why_full})"
        ]
        unchecked = []
    return ChainReport(
        valid=first_invalid is None and not problems,
        length=length,
        head_hash=prev,
        first_invalid_seq=first_invalid,
        problems=problems,
        warnings=audit.warnings,
        mode=mode,
        anchor=start.anchor if start is not None else None,
        checked=scope,
        not_checked=unchecked,
        events_checked=checked,
        seconds=round(seconds, 6),
        events_per_second=round(checked / seconds, 1) if checked and seconds > 0 else None,
        verified_checkpoint=audit.verified_checkpoint(),
        **tree,
    )


def _row_counts(cur: SqlCursor, store: LedgerStore, start: _Start | None) -> tuple[int, int]:
    """Event rows and chain rows, which must be as many: all of them (full), or those after the last
    verified checkpoint (incremental: two index range counts instead of two table scans)."""
    if start is None:
        events = int(cur.execute(f"SELECT COUNT(*) AS n FROM {store.events_table}").scalar())
        return events, int(cur.execute("SELECT COUNT(*) AS n FROM {t:ledger_chain}").scalar())
    notif = store.notification_column
    events = cur.execute(
        f"SELECT COUNT(*) AS n FROM {store.events_table} WHERE {notif} > "
        "(SELECT notification_id FROM {t:ledger_chain} WHERE seq = ?)",
        (start.size,),
    ).scalar()
    chained = cur.execute("SELECT COUNT(*) AS n FROM {t:ledger_chain} WHERE seq > ?", (start.size,)).scalar()
    return int(events or 0), int(chained or 0)


def _incremental_scope(size: int, length: int) -> list[str]:
    later = f"records {size + 1}..{length}" if length > size else "no record after it"
    return [
        f"checkpoint {size} (the last verified): its signature, and the stored tree's root at {size} "
        "against its signed root",
        f"record {size}: re-hashed to the chain hash recorded when it was verified, linked to its chain "
        "row, and its leaf proven in the signed root",
        f"chain rows 1..{size}: all present (an index count); event rows after record {size}: as many as "
        "chain rows",
        f"{later}: every hash, link, index column and tree node, the checkpoints from {size} on and the "
        "witness copy",
    ]


def _anchor_start(
    cur: SqlCursor, store: LedgerStore, context: LogContext | None, has_tree: bool, problems: list[str]
) -> tuple[_Start | None, str]:
    """The start of an incremental verification, or None and why the verification is full (a
    problem found with the recorded checkpoint is added to ``problems``: the full run then locates it)."""
    from ledger.log.checkpoint import open_checkpoint
    from ledger.log.checkpoints import checkpoint_at
    from ledger.log.errors import LogError
    from ledger.log.merkle import leaf_hash, verify_inclusion
    from ledger.log.storage import DbHashSource
    from ledger.log.tree import inclusion_proof

    recorded = read_anchor(cur) if has_tree else None
    if recorded is None:
        return None, "no verified checkpoint recorded yet: `verify --record` records one"
    size = recorded.get("size")
    if not isinstance(size, int) or size < 1:
        problems.append("verify anchor: the recorded last verified checkpoint is unreadable")
        return None, "the recorded last verified checkpoint is unreadable"
    if context is None or context.key is None:
        return None, "no verifier key to check the last verified checkpoint's signature"
    label = f"verify anchor: checkpoint {size} (the last verified)"
    issued = checkpoint_at(cur, size)
    if issued is None:
        problems.append(f"{label} is missing from the checkpoints table (deleted)")
        return None, "the last verified checkpoint did not check out"
    try:
        signed = open_checkpoint(issued.note, context.key, origin=context.origin)
    except LogError:
        problems.append(f"{label}: not signed by the ledger's key (forged or re-signed)")
        return None, "the last verified checkpoint did not check out"
    failure = _anchor_failure(cur, store, size, signed.root_hash, recorded)
    if failure is None:
        try:
            source = DbHashSource(cur)
            frontier = Frontier.load(size, source)
            if frontier.root() != signed.root_hash:
                failure = "the stored tree's root differs from its signed root (history rewritten)"
            else:
                row = _chain_row(cur, store, size)
                record = _record_of(row["state"]) if row is not None and row["state"] is not None else None
                if row is None or record is None:
                    failure = f"record {size} is missing"
                else:
                    data = chained_bytes(record, size, str(row["prev_hash"]))
                    digest = hashlib.sha256(data).hexdigest()
                    if digest != row["hash"] or digest != recorded.get("hash"):
                        failure = f"record {size} no longer hashes to the chain hash recorded when verified"
                    else:
                        proof = inclusion_proof(size - 1, size, source)
                        verify_inclusion(size - 1, size, leaf_hash(data), proof, signed.root_hash)
        except LogError:
            failure = f"record {size} is not in the signed root (its leaf or the stored tree was changed)"
    if failure is not None:
        problems.append(f"{label}: {failure}")
        return None, "the last verified checkpoint did not check out"
    anchor = {"size": size, "hash": recorded.get("hash"), "root": recorded.get("root")}
    return _Start(size, str(recorded["hash"]), frontier, anchor), ""


def _anchor_failure(
    cur: SqlCursor, store: LedgerStore, size: int, root: bytes, recorded: dict[str, Any]
) -> str | None:
    """Cheap checks of the recorded checkpoint: its recorded root, and no chain row missing up to it."""
    import base64

    if recorded.get("root") != base64.b64encode(root).decode():
        return "its signed root is not the one recorded when it was verified"
    present = int(cur.execute("SELECT COUNT(*) AS n FROM {t:ledger_chain} WHERE seq <= ?", (size,)).scalar())
    if present != size:
        return f"{size - present} chain row(s) up to it are missing"
    return None


def _chain_row(cur: SqlCursor, store: LedgerStore, seq: int) -> dict[str, Any] | None:
    return cur.execute(
        f"SELECT c.prev_hash, c.hash, e.state FROM {{t:ledger_chain}} c LEFT JOIN {store.events_table} e "
        f"ON e.{store.notification_column} = c.notification_id WHERE c.seq = ?",
        (seq,),
    ).one()


def _load_versions(
    cur: SqlCursor, records: list[dict[str, Any] | None], versions: dict[str, int], before: int
) -> None:
    """An incremental verification's stream versions: for each stream first met on this page, its last
    version among the records up to ``before`` (as stored; the counting goes on from there)."""
    from ledger.store.dialect import InList

    streams: set[str] = set()
    for record in records:
        if record is None:
            continue
        try:
            streams.add(str(record_stream(record)))
        except (KeyError, TypeError, ValueError):
            continue
    new = sorted(streams - versions.keys())
    for offset in range(0, len(new), 500):
        chunk = new[offset : offset + 500]
        for sid in chunk:
            versions[sid] = 0
        for r in cur.execute(
            "SELECT stream_id, MAX(stream_version) AS v FROM {t:ledger_chain} WHERE seq <= ? "
            "AND stream_id {in} GROUP BY stream_id",
            (before, InList(chunk)),
        ).all():
            versions[str(r["stream_id"])] = int(r["v"])


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


def _index_faults(cur: SqlCursor, merges: dict[str, tuple[str, str, int]], since: int = 0) -> list[int]:
    """Seqs named by dedup or merge index rows that no hashed event accounts for (``since``: only the
    rows of events after that seq, and merge rows naming no stored event)."""
    faults: list[int] = []
    orphan = cur.execute(
        "SELECT MIN(d.seq) AS s FROM {t:ledger_dedup} d LEFT JOIN {t:ledger_chain} c ON c.seq = d.seq "
        "WHERE d.seq > ? AND (c.event_id IS NULL OR c.event_id <> d.event_id)",
        (since,),
    ).scalar()
    if orphan is not None:
        faults.append(int(orphan))
    rows = cur.execute(
        # One primary-key probe per merge row (not a scan of the dedup index, which grows with the log).
        "SELECT m.merged_subject_id, m.surviving_subject_id, m.event_id, "
        "(SELECT d.seq FROM {t:ledger_dedup} d WHERE d.event_id = m.event_id) AS seq FROM {t:ledger_merges} m"
    ).all()
    rows = [r for r in rows if r["seq"] is None or int(r["seq"]) > since]
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
