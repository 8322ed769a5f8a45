"""Decoding and validating polled records, in a helper process one batch ahead of the writer.

Decoding Avro and checking an event against the catalogue depend on the bytes alone, not on the
ledger's state, and they are about a third of the CPU an event costs. The consumer hands each polled
batch to one helper process (``ConsumerConfig.decode_workers``) and writes the previous batch while the
helper works, so on a machine with two cores the two halves run side by side. The helper returns each
record's outcome: the normalised event, or the error with the decoded envelope when there was one (a
dead letter needs its ids). Nothing is lost if the helper dies: the batch is decoded in-process instead.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import datetime
from typing import Any

from consumers.decoding import record_to_message
from ledger.avro import AvroCodec
from ledger.codelists import load_code_lists
from ledger.domain.codes import CodeLists
from ledger.domain.validation import validate_event
from ledger.errors import ErrorCode, EventRejected
from ledger.messages import Message

__all__ = ["Outcome", "PreparedBatch", "Preparer", "RawRecord", "prepare_records"]

log = logging.getLogger(__name__)

# (topic, partition, offset, value): what the helper needs of a ConsumerRecord (cheap to pickle).
RawRecord = tuple[str, int, int, bytes | None]
# Per record: the normalised event, or the rejection and the decoded (unvalidated) event if any.
Outcome = tuple[dict[str, Any] | None, EventRejected | None, dict[str, Any] | None]


class _Tools:
    codec: AvroCodec | None = None
    codes: CodeLists | None = None

    @classmethod
    def get(cls) -> tuple[AvroCodec, CodeLists]:
        if cls.codec is None or cls.codes is None:
            cls.codec, cls.codes = AvroCodec(), load_code_lists()
        return cls.codec, cls.codes


class _RecordView:
    """The four attributes :func:`record_to_message` reads of a ConsumerRecord."""

    __slots__ = ("offset", "partition", "topic", "value")

    def __init__(self, raw: RawRecord) -> None:
        self.topic, self.partition, self.offset, self.value = raw


def prepare_records(records: Sequence[RawRecord], recorded_at: datetime) -> list[Outcome]:
    """Decode and validate each record as of ``recorded_at`` (the time its batch will be written)."""
    codec, codes = _Tools.get()
    out: list[Outcome] = []
    for raw in records:
        message = record_to_message(_RecordView(raw), codec)
        if message.error is not None:
            out.append((None, message.error, None))
        elif message.event is None:
            empty = EventRejected(ErrorCode.MALFORMED_JSON, "", "the message holds no event")
            out.append((None, empty, None))
        else:
            try:
                out.append((validate_event(message.event, codes, recorded_at), None, None))
            except EventRejected as exc:
                out.append((None, exc, message.event))
    return out


def _watch_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:  # the consumer died (even by SIGKILL): do not outlive it
            os._exit(0)
        time.sleep(1.0)


def _init_helper(parent: int) -> None:
    # Ctrl-C reaches the whole process group; only the consumer decides when to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True, name="parent-watch").start()
    _Tools.get()


class PreparedBatch:
    """One polled batch on its way through decoding: where its records came from and their outcomes."""

    def __init__(
        self,
        records: list[RawRecord],
        recorded_at: datetime,
        future: Future[list[Outcome]] | None,
    ) -> None:
        self.records = records
        self.recorded_at = recorded_at
        self._future = future

    def messages(self) -> tuple[list[Message], list[dict[str, Any] | EventRejected]]:
        """Wait for the outcomes; the messages (raw bytes kept for dead letters) and what validation gave."""
        outcomes: list[Outcome] | None = None
        if self._future is not None:
            try:
                outcomes = self._future.result()
            except Exception as exc:  # helper died or failed: decode here, same clock, same result
                log.warning("decoding helper failed (%s); decoding in-process", type(exc).__name__)
        if outcomes is None:
            outcomes = prepare_records(self.records, self.recorded_at)
        messages: list[Message] = []
        validated: list[dict[str, Any] | EventRejected] = []
        for (topic, partition, offset, value), (event, error, decoded) in zip(
            self.records, outcomes, strict=True
        ):
            if error is not None:
                messages.append(Message(topic, partition, offset, event=decoded, error=error, raw=value))
                validated.append(error)
            else:
                assert event is not None
                messages.append(Message(topic, partition, offset, event=event, raw=value))
                validated.append(event)
        return messages, validated


class Preparer:
    """Submits batches to the helper process (``workers`` = 0: decode in the consumer's own process)."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def submit(self, records: list[RawRecord], recorded_at: datetime) -> PreparedBatch:
        """Start decoding ``records``; the result is waited for in :meth:`PreparedBatch.messages`."""
        pool = self._helper()
        future: Future[list[Outcome]] | None = None
        if pool is not None:
            try:
                future = pool.submit(prepare_records, records, recorded_at)
            except Exception as exc:  # a broken pool: replace it next time, decode this one here
                log.warning("decoding helper unavailable (%s)", type(exc).__name__)
                self._discard()
        return PreparedBatch(records, recorded_at, future)

    def _helper(self) -> ProcessPoolExecutor | None:
        if self.workers <= 0:
            return None
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_helper,
                initargs=(os.getpid(),),
            )
        return self._pool

    def _discard(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def close(self) -> None:
        """Stop the helper process."""
        self._discard()
