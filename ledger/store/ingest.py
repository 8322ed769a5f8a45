"""The append path shared by ``privacy-ledger ingest`` and the Kafka consumer."""

from __future__ import annotations

import io
import json
import logging
import os
import stat
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any, BinaryIO, cast

from ledger.domain.codes import CodeLists
from ledger.domain.timeutil import format_instant
from ledger.domain.validation import MAX_MESSAGE_BYTES, parse_json_message, validate_event
from ledger.errors import ErrorCode, EventRejected, LedgerError
from ledger.observability import count_committed_keys, count_erasures
from ledger.store.database import LedgerStore
from ledger.store.destructions import DestructionJournal, record_destructions
from ledger.store.dialect import SqlCursor
from ledger.store.keystore import KeyStore
from ledger.store.messages import BatchResult, Message
from ledger.store.writer import BatchWriter, KeyUnavailable, WriterState, key_unavailable

__all__ = [
    "MAX_AVRO_BLOCK_BYTES",
    "Clock",
    "Ingestor",
    "InputFileError",
    "check_input_files",
    "read_messages",
]

log = logging.getLogger(__name__)

_FUTURE = str(ErrorCode.FUTURE_TIMESTAMP)
# Reading an Avro container file holds one block at a time; a block bigger than this is refused.
MAX_AVRO_BLOCK_BYTES = 64 * 1024 * 1024
_SKIP_CHUNK = 64 * 1024  # how much of an over-long JSON line is read at a time while skipping it

Clock = Callable[[], datetime]


class Ingestor:
    """Validates, deduplicates, encrypts and appends batches of messages, one transaction each."""

    def __init__(
        self,
        store: LedgerStore,
        keys: KeyStore,
        codes: CodeLists,
        clock: Clock,
        *,
        park_grace_seconds: int = 86400,
        announce_dead_letters: bool = False,
    ) -> None:
        self.store = store
        self.keys = keys
        self.codes = codes
        self.clock = clock
        self.park_grace_seconds = park_grace_seconds
        # The Kafka consumer also announces dead letters on the DLQ topic, through an outbox table.
        self.announce_dead_letters = announce_dead_letters
        # What the last committed batch learnt of keys, streams and entities; used while this ingestor
        # is the only writer (see LedgerStore.write), dropped when it grows past state_limit entries.
        self._state: WriterState | None = None
        self.state_limit = 100_000  # entries; about 30k subjects, tens of MB

    def ingest_batch(
        self,
        messages: Sequence[Message],
        *,
        in_transaction: Callable[[SqlCursor], None] | None = None,
        recorded_at: datetime | None = None,
        validated: Sequence[dict[str, Any] | EventRejected] | None = None,
    ) -> BatchResult:
        """Append one batch atomically; ``in_transaction`` adds more writes (e.g. offsets) to it.

        ``validated`` holds each message's outcome when the caller validated them already (the Kafka
        consumer's decoding helper does), as of ``recorded_at`` or earlier. Only one check depends on
        the time, ``occurred_at`` not ahead of the recording: what passed then passes now, and what
        failed it is checked again as of ``recorded_at``.
        """
        if validated is None:
            recorded_at = recorded_at or self.clock()
            validated = [self._validate(m, recorded_at) for m in messages]
        elif recorded_at is None or len(validated) != len(messages):
            raise ValueError("pre-validated outcomes need their recorded_at, one per message")
        else:
            at = recorded_at
            validated = [
                self._validate(m, at) if isinstance(v, EventRejected) and v.code == _FUTURE else v
                for m, v in zip(messages, validated, strict=True)
            ]
        # Taken, not shared: a failed transaction leaves no state behind (the next one starts cold).
        carried, self._state = self._state, None
        started = time.perf_counter()
        with self.store.write() as cur:
            generation = cur.generation
            assert generation is not None  # a locked write transaction counts itself
            writer = self._apply(
                cur,
                messages,
                validated,
                recorded_at,
                carried if carried is not None and generation == carried.generation + 1 else None,
            )
            if self.announce_dead_letters:
                cur.executemany(
                    "INSERT INTO {t:ledger_dlq_outbox} (dlq_id) VALUES (?)",
                    [(d.dlq_id,) for d in writer.result.dead_letters],
                )
            if in_transaction is not None:
                in_transaction(cur)
            journal_txn = None
            if writer.ring.shredded_kids and self.keys.journal is not None:
                # Last, before the commit: a committed destruction always has its journal line.
                journal_txn = record_destructions(
                    cur, self.keys.journal, writer.ring.shredded_kids, writer.ring.now
                )
        if journal_txn is not None and self.keys.journal is not None:
            _mark_committed(self.keys.journal, journal_txn)
        state = writer.state(generation)
        self._state = state if state.size <= self.state_limit else None
        _count_committed(writer)
        if writer.ring.shredded_kids:
            self.keys.forget(writer.ring.shredded_kids)
            self.store.purge_destroyed_keys()
        r = writer.result
        # Counts, seqs and timings only: never a value.
        log.debug(
            "batch of %d: stored %d, duplicates %d, dead-lettered %d, parked %+d, system events %d, "
            "seq %s-%s, %.1f ms (write %d%s)",
            len(messages),
            r.stored,
            r.duplicates,
            r.dead_lettered,
            r.parked,
            r.system_events,
            r.first_seq,
            r.last_seq,
            (time.perf_counter() - started) * 1000,
            generation,
            ", state carried" if carried is not None and generation == carried.generation + 1 else "",
        )
        return r

    def _apply(
        self,
        cur: SqlCursor,
        messages: Sequence[Message],
        validated: Sequence[dict[str, Any] | EventRejected],
        recorded_at: datetime,
        carried: WriterState | None,
    ) -> BatchWriter:
        """A writer that applied the batch in the open transaction.

        A message whose side effects need a key the master key cannot open (a corrupt key row) is
        rejected ``KEY_UNAVAILABLE``: the batch is rolled back to the savepoint taken before it and
        applied again with that message rejected, so nothing partial of it remains.
        """
        outcomes = list(validated)
        cur.execute("SAVEPOINT ledger_batch")
        while True:
            writer = BatchWriter(
                self.store,
                self.keys,
                self.codes,
                cur,
                recorded_at,
                park_grace_seconds=self.park_grace_seconds,
                carried=carried,
            )
            try:
                writer.apply(messages, outcomes)
            except KeyUnavailable as exc:
                if isinstance(outcomes[exc.index], EventRejected):
                    raise  # cannot happen: a rejected message has no side effects
                cur.execute("ROLLBACK TO SAVEPOINT ledger_batch")
                outcomes[exc.index] = key_unavailable(messages[exc.index].event)
                carried = None  # the failed attempt changed the carried state in place
                continue
            return writer

    def append_system_event(
        self, event_type: str, subject_id: str, payload: dict[str, Any], *, cause: str, correlation_id: str
    ) -> BatchResult:
        """Append one ledger-generated event (spec 4.8; ``PersonalDataViewed``, the spec 8 read audit) in
        a transaction of its own, by the writer's path for system events (validated as the ledger's,
        sealed, chained, counted as a system event). Its id derives from ``cause``, which must be unique.

        Raises whatever the write raises (``MasterKeyError`` for an unopenable key): nothing is stored.
        """
        recorded_at = self.clock()
        carried, self._state = self._state, None
        with self.store.write() as cur:
            generation = cur.generation
            assert generation is not None  # a locked write transaction counts itself
            writer = BatchWriter(
                self.store,
                self.keys,
                self.codes,
                cur,
                recorded_at,
                park_grace_seconds=self.park_grace_seconds,
                carried=carried if carried is not None and generation == carried.generation + 1 else None,
            )
            writer.system_event(
                event_type,
                subject_id,
                format_instant(recorded_at),
                payload,
                cause=cause,
                correlation_id=correlation_id,
            )
            # An empty batch after it: the upkeep every batch does, then the flush that writes the event.
            writer.apply([], [])
        state = writer.state(generation)
        self._state = state if state.size <= self.state_limit else None
        _count_committed(writer)
        return writer.result

    def expire_due(self) -> BatchResult:
        """Dead-letter the parked events past the park grace, if any (spec 3.5 point 4).

        When none is due this is one small read; otherwise one write transaction (an empty batch, which
        expires them and drops raw dead-letter payloads past their retention).
        """
        cutoff = format_instant(self.clock() - timedelta(seconds=self.park_grace_seconds))
        with self.store.read() as cur:
            due = cur.execute(
                "SELECT COUNT(*) AS n FROM {t:ledger_parked} WHERE arrived_at < ?", (cutoff,)
            ).scalar()
        if not due:
            return BatchResult()
        log.debug("%d parked event(s) past the park grace: expiring", int(due))
        return self.ingest_batch([])

    def ingest(
        self,
        messages: Iterable[Message],
        batch_size: int = 500,
        *,
        progress: Callable[[int], None] | None = None,
    ) -> BatchResult:
        """Append messages in batches of ``batch_size``; returns the summed counts.

        Every batch expires parked events past their grace; with no message at all, ``expire_due`` does.
        ``progress`` is called after each batch with the number of messages consumed so far.
        """
        total = BatchResult()
        batch: list[Message] = []
        batches = 0
        for message in messages:
            batch.append(message)
            if len(batch) >= batch_size:
                total.add(self.ingest_batch(batch))
                batches += 1
                batch = []
                if progress is not None:
                    progress(total.consumed)
        if batch:
            total.add(self.ingest_batch(batch))
            batches += 1
            if progress is not None:
                progress(total.consumed)
        if batches == 0:
            total.add(self.expire_due())
        return total

    def _validate(self, message: Message, recorded_at: datetime) -> dict[str, Any] | EventRejected:
        if message.error is not None:
            return message.error
        if message.event is None:
            return EventRejected(ErrorCode.MALFORMED_JSON, "", "the message holds no event")
        try:
            return validate_event(message.event, self.codes, recorded_at)
        except EventRejected as exc:
            return exc


def _mark_committed(journal: DestructionJournal, txn: str) -> None:
    """The destruction journal's commit marker of a committed batch. A marker that cannot be written
    leaves its lines unmarked: the ledger still opens, and ``after-restore`` still re-applies them."""
    try:
        journal.mark_committed(txn)
    except LedgerError as exc:
        log.error(
            "destruction journal: commit marker not written (%s); after-restore still reads its lines", exc
        )


def _count_committed(writer: BatchWriter) -> None:
    """Count, once its transaction committed, the keys it created and destroyed and its erasures."""
    count_committed_keys(writer.ring.created, len(writer.ring.shredded_kids))
    count_erasures(writer.result.erasures)


class InputFileError(LedgerError):
    """An input file that does not exist, is not a regular file or cannot be read."""


def check_input_files(paths: Sequence[Path]) -> None:
    """Raise ``InputFileError`` naming the first of ``paths`` that cannot be read as a file.

    Called before anything is appended, so a mistyped name among several files commits nothing.
    """
    for path in paths:
        try:
            with path.open("rb") as fh:
                if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
                    raise InputFileError(f"input file {path} is not a regular file")
        except FileNotFoundError:
            raise InputFileError(f"input file {path} does not exist") from None
        except IsADirectoryError:
            raise InputFileError(f"input file {path} is a directory") from None
        except PermissionError:
            raise InputFileError(f"input file {path} is not readable (permission denied)") from None
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise InputFileError(f"input file {path} cannot be read ({reason})") from None


def read_messages(path: Path) -> Iterator[Message]:
    """Messages of a JSON-lines file (one event per line) or an Avro object-container file.

    Memory stays bounded whatever the file holds: a line longer than the 1 MiB message limit
    (spec 3.1) is read in chunks, only its first ``MAX_MESSAGE_BYTES`` kept (for the encrypted raw
    bytes of its dead letter, as the Kafka path keeps at most that much), the rest skipped to the
    next newline; it becomes ``PAYLOAD_TOO_LARGE`` and the lines after it are read as usual.
    """
    if path.suffix == ".avro":
        yield from _read_avro(path)
        return
    topic = f"file:{path.name}"
    with path.open("rb") as fh:
        for lineno, (raw, whole) in enumerate(_bounded_lines(fh), start=1):
            if whole and not raw.strip():
                continue
            if not whole or len(raw) > MAX_MESSAGE_BYTES:
                yield Message(topic, None, lineno, error=_too_large(), raw=raw[:MAX_MESSAGE_BYTES])
                continue
            try:
                event = parse_json_message(raw)
            except EventRejected as exc:
                yield Message(topic, None, lineno, error=exc, raw=raw)
                continue
            yield Message(topic, None, lineno, event=event, raw=raw)


def _too_large() -> EventRejected:
    return EventRejected(ErrorCode.PAYLOAD_TOO_LARGE, "", f"message is larger than {MAX_MESSAGE_BYTES} bytes")


def _bounded_lines(fh: BinaryIO) -> Iterator[tuple[bytes, bool]]:
    """Each line without its ``\\n`` or ``\\r\\n``, holding at most ``MAX_MESSAGE_BYTES + 2`` bytes of it.

    Yields ``(line, True)`` for a whole line and ``(its first bytes, False)`` for a longer one, whose
    rest is read in ``_SKIP_CHUNK`` pieces and dropped.
    """
    cap = MAX_MESSAGE_BYTES + 2  # room for a message of exactly the limit and its "\r\n"
    while True:
        line = fh.readline(cap)
        if not line:
            return
        if len(line) < cap or line.endswith(b"\n"):
            yield line.rstrip(b"\r\n"), True
            continue
        while True:
            rest = fh.readline(_SKIP_CHUNK)
            if not rest or rest.endswith(b"\n"):
                break
        yield line, False


def _read_avro(path: Path) -> Iterator[Message]:
    from ledger.avro import AvroCodec, AvroDecodeError

    topic = f"file:{path.name}"
    codec = AvroCodec()
    with path.open("rb") as fh:
        for index, item in enumerate(codec.read_container(cast(IO[bytes], _BoundedReads(fh))), start=1):
            if isinstance(item, AvroDecodeError):
                yield Message(topic, None, index, error=item)
                continue
            raw = json.dumps(item, default=str).encode()
            if len(raw) > MAX_MESSAGE_BYTES:
                # A record's JSON form is its message: at most 1 MiB (spec 3.1), as for a JSON line.
                yield Message(topic, None, index, error=_too_large(), raw=raw[:MAX_MESSAGE_BYTES])
            else:
                yield Message(topic, None, index, event=item, raw=raw)


class _BoundedReads(io.RawIOBase):
    """A read-only view of a file that refuses any single read over ``MAX_AVRO_BLOCK_BYTES``.

    fastavro reads a container block with one ``read(block size)``: a block that large (or a forged
    block size) is not loaded into memory; the file ends there with ``PAYLOAD_TOO_LARGE``.
    """

    def __init__(self, fh: BinaryIO) -> None:
        super().__init__()
        self._fh = fh

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0 or size > MAX_AVRO_BLOCK_BYTES:
            from ledger.avro import ContainerBlockTooLarge

            raise ContainerBlockTooLarge(f"a container block larger than {MAX_AVRO_BLOCK_BYTES} bytes")
        return self._fh.read(size)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
