"""One append transaction: dedup, ledger-state checks, encryption, streams, chain and side indexes.

A :class:`BatchWriter` lives inside one write transaction that holds the single-writer lock. Everything a
batch changes (events, chain rows, dedup rows, keys, dead letters, counters, indexes, and later the
Kafka offsets) commits together or not at all, so a crash mid-batch neither loses nor duplicates.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic

from ledger.canonical import canonical_members, join_members
from ledger.domain.catalogue import EVENT_TYPES, LEDGER_SUBJECT_ID, iter_personal_fields
from ledger.domain.codes import CodeLists
from ledger.domain.timeutil import format_instant
from ledger.domain.validation import check_against_ledger, validate_event
from ledger.errors import ErrorCode, EventRejected
from ledger.events import event_class, record_stream
from ledger.log.tree import Frontier
from ledger.store import erasure, parking
from ledger.store.chain import GENESIS_HASH, chained_bytes
from ledger.store.crypto import MasterKeyError, encrypt_value, seal_value
from ledger.store.database import LedgerStore
from ledger.store.dialect import InList, SqlCursor
from ledger.store.integrate import TreeIntegrator
from ledger.store.keystore import DEAD_LETTER_CATEGORY, FINGERPRINT_CATEGORY, KeyStore, RingState
from ledger.store.messages import BatchResult, DeadLetter, Message

__all__ = [
    "DEAD_LETTER_CATEGORY",
    "LEDGER_SUBJECT",
    "BatchWriter",
    "KeyUnavailable",
    "WriterState",
    "key_unavailable",
    "personal_aad",
]

log = logging.getLogger(__name__)

# Pseudo-subject that owns the keys of subject-less events (alert handling) and of dead letters whose
# subject cannot be read. Producers may not use it (validation refuses it).
LEDGER_SUBJECT = LEDGER_SUBJECT_ID

_CANONICAL_UUID_LEN = 36


def personal_aad(event_id: str, pointer: str, kid: str) -> bytes:
    """Associated data binding a ciphertext to its event, field and key (no swapping between them)."""
    return f"{event_id}|{pointer}|{kid}".encode()


def _pointer(path: Sequence[str | int]) -> str:
    return "/payload/" + "/".join(map(str, path))


def _set_path(node: Any, path: Sequence[str | int], value: Any) -> None:
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value


def _copy_along(root: dict[str, Any], path: Sequence[str | int], copied: set[tuple[str | int, ...]]) -> Any:
    """Copy the containers on ``path`` below ``root`` (once each), so setting a leaf leaves the input alone.

    ``root`` is a copy already; the rest of the payload is shared with the validated event, unchanged.
    """
    node: Any = root
    for depth in range(1, len(path)):
        prefix = tuple(path[:depth])
        parent, step = node, path[depth - 1]
        if prefix not in copied:
            child = parent[step]
            parent[step] = dict(child) if isinstance(child, dict) else list(child)
            copied.add(prefix)
        node = parent[step]
    return root


def _get_path(node: Any, path: Sequence[str | int]) -> Any:
    for step in path:
        node = node[step]
    return node


def _safe_event_id(event: dict[str, Any] | None) -> str | None:
    value = event.get("event_id") if isinstance(event, dict) else None
    if isinstance(value, str) and len(value) == _CANONICAL_UUID_LEN:
        try:
            if str(UUID(value)) == value:
                return value
        except ValueError:
            return None
    return None


def _safe_event_type(event: dict[str, Any] | None) -> str | None:
    value = event.get("event_type") if isinstance(event, dict) else None
    return value if isinstance(value, str) and value in EVENT_TYPES else None


def _readable_subject(event: dict[str, Any] | None) -> str | None:
    """The canonical form of the message's ``subject_id`` if it reads as a UUID (in any spelling)."""
    value = event.get("subject_id") if isinstance(event, dict) else None
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        return str(UUID(value))
    except ValueError:
        return None


def key_unavailable(event: dict[str, Any] | None) -> EventRejected:
    """The rejection of a message needing a data key (its subject's, or one its effects need) that the
    master key does not open."""
    return EventRejected(
        ErrorCode.KEY_UNAVAILABLE,
        "/subject_id" if isinstance(event, dict) and event.get("subject_id") else "",
        "a data key this message needs cannot be opened with the master key",
    )


class KeyUnavailable(Exception):
    """A key the side effects of message ``index`` need cannot be opened (a corrupt key row).

    Raised out of :meth:`BatchWriter.apply` when the message's effects are already partly applied;
    the caller rolls the transaction back and applies the batch again with that message rejected
    ``KEY_UNAVAILABLE``, so nothing partial of it remains and the rest of the batch is stored.
    """

    def __init__(self, index: int) -> None:
        super().__init__(f"a data key needed by message {index} of the batch cannot be opened")
        self.index = index


@dataclass
class WriterState:
    """What a writer learnt of the ledger while appending, true from its commit (``generation``) until
    another transaction writes: key rows, stream versions, merges, referenced entities and the Merkle
    tree's frontier."""

    generation: int
    ring: RingState
    versions: dict[UUID, int]
    merged: dict[str, str | None]
    entities: dict[tuple[str, str], dict[str, Any] | None]
    frontier: Frontier | None = None

    @property
    def size(self) -> int:
        """Entries remembered (the caller bounds the memory by dropping a state that grew too big)."""
        return len(self.ring.rows) + len(self.versions) + len(self.merged) + len(self.entities)


class BatchWriter:
    """Applies one batch of messages inside an open, locked write transaction.

    ``carried`` is the state of the same writer's previous transaction; pass it only when no other
    transaction wrote in between (``cur.generation == carried.generation + 1``). The writer then asks
    the database only about subjects, streams and entities that state does not know.
    """

    def __init__(
        self,
        store: LedgerStore,
        keys: KeyStore,
        codes: CodeLists,
        cur: SqlCursor,
        recorded_at: datetime,
        *,
        park_grace_seconds: int = 86400,
        carried: WriterState | None = None,
    ) -> None:
        self.store = store
        self.keys = keys
        self.codes = codes
        self.cur = cur
        self.recorded_at = recorded_at
        self.recorded_at_text = format_instant(recorded_at)
        self.ring = keys.ring(cur, self.recorded_at_text, carried.ring if carried else None)
        self.result = BatchResult()
        self._pending: list[tuple[UUID, int, dict[str, Any]]] = []  # (stream, version, stored record)
        self._dedup: dict[str, tuple[str, str]] = {}  # event_id -> (fp_kid, fingerprint), known
        self._new_dedup: dict[str, tuple[str, str]] = {}
        self._versions: dict[UUID, int] = carried.versions if carried else {}
        self._dead: list[list[Any]] = []
        self._resolve_memo: dict[str, str] = {}
        # merged subject -> survivor (None: not merged)
        self._merged: dict[str, str | None] = carried.merged if carried else {}
        # (kind, id) -> row, or None: not created (yet)
        self._entities: dict[tuple[str, str], dict[str, Any] | None] = carried.entities if carried else {}
        self._new_entities: list[tuple[str, ...]] = []
        # The Merkle tree's right border after the last batch (None: read it from the table).
        self._frontier: Frontier | None = carried.frontier if carried else None
        # Parked events of this batch's event ids and all parked references, loaded by parking.load.
        self.parked: dict[str, tuple[str, str]] = {}
        self.parked_refs: set[tuple[str, str]] = set()
        self.park_grace_seconds = park_grace_seconds
        self.dead_letter_raw_days = 30

    # -- the batch ---------------------------------------------------------------------------

    def apply(self, messages: Sequence[Message], outcomes: Sequence[dict[str, Any] | EventRejected]) -> None:
        """Process the messages in order; ``outcomes`` holds each one's normalised event or error."""
        events = [o for o in outcomes if not isinstance(o, EventRejected)]
        # The subjects of rejected messages too: their raw bytes go under their dead-letter keys.
        rejected = [
            s
            for m, o in zip(messages, outcomes, strict=True)
            if isinstance(o, EventRejected) and (s := _readable_subject(m.event)) is not None
        ]
        self._prefetch(events, rejected)
        parking.load(self, [e["event_id"] for e in events])
        parking.expire(self)
        if not messages:
            self._purge_dead_letter_payloads()
        for index, (msg, outcome) in enumerate(zip(messages, outcomes, strict=True)):
            self.result.consumed += 1
            if isinstance(outcome, EventRejected):
                self.dead_letter(msg, outcome)
                continue
            try:
                self._process(msg, outcome)
            except MasterKeyError as exc:
                # Raised by a side effect (an erasure's or a released event's system events), after
                # part of this message was applied: only a rollback removes that part.
                log.warning("message %d of the batch needs a key that cannot be opened: %s", index, exc)
                raise KeyUnavailable(index) from exc
        self._flush()

    def state(self, generation: int) -> WriterState:
        """This writer's knowledge, for the next transaction of the same writer (valid once committed)."""
        return WriterState(
            generation, self.ring.state(), self._versions, self._merged, self._entities, self._frontier
        )

    def _prefetch(self, events: Sequence[dict[str, Any]], rejected_subjects: Sequence[str] = ()) -> None:
        ids = [e["event_id"] for e in events]
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            for row in self.cur.execute(
                "SELECT event_id, fp_kid, fingerprint FROM {t:ledger_dedup} WHERE event_id {in}",
                (InList(chunk),),
            ).all():
                self._dedup[row["event_id"]] = (row["fp_kid"], row["fingerprint"])
        subjects = sorted({e["subject_id"] for e in events if e.get("subject_id")})
        self.ring.prefetch([*subjects, *rejected_subjects, LEDGER_SUBJECT])
        unknown = [s for s in subjects if s not in self._merged]
        for start in range(0, len(unknown), 500):
            chunk = unknown[start : start + 500]
            for row in self.cur.execute(
                "SELECT merged_subject_id, surviving_subject_id FROM {t:ledger_merges} "
                "WHERE merged_subject_id {in}",
                (InList(chunk),),
            ).all():
                self._merged[str(row["merged_subject_id"])] = str(row["surviving_subject_id"])
            for subject in chunk:
                self._merged.setdefault(subject, None)
        self._prefetch_versions(events)
        self._prefetch_entities(events)

    def _prefetch_entities(self, events: Sequence[dict[str, Any]]) -> None:
        wanted: dict[str, set[str]] = {}
        for e in events:
            spec = EVENT_TYPES[e["event_type"]]
            # What the batch refers to, and what it creates (an id created before keeps its first row).
            payload = e["payload"]
            pairs = [(ref.kind, payload.get(ref.field)) for ref in spec.references if ref.kind != "event"]
            if spec.creates and spec.creates_field:
                pairs.append((spec.creates, payload.get(spec.creates_field)))
            for kind, value in pairs:
                if isinstance(value, str) and (kind, value) not in self._entities:
                    wanted.setdefault(kind, set()).add(value)
        for kind, ids in sorted(wanted.items()):
            chunk = sorted(ids)
            for key in chunk:
                self._entities[(kind, key)] = None
            for row in self.cur.execute(
                "SELECT entity_id, subject_id, occurred_at FROM {t:ledger_entities} "
                "WHERE kind = ? AND entity_id {in}",
                (kind, InList(chunk)),
            ).all():
                self._entities[(kind, str(row["entity_id"]))] = {
                    "subject_id": row["subject_id"],
                    "occurred_at": row["occurred_at"],
                }

    def _prefetch_versions(self, events: Sequence[dict[str, Any]]) -> None:
        sids = sorted({self._stream_of(e) for e in events} - self._versions.keys(), key=str)
        pg = self.cur.dialect.is_postgres
        for start in range(0, len(sids), 500):
            chunk = sids[start : start + 500]
            params: list[Any] = [s if pg else s.hex for s in chunk]
            if pg:
                # One backward probe of the primary key per stream, not a scan of all its versions.
                query = (
                    "SELECT s.id AS sid, (SELECT MAX(e.originator_version) FROM "
                    f"{self.store.events_table} e WHERE e.originator_id = s.id) AS v "
                    "FROM unnest(?::uuid[]) AS s(id)"
                )
                rows = [r for r in self.cur.execute(query, (params,)).all() if r["v"] is not None]
            else:
                rows = self.cur.execute(
                    "SELECT originator_id AS sid, MAX(originator_version) AS v "
                    f"FROM {self.store.events_table} "
                    "WHERE originator_id {in} GROUP BY originator_id",
                    (InList(params),),
                ).all()
            for r in rows:
                sid = r["sid"] if isinstance(r["sid"], UUID) else UUID(str(r["sid"]))
                self._versions[sid] = int(r["v"])
            for s in chunk:
                self._versions.setdefault(s, 0)

    def _process(self, msg: Message, event: dict[str, Any]) -> None:
        event_id = event["event_id"]
        known = self._new_dedup.get(event_id) or self._dedup.get(event_id) or self.parked.get(event_id)
        if known is not None:
            self._duplicate_or_conflict(msg, event, known)
            return
        try:
            check_against_ledger(event, self)
        except EventRejected as exc:
            self.dead_letter(msg, exc, event)
            return
        missing = parking.unknown_reference(self, event)
        try:
            sealed = self.seal(event)
        except MasterKeyError as exc:
            # Nothing of the message is queued or created yet (seal opens every key first).
            self._reject_key_unavailable(msg, event, exc)
            return
        if missing is not None:
            parking.park(self, msg, *sealed, missing)
            return
        self.append_sealed(*sealed, producer=True)

    def _reject_key_unavailable(self, msg: Message, event: dict[str, Any], exc: MasterKeyError) -> None:
        log.warning("dead-lettered %s: %s", ErrorCode.KEY_UNAVAILABLE, exc)
        self.dead_letter(msg, key_unavailable(event), event)

    def _duplicate_or_conflict(self, msg: Message, event: dict[str, Any], known: tuple[str, str]) -> None:
        fp_kid, stored_fp = known
        try:
            secret = self.ring.secret_of(fp_kid)
        except MasterKeyError as exc:  # the fingerprint key row is corrupt: no comparison possible
            self._reject_key_unavailable(msg, event, exc)
            return
        if secret is None:
            # The subject was fully erased: a redelivery is a duplicate without comparison, and its
            # plaintext is dropped here, never dead-lettered (spec 3.5 point 3).
            self.result.duplicates += 1
            return
        if hmac.compare_digest(_fingerprint(secret, event), stored_fp):
            self.result.duplicates += 1
            return
        self.dead_letter(
            msg,
            EventRejected(
                ErrorCode.DUPLICATE_EVENT_ID_CONFLICT,
                "/event_id",
                "an event with this event_id and different content is already stored",
            ),
            event,
        )

    # -- appending ---------------------------------------------------------------------------

    def _stream_of(self, event: dict[str, Any]) -> UUID:
        return record_stream(event)

    def append(self, event: dict[str, Any], *, producer: bool) -> None:
        """Encrypt, place on its stream and queue one validated event; then run its side effects."""
        self.append_sealed(*self.seal(event), producer=producer)

    def seal(self, event: dict[str, Any]) -> tuple[dict[str, Any], str, str]:
        """The event with personal fields encrypted under its subject's keys, and its fingerprint.

        Returns ``(sealed event, fingerprint key id, fingerprint)``. After this, no plaintext is kept:
        a parked event waits in this form, so erasing its subject meanwhile still works.

        Raises :class:`MasterKeyError` if one of the subject's current keys cannot be opened; it
        opens them all first, so it then has created no key and changed nothing.
        """
        subject = event.get("subject_id")
        key_subject = self.resolve_subject(subject) if subject else LEDGER_SUBJECT
        fields = list(iter_personal_fields(event["event_type"], event["payload"]))
        self.ring.open_current(key_subject, [*sorted({c for _, c in fields}), FINGERPRINT_CATEGORY])
        sealed = dict(event)
        sealed["payload"] = self._encrypt(event, key_subject, fields)
        fp_kid, secret = self.ring.secret(key_subject, FINGERPRINT_CATEGORY)
        return sealed, fp_kid, _fingerprint(secret, event)

    def append_sealed(self, sealed: dict[str, Any], fp_kid: str, fingerprint: str, *, producer: bool) -> None:
        """Queue a sealed event on its stream, then run its side effects (indexes, erasure, release)."""
        record = dict(sealed)
        record["recorded_at"] = self.recorded_at_text
        sid = self._stream_of(sealed)
        if sid not in self._versions:
            self._prefetch_versions([sealed])
        version = self._versions[sid] + 1
        self._versions[sid] = version
        self._pending.append((sid, version, record))
        self._new_dedup[sealed["event_id"]] = (fp_kid, fingerprint)
        for row in self._dead:
            if row[5] == sealed["event_id"]:
                row[10] = "REPLAYED"
        if producer:
            self.result.stored += 1
        else:
            self.result.system_events += 1
        self._index(sealed)
        if sealed["event_type"] == "DataErased":
            erasure.execute(self, sealed)
        elif sealed["event_type"] == "LegalHoldReleased":
            erasure.release(self, sealed)
        parking.release_waiting(self, sealed)

    def _encrypt(
        self, event: dict[str, Any], key_subject: str, fields: Sequence[tuple[Sequence[str | int], str]]
    ) -> dict[str, Any]:
        payload = dict(event["payload"])
        copied: set[tuple[str | int, ...]] = set()
        for path, category in fields:
            kid, aead = self.ring.encryption_key(key_subject, category)
            pointer = _pointer(path)
            value = _get_path(payload, path)
            enc, commit = seal_value(aead, value, personal_aad(event["event_id"], pointer, kid))
            envelope = {"enc": enc, "kid": kid, "cat": category, "c": commit}
            _set_path(_copy_along(payload, path, copied), path, envelope)
        return payload

    def system_event(
        self,
        event_type: str,
        subject_id: str,
        occurred_at: str,
        payload: dict[str, Any],
        *,
        cause: str,
        correlation_id: str,
    ) -> None:
        """Append a ledger-generated event (spec 4.8) with a deterministic id derived from ``cause``."""
        event = {
            "event_id": str(uuid.uuid5(_SYSTEM_NAMESPACE, cause)),
            "event_type": event_type,
            "schema_version": 1,
            "occurred_at": occurred_at,
            "producer": {"system": "ledger"},
            "subject_id": subject_id,
            "correlation_id": correlation_id,
            "payload": payload,
        }
        normalised = validate_event(event, self.codes, self.recorded_at, allow_system=True)
        self.append(normalised, producer=False)

    def _index(self, event: dict[str, Any]) -> None:
        spec = EVENT_TYPES[event["event_type"]]
        payload = event["payload"]
        if spec.creates and spec.creates_field and payload.get(spec.creates_field):
            key = (spec.creates, str(payload[spec.creates_field]))
            # As the table keeps the first row (ON CONFLICT DO NOTHING), so does memory: a state carried
            # to the next batch must say what the database says.
            if self.entity(*key) is None:
                self._entities[key] = {
                    "subject_id": event.get("subject_id") or LEDGER_SUBJECT,
                    "occurred_at": event["occurred_at"],
                }
            # Written in one statement at flush; until then lookups are answered from _entities.
            self._new_entities.append(
                (
                    spec.creates,
                    payload[spec.creates_field],
                    event.get("subject_id") or LEDGER_SUBJECT,
                    event["event_id"],
                    event["occurred_at"],
                )
            )
        if event["event_type"] == "SubjectsMerged":
            self.cur.execute(
                "INSERT INTO {t:ledger_merges} (merged_subject_id, surviving_subject_id, event_id) "
                "VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                (payload["merged_subject_id"], payload["surviving_subject_id"], event["event_id"]),
            )
            if self._merged.get(payload["merged_subject_id"]) is None:
                self._merged[payload["merged_subject_id"]] = payload["surviving_subject_id"]
            self._resolve_memo.clear()
        elif event["event_type"] == "LegalHoldPlaced":
            self.cur.execute(
                "INSERT INTO {t:ledger_holds} (hold_id, subject_id, categories, active) "
                "VALUES (?, ?, ?, 1) ON CONFLICT DO NOTHING",
                (payload["hold_id"], event["subject_id"], json.dumps(payload["categories"])),
            )

    def dead_letter(self, msg: Message, exc: EventRejected, event: dict[str, Any] | None = None) -> None:
        """Keep a rejected message: code, path, ids; the raw bytes only encrypted (spec 3.6 raw_ref).

        The raw bytes go under the dead-letter key of the message's subject when its ``subject_id``
        can be read (its own id, not its merge survivor's: erasing either destroys that key), else
        under the ledger's. If that key cannot be opened, the raw bytes are not kept.
        """
        source = event if event is not None else msg.event
        dlq_id = str(uuid.uuid4())
        raw_ref: bytes | None = None
        if msg.raw is not None:
            owner = _readable_subject(source) or _readable_subject(msg.event) or LEDGER_SUBJECT
            try:
                kid, aead = self.ring.encryption_key(owner, DEAD_LETTER_CATEGORY)
            except MasterKeyError as key_error:
                log.warning("raw bytes of dead letter %s not kept: %s", dlq_id, key_error)
            else:
                raw_ref = (
                    kid.encode()
                    + b"\n"
                    + encrypt_value(aead, msg.raw.decode("latin-1"), dlq_id.encode()).encode()
                )
        letter = DeadLetter(
            dlq_id=dlq_id,
            topic=msg.topic,
            partition=msg.partition,
            offset=msg.offset,
            event_id=_safe_event_id(source),
            event_type=_safe_event_type(source),
            error_code=str(exc.code),
            error_path=exc.path,
            error_message=exc.message,
        )
        self._dead.append(
            [
                letter.dlq_id,
                self.recorded_at_text,
                letter.topic,
                letter.partition,
                letter.offset,
                letter.event_id,
                letter.event_type,
                letter.error_code,
                letter.error_path,
                letter.error_message,
                "OPEN",
                raw_ref,
            ]
        )
        self.result.dead_lettered += 1
        self.result.dead_letters.append(letter)

    def _purge_dead_letter_payloads(self) -> None:
        """Drop the encrypted raw payloads of dead letters older than the retention (spec 3.6: 30 days).

        The entry itself (codes, paths, ids) stays; only the bytes that may hold personal data go.
        """
        cutoff = self.recorded_at - timedelta(days=self.dead_letter_raw_days)
        self.cur.execute(
            "UPDATE {t:ledger_dead_letters} SET raw_ref = NULL WHERE raw_ref IS NOT NULL AND consumed_at < ?",
            (format_instant(cutoff),),
        )

    # -- commit ------------------------------------------------------------------------------

    def _flush(self) -> None:
        cur = self.cur
        self.ring.flush()
        cur.executemany(
            "INSERT INTO {t:ledger_entities} (kind, entity_id, subject_id, event_id, occurred_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            self._new_entities,
        )
        head = cur.execute("SELECT seq, hash FROM {t:ledger_chain} ORDER BY seq DESC LIMIT 1").one()
        seq, prev = (int(head["seq"]), str(head["hash"])) if head else (0, GENESIS_HASH)
        # Leaf seq - 1 of the Merkle tree is the chained record's canonical bytes, computed once: the
        # chain hash is SHA-256 of them, the leaf hash SHA-256 of 0x00 and them.
        tree = TreeIntegrator(self.store, cur, seq, self._frontier) if self._pending else None
        chain_rows: list[list[Any]] = []
        dedup_rows: list[tuple[Any, ...]] = []
        stored: list[StoredEvent] = []
        prefix: bytes | None = None
        mapper = self.store.app.mapper
        plain_state = self.store.plain_state
        for sid, version, rec in self._pending:
            seq += 1
            pieces = canonical_members(rec, around=_CHAIN_MEMBERS) if plain_state else None
            if pieces is not None:
                # The record is encoded once, for the stored state and the chained bytes alike: the
                # state is the mapper's JSON of the event with the record in canonical form (JCS).
                if prefix is None:
                    prefix = mapper.transcoder.encode({"timestamp": self.recorded_at})[:-1] + b',"record":'
                before, between, after = pieces
                state = prefix + join_members(pieces).encode() + b"}"
                stored.append(StoredEvent(sid, version, _TOPICS[rec["event_type"]], state))
                data = join_members(
                    [before, '"prev_hash":' + _json_string(prev), between, f'"seq":{seq}', after]
                ).encode()
            else:
                event = event_class(rec["event_type"])(
                    originator_id=sid, originator_version=version, timestamp=self.recorded_at, record=rec
                )
                stored.append(mapper.to_stored_event(event))
                data = chained_bytes(rec, seq, prev)
            digest = hashlib.sha256(data).hexdigest()
            if tree is not None:
                tree.add(data)
            chain_rows.append(
                [
                    seq,
                    None,  # its notification id, once inserted
                    str(sid),
                    version,
                    rec["event_id"],
                    rec["event_type"],
                    rec.get("subject_id"),
                    rec["recorded_at"],
                    prev,
                    digest,
                ]
            )
            fp_kid, fp = self._new_dedup[rec["event_id"]]
            dedup_rows.append((rec["event_id"], fp_kid, fp, seq))
            prev = digest
            if self.result.first_seq is None:
                self.result.first_seq = seq
            self.result.last_seq = seq
        ids = self.store.insert_stored(cur, stored)
        for row, nid in zip(chain_rows, ids, strict=True):
            row[1] = nid
        cur.insert_rows(
            "ledger_chain",
            (
                "seq",
                "notification_id",
                "stream_id",
                "stream_version",
                "event_id",
                "event_type",
                "subject_id",
                "recorded_at",
                "prev_hash",
                "hash",
            ),
            chain_rows,
        )
        cur.insert_rows("ledger_dedup", ("event_id", "fp_kid", "fingerprint", "seq"), dedup_rows)
        if tree is not None:
            tree.flush()
            self._frontier = tree.frontier
        # Dead letters already in the table are older than anything stored now: a stored event_id
        # means its fix arrived (spec 3.6 REPLAYED). Rows of this batch were marked as they went.
        stored_ids = [r[0] for r in dedup_rows]
        for start in range(0, len(stored_ids), 500):
            chunk = stored_ids[start : start + 500]
            cur.execute(
                "UPDATE {t:ledger_dead_letters} SET status = 'REPLAYED' "
                "WHERE status = 'OPEN' AND event_id {in}",
                (InList(chunk),),
            )
        cur.executemany(
            "INSERT INTO {t:ledger_dead_letters} (dlq_id, consumed_at, topic, partition, offset_, "
            "event_id, event_type, error_code, error_path, error_message, status, raw_ref) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            self._dead,
        )
        cur.executemany(
            "INSERT INTO {t:ledger_counters} AS c (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = c.value + excluded.value",
            [
                (name, value)
                for name, value in (
                    ("consumed", self.result.consumed),
                    ("stored", self.result.stored),
                    ("duplicates", self.result.duplicates),
                    ("dead_lettered", self.result.dead_lettered),
                    ("system_events", self.result.system_events),
                    ("parked", self.result.parked),
                )
                if value
            ],
        )

    # -- LedgerFacts (what validation may ask of the ledger's state) --------------------------

    def resolve_subject(self, subject_id: str) -> str:
        """The final survivor ``subject_id`` was merged into (itself if never merged)."""
        memo = self._resolve_memo.get(subject_id)
        if memo is not None:
            return memo
        current, seen = subject_id, {subject_id}
        while (nxt := self.merged_into(current)) is not None and nxt not in seen:
            seen.add(nxt)
            current = nxt
        self._resolve_memo[subject_id] = current
        return current

    def merged_into(self, subject_id: str) -> str | None:
        """The subject ``subject_id`` was merged into directly, if any."""
        if subject_id not in self._merged:
            value = self.cur.execute(
                "SELECT surviving_subject_id FROM {t:ledger_merges} WHERE merged_subject_id = ?",
                (subject_id,),
            ).scalar()
            self._merged[subject_id] = None if value is None else str(value)
        return self._merged[subject_id]

    def merged_set(self, subject_id: str) -> list[str]:
        """``subject_id`` and every subject merged into it, transitively (spec 5.1 step 1)."""
        found, frontier = [subject_id], [subject_id]
        while frontier:
            current = frontier.pop()
            for row in self.cur.execute(
                "SELECT merged_subject_id FROM {t:ledger_merges} WHERE surviving_subject_id = ? "
                "ORDER BY merged_subject_id",
                (current,),
            ).all():
                merged = str(row["merged_subject_id"])
                if merged not in found:
                    found.append(merged)
                    frontier.append(merged)
        return found

    def known_event(self, event_id: str) -> tuple[str, str] | None:
        """(fingerprint key id, fingerprint) of a stored or just appended event, else None."""
        return self._new_dedup.get(event_id) or self._dedup.get(event_id)

    def entity(self, kind: str, entity_id: str) -> dict[str, Any] | None:
        """The created entity (request, hold, ...) row, or None if it does not exist (yet)."""
        key = (kind, entity_id)
        if key not in self._entities:
            self._entities[key] = self.cur.execute(
                "SELECT subject_id, occurred_at FROM {t:ledger_entities} WHERE kind = ? AND entity_id = ?",
                key,
            ).one()
        return self._entities[key]

    def request_subject(self, request_id: str) -> str | None:
        """The subject a rights request was received for."""
        row = self.entity("request", request_id)
        return None if row is None else str(row["subject_id"])

    def request_received_at(self, request_id: str) -> str | None:
        """The ``occurred_at`` text of the request's receipt."""
        row = self.entity("request", request_id)
        return None if row is None else str(row["occurred_at"])


_SYSTEM_NAMESPACE = UUID("0d7c7b7e-8f8e-4a51-b7a3-6f3f4b3f1c55")
# get_topic also registers each class under its topic, as the mapper's to_stored_event would: events
# written here without the mapper read back through it in the same process.
_TOPICS = {name: get_topic(event_class(name)) for name in EVENT_TYPES}
# The members the chain adds to a stored record (``chained_record``), in JCS order.
_CHAIN_MEMBERS = ("prev_hash", "seq")
_json_string = json.encoder.encode_basestring  # a JSON string as JCS writes it (ensure_ascii off)


# No circular-reference check: a validated event is a tree decoded from JSON.
_FINGERPRINT_JSON = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, check_circular=False
).encode


def _fingerprint(secret: bytes, event: dict[str, Any]) -> str:
    # Internal only (never verified outside), so a deterministic sorted JSON suffices; no JCS needed.
    return hmac.digest(secret, _FINGERPRINT_JSON(event).encode(), "sha256").hex()
