"""Decoding and validating polled records, in a helper process one batch ahead of the writer.

Decoding Avro and checking an event against the catalogue depend on the bytes alone, not on the
ledger's state, and they are about a third of the CPU an event costs. The consumer hands each polled
batch to one helper process (``ConsumerConfig.decode_workers``) and writes the previous batch while the
helper works, so on a machine with two cores the two halves run side by side. The helper returns each
record's outcome: the normalised event, or the error with the decoded envelope when there was one (a
dead letter needs its ids). Nothing is lost if the helper dies: the batch is decoded in-process instead.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import datetime
from typing import Any

from consumers.decoding import record_to_message
from ledger.avro import AvroCodec
from ledger.codelists import load_code_lists
from ledger.domain.codes import CodeLists
from ledger.domain.validation import validate_event
from ledger.errors import ErrorCode, EventRejected
from ledger.store.messages import Message

__all__ = ["Outcome", "PreparedBatch", "Preparer", "RawRecord", "prepare_records"]

log = logging.getLogger(__name__)

# (topic, partition, offset, value): what the helper needs of a ConsumerRecord (cheap to pickle).
RawRecord = tuple[str, int, int, bytes | None]
# Per record: the normalised event, or the rejection and the decoded (unvalidated) event if any; and
# whether the raw bytes are kept for a dead letter (not when empty or over the size limit).
Outcome = tuple[dict[str, Any] | None, EventRejected | None, dict[str, Any] | None, bool]


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
        keep_raw = message.raw is not None
        if message.error is not None:
            out.append((None, message.error, None, keep_raw))
        elif message.event is None:
            empty = EventRejected(ErrorCode.MALFORMED_JSON, "", "the message holds no event")
            out.append((None, empty, None, keep_raw))
        else:
            try:
                out.append((validate_event(message.event, codes, recorded_at), None, None, keep_raw))
            except EventRejected as exc:
                out.append((None, exc, message.event, keep_raw))
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
        *,
        on_failure: Callable[[], None] | None = None,
        timeout_s: float = 120.0,
    ) -> None:
        self.records = records
        self.recorded_at = recorded_at
        self._future = future
        self._on_failure = on_failure
        self._timeout_s = timeout_s

    def messages(self) -> tuple[list[Message], list[dict[str, Any] | EventRejected]]:
        """Wait for the outcomes; the messages (raw bytes kept for dead letters) and what validation gave."""
        outcomes: list[Outcome] | None = None
        if self._future is not None:
            try:
                outcomes = self._future.result(timeout=self._timeout_s)
            except Exception as exc:  # helper died, failed or hangs: decode here, same clock, same result
                log.warning("decoding helper failed (%s); decoding in-process", type(exc).__name__)
                if self._on_failure is not None:
                    self._on_failure()
        if outcomes is None:
            outcomes = prepare_records(self.records, self.recorded_at)
        messages: list[Message] = []
        validated: list[dict[str, Any] | EventRejected] = []
        for (topic, partition, offset, value), (event, error, decoded, keep_raw) in zip(
            self.records, outcomes, strict=True
        ):
            raw = value if keep_raw else None
            if error is not None and decoded is not None:  # decoded, then refused by validation
                messages.append(Message(topic, partition, offset, event=decoded, raw=raw))
                validated.append(error)
            elif error is not None:  # not decodable
                messages.append(Message(topic, partition, offset, error=error, raw=raw))
                validated.append(error)
            else:
                assert event is not None
                messages.append(Message(topic, partition, offset, event=event, raw=raw))
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
        return PreparedBatch(records, recorded_at, future, on_failure=self._discard)

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

    def _discard(self, *, kill: bool = True) -> None:
        """Drop the helper (a new one starts with the next batch); a failed or hung one is killed."""
        pool, self._pool = self._pool, None
        if pool is not None:
            processes = list(getattr(pool, "_processes", None) or {})
            pool.shutdown(wait=False, cancel_futures=True)
            for pid in processes if kill else []:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)

    def close(self) -> None:
        """Stop the helper process."""
        self._discard(kill=False)
