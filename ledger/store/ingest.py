"""The append path shared by ``privacy-ledger ingest`` and the Kafka consumer."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from ledger.domain.codes import CodeLists
from ledger.domain.validation import parse_json_message, validate_event
from ledger.errors import ErrorCode, EventRejected
from ledger.store.database import LedgerStore
from ledger.store.dialect import SqlCursor
from ledger.store.keystore import KeyStore
from ledger.store.messages import BatchResult, Message
from ledger.store.writer import BatchWriter, WriterState

__all__ = ["Clock", "Ingestor", "read_messages"]

_FUTURE = str(ErrorCode.FUTURE_TIMESTAMP)

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
            writer.apply(messages, validated)
            if self.announce_dead_letters:
                cur.executemany(
                    "INSERT INTO {t:ledger_dlq_outbox} (dlq_id) VALUES (?)",
                    [(d.dlq_id,) for d in writer.result.dead_letters],
                )
            if in_transaction is not None:
                in_transaction(cur)
        state = writer.state(generation)
        self._state = state if state.size <= self.state_limit else None
        if writer.ring.shredded_kids:
            self.keys.forget(writer.ring.shredded_kids)
            self.store.purge_destroyed_keys()
        return writer.result

    def ingest(self, messages: Iterable[Message], batch_size: int = 500) -> BatchResult:
        """Append messages in batches of ``batch_size``; returns the summed counts."""
        total = BatchResult()
        batch: list[Message] = []
        for message in messages:
            batch.append(message)
            if len(batch) >= batch_size:
                total.add(self.ingest_batch(batch))
                batch = []
        if batch:
            total.add(self.ingest_batch(batch))
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


def read_messages(path: Path) -> Iterator[Message]:
    """Messages of a JSON-lines file (one event per line) or an Avro object-container file."""
    if path.suffix == ".avro":
        yield from _read_avro(path)
        return
    topic = f"file:{path.name}"
    with path.open("rb") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            raw = line.rstrip(b"\r\n")
            try:
                event = parse_json_message(raw)
            except EventRejected as exc:
                yield Message(topic, None, lineno, error=exc, raw=raw)
                continue
            yield Message(topic, None, lineno, event=event, raw=raw)


def _read_avro(path: Path) -> Iterator[Message]:
    from ledger.avro import AvroCodec, AvroDecodeError

    topic = f"file:{path.name}"
    codec = AvroCodec()
    with path.open("rb") as fh:
        for index, item in enumerate(codec.read_container(fh), start=1):
            if isinstance(item, AvroDecodeError):
                yield Message(topic, None, index, error=item)
            else:
                raw = json.dumps(item, default=str).encode()
                yield Message(topic, None, index, event=item, raw=raw)
