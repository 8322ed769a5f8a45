"""The Kafka consumer group: poll a batch, append it with its offsets in one transaction, repeat.

Exactly-once in the store out of at-least-once delivery: each polled batch, its dedup rows and the
(topic, partition) positions it reached commit in one database transaction; on every assignment the
consumer seeks to the positions the database holds. Kafka's committed offsets are only advisory (lag).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from eventsourcing.persistence import PersistenceError
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata
from psycopg_pool import PoolTimeout

from consumers.dlq import publish_outbox
from consumers.metrics import ConsumerMetrics
from consumers.offsets import OffsetConflict, Span, advance_offsets, read_offsets
from consumers.prepare import PreparedBatch, Preparer, RawRecord
from ledger.bootstrap import Ledger
from ledger.domain.timeutil import format_instant
from ledger.errors import EventRejected, LedgerError
from ledger.store.dialect import SqlCursor
from ledger.store.ingest import Ingestor
from ledger.store.messages import BatchResult, Message

__all__ = ["RETRYABLE", "ConsumerConfig", "LedgerConsumer"]

log = logging.getLogger(__name__)

# Errors of an unreachable or restarting database: the transaction rolled back, so retrying the same
# batch is safe. Anything else is a bug and stops the consumer (a supervisor restarts it; nothing lost).
RETRYABLE: tuple[type[BaseException], ...] = (
    PersistenceError,
    psycopg.Error,
    PoolTimeout,
    sqlite3.OperationalError,
    OSError,
)


@dataclass(frozen=True)
class ConsumerConfig:
    """Where and how to consume."""

    bootstrap: str
    topic: str = "privacy.events.v1"
    group: str = "privacy-ledger"
    dlq_topic: str = "privacy.events.dlq"
    batch_size: int = 500
    poll_timeout_ms: int = 500
    max_backoff_s: float = 10.0
    session_timeout_ms: int = 45000
    lag_every_s: float = 5.0
    # How long the Kafka clients wait for a first broker; `consume` retries (and /readyz says so) after
    # that, and a stop signal is answered at the latest then.
    bootstrap_timeout_ms: int = 5000
    # Helper processes that decode and validate the next batch while one is written (0: in-process).
    decode_workers: int = field(default_factory=lambda: 1 if (os.cpu_count() or 1) > 1 else 0)


@dataclass(frozen=True)
class _Polled:
    """A polled batch: its records on their way through decoding, and the span of each partition."""

    prepared: PreparedBatch
    spans: dict[tuple[str, int], Span]
    generation: int


def _names(tps: Any) -> str:
    return ",".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(tps, key=lambda t: (t.topic, t.partition)))


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    """Marks newly assigned partitions for a seek to the database's position (done on the main thread).

    kafka-python 3.0 runs listeners on its IO thread while the main thread waits in ``poll``; keeping the
    database read and the seek on the main thread keeps the listener short and its failures visible.
    """

    def __init__(self, owner: LedgerConsumer) -> None:
        self.owner = owner

    def on_partitions_revoked(self, revoked: Any) -> None:
        log.info("revoked partitions: %s", _names(revoked))
        with self.owner._lock:
            for tp in revoked:
                self.owner._expected.pop(tp, None)
                self.owner._unsynced.discard(tp)

    def on_partitions_assigned(self, assigned: Any) -> None:
        log.info("assigned partitions: %s", _names(assigned))
        with self.owner._lock:
            self.owner._generation += 1
            for tp in assigned:
                self.owner._expected.pop(tp, None)
                self.owner._unsynced.add(tp)

    def on_partitions_lost(self, lost: Any) -> None:
        self.on_partitions_revoked(lost)


class LedgerConsumer:
    """Consumes ``privacy.events.v1`` into the ledger; one instance per process."""

    def __init__(
        self,
        ledger: Ledger,
        config: ConsumerConfig,
        *,
        metrics: ConsumerMetrics | None = None,
        consumer_factory: Callable[..., Any] = KafkaConsumer,
        producer_factory: Callable[..., Any] = KafkaProducer,
    ) -> None:
        self.ledger = ledger
        self.config = config
        self.metrics = metrics or ConsumerMetrics()
        self.ingestor = Ingestor(
            ledger.store,
            ledger.keys,
            ledger.codes,
            ledger.clock,
            park_grace_seconds=ledger.settings.park_grace_seconds,
            announce_dead_letters=True,
        )
        self._lock = threading.Lock()
        self._expected: dict[Any, int | None] = {}
        self._unsynced: set[Any] = set()
        self._generation = 0  # bumped by every assignment (rebalance listener)
        self._ahead: _Polled | None = None  # the next batch, polled while the current one is written
        self.preparer = Preparer(config.decode_workers)
        self._last_lag = 0.0
        self._last_maintenance = 0.0
        self.maintenance_every_s = 10.0
        # A signed checkpoint at least this often while the log grows (one clock read per batch).
        self.checkpoint_every_s = float(ledger.settings.checkpoint_interval_seconds)
        self._next_checkpoint = time.monotonic() + self.checkpoint_every_s
        self._grown = False
        self._consumer = consumer_factory(
            bootstrap_servers=config.bootstrap,
            group_id=config.group,
            client_id=f"{config.group}-consumer",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=config.batch_size,
            session_timeout_ms=config.session_timeout_ms,
            heartbeat_interval_ms=max(config.session_timeout_ms // 6, 500),
            bootstrap_timeout_ms=config.bootstrap_timeout_ms,
        )
        self._consumer.subscribe([config.topic], listener=_Rebalance(self))
        self._producer = producer_factory(
            bootstrap_servers=config.bootstrap,
            client_id=f"{config.group}-dlq",
            acks="all",
            enable_idempotence=True,
            bootstrap_timeout_ms=config.bootstrap_timeout_ms,
        )

    # -- the loop ----------------------------------------------------------------------------

    def run(self, stop: threading.Event, *, idle_exit_s: float | None = None) -> None:
        """Consume until ``stop`` is set (or, for tools and tests, after ``idle_exit_s`` without records)."""
        idle_since = time.monotonic()
        backoff = 0.5
        while not stop.is_set():
            try:
                result = self.step(stop)
                backoff = 0.5
            except (KafkaError, *RETRYABLE) as exc:
                cause = "kafka" if isinstance(exc, KafkaError) else "database"
                self.metrics.retries.labels(cause=cause).inc()
                log.warning("%s error %s; retrying in %.1fs", cause, type(exc).__name__, backoff)
                # Whatever was polled but not appended must be read again: back to the database's
                # positions for every partition.
                self._resync_all()
                stop.wait(backoff)
                backoff = min(backoff * 2, self.config.max_backoff_s)
                continue
            if result is not None and result.consumed:
                idle_since = time.monotonic()
            elif idle_exit_s is not None and time.monotonic() - idle_since > idle_exit_s:
                self._maybe_report_lag(force=True)
                return

    def step(self, stop: threading.Event | None = None) -> BatchResult | None:
        """Append one polled batch with its offsets in one transaction (retried until done).

        With a decoding helper, the next batch is polled before this one is written, so the helper
        decodes and validates it meanwhile. That batch's positions assume this one commits; if it does
        not, the look-ahead is dropped and its partitions go back to the database's positions.
        """
        batch = self._ahead
        self._ahead = None
        if batch is not None and batch.generation != self._generation:
            self._drop(batch)  # a rebalance since it was polled: read those partitions again
            batch = None
        if batch is None:
            batch = self._poll_batch({}, self.config.poll_timeout_ms)
        self._maybe_report_lag()
        if batch is None:
            self._idle_maintenance()
            return None
        if self.preparer.workers > 0:
            reached = {key: nxt for key, (_, nxt) in batch.spans.items()}
            self._ahead = self._poll_batch(reached, 0)
        messages, validated = batch.prepared.messages()
        result = self._append_with_retry(messages, validated, batch, stop)
        if result is None:
            if self._ahead is not None:
                self._drop(self._ahead)
                self._ahead = None
            return None
        with self._lock:
            for (topic, partition), (_, nxt) in batch.spans.items():
                tp = TopicPartition(topic, partition)
                if tp in self._expected:
                    self._expected[tp] = nxt
        self._commit_advisory(batch.spans)
        self._publish_dead_letters()
        if result.stored or result.system_events:
            self._grown = True
        self._maybe_checkpoint()
        return result

    def _poll_batch(self, reached: dict[tuple[str, int], int], timeout_ms: int) -> _Polled | None:
        """Poll, keep each partition's records from its expected position on, and start decoding them.

        ``reached`` overrides the expected position of partitions a batch not yet written will move.
        """
        records = self._consumer.poll(timeout_ms=timeout_ms)
        # Records of a partition seeked just now were fetched from Kafka's position, not the database's.
        seeked = self._sync_positions()
        with self._lock:
            expected = dict(self._expected)
            generation = self._generation
        raw: list[RawRecord] = []
        spans: dict[tuple[str, int], Span] = {}
        for tp, recs in sorted(records.items(), key=lambda kv: kv[0].partition):
            if tp in seeked or tp not in expected:
                continue
            key = (tp.topic, tp.partition)
            start = reached.get(key, expected[tp])
            fresh = [r for r in recs if start is None or r.offset >= start]
            if not fresh:
                continue
            raw.extend((r.topic, r.partition, r.offset, r.value) for r in fresh)
            spans[key] = (start, fresh[-1].offset + 1)
        if not raw:
            return None
        log.debug(
            "polled %d records: %s",
            len(raw),
            ", ".join(f"{t}[{p}] to offset {nxt - 1}" for (t, p), (_, nxt) in sorted(spans.items())),
        )
        recorded_at = self.ledger.clock()
        return _Polled(self.preparer.submit(raw, recorded_at), spans, generation)

    def _drop(self, batch: _Polled) -> None:
        """Forget a polled, unwritten batch: its partitions are read again from the database's positions."""
        with self._lock:
            self._unsynced.update(TopicPartition(t, p) for t, p in batch.spans)

    def _append_with_retry(
        self,
        messages: list[Message],
        validated: list[dict[str, Any] | EventRejected],
        batch: _Polled,
        stop: threading.Event | None,
    ) -> BatchResult | None:
        spans = batch.spans
        backoff = 0.5
        while True:
            started = time.perf_counter()
            try:
                result = self.ingestor.ingest_batch(
                    messages,
                    in_transaction=lambda cur: self._advance(cur, spans),
                    # Validated as of the poll; written now (never earlier than that).
                    recorded_at=max(self.ledger.clock(), batch.prepared.recorded_at),
                    validated=validated,
                )
            except OffsetConflict:
                # Someone else owns (or owned) these partitions now: drop the batch, re-read positions.
                log.warning("partition positions moved by another consumer; re-seeking")
                self.metrics.retries.labels(cause="offset_conflict").inc()
                with self._lock:
                    self._unsynced.update(TopicPartition(t, p) for t, p in spans)
                self._sync_positions()
                return None
            except RETRYABLE as exc:  # database down or restarting: the batch rolled back as a whole
                if stop is not None and stop.is_set():
                    log.warning(
                        "stopping with an unapplied batch (%s); it will be read again", type(exc).__name__
                    )
                    return None
                self.metrics.retries.labels(cause="database").inc()
                log.warning(
                    "batch of %d not appended (%s); retrying in %.1fs",
                    len(messages),
                    type(exc).__name__,
                    backoff,
                )
                time.sleep(backoff)
                backoff = min(backoff * 2, self.config.max_backoff_s)
                continue
            elapsed = time.perf_counter() - started
            self.metrics.observe_batch(result, elapsed)
            log.debug(
                "batch of %d appended with positions of %d partition(s) in %.1f ms",
                len(messages),
                len(spans),
                elapsed * 1000,
            )
            return result

    def _advance(self, cur: SqlCursor, spans: dict[tuple[str, int], Span]) -> None:
        advance_offsets(cur, spans, format_instant(self.ledger.clock()))

    # -- positions ---------------------------------------------------------------------------

    def _sync_positions(self) -> set[Any]:
        """Seek newly assigned partitions to the database's positions (from the start if it has none)."""
        with self._lock:
            todo = sorted(self._unsynced, key=lambda tp: tp.partition)
            generation = self._generation
        if not todo:
            return set()
        known = read_offsets(self.ledger.store, self.config.topic, [tp.partition for tp in todo])
        # Never call into the Kafka client while holding our lock: the rebalance listener takes that
        # lock on the client's IO thread, and the client's own locks could then deadlock with it.
        assignment = self._consumer.assignment()
        seeked: dict[Any, int | None] = {}
        for tp in todo:
            if tp not in assignment:
                continue
            position = known.get(tp.partition)
            if position is None:
                self._consumer.seek_to_beginning(tp)
            else:
                self._consumer.seek(tp, position)
            seeked[tp] = position
        with self._lock:
            if generation == self._generation:  # no rebalance meanwhile; otherwise sync again next time
                for tp in todo:
                    if tp in seeked:
                        self._expected[tp] = seeked[tp]
                    self._unsynced.discard(tp)
        return set(todo)

    def _resync_all(self) -> None:
        if self._ahead is not None:
            self._drop(self._ahead)
            self._ahead = None
        try:
            assigned = set(self._consumer.assignment())
        except KafkaError:
            return
        with self._lock:
            self._unsynced.update(assigned)

    def _commit_advisory(self, spans: dict[tuple[str, int], Span]) -> None:
        offsets = {TopicPartition(t, p): OffsetAndMetadata(nxt, "", -1) for (t, p), (_, nxt) in spans.items()}
        try:
            self._consumer.commit_async(offsets)
        except KafkaError as exc:  # advisory only: the database holds the real position
            log.info("advisory offset commit skipped (%s)", type(exc).__name__)

    # -- side work ---------------------------------------------------------------------------

    def _publish_dead_letters(self) -> None:
        try:
            publish_outbox(self.ledger.store, self._producer, self.config.dlq_topic)
        except Exception as exc:  # the outbox keeps them; next batch tries again
            log.warning("dead-letter notices postponed (%s)", type(exc).__name__)

    def _idle_maintenance(self) -> None:
        """With nothing to read (an empty poll), maintenance through this consumer's own ingestor.

        Every empty poll expires the parked events past their grace (one small read when none is due;
        a batch expires them too), so they expire even when no message arrives. Every
        ``maintenance_every_s`` it also drops raw dead-letter payloads past their retention and retries
        pending dead-letter notices. Dead letters made here are announced on the DLQ topic like any.
        """
        now = time.monotonic()
        periodic = now - self._last_maintenance >= self.maintenance_every_s
        try:
            if periodic:
                self._last_maintenance = now
                result = self.ingestor.ingest_batch([])
            else:
                result = self.ingestor.expire_due()
        except RETRYABLE as exc:
            log.warning("idle maintenance postponed (%s)", type(exc).__name__)
            return
        if result.dead_lettered:
            log.debug("idle poll: %d parked event(s) expired", result.dead_lettered)
        if periodic or result.dead_lettered:
            self._publish_dead_letters()
        self._maybe_checkpoint()

    def _maybe_checkpoint(self) -> None:
        """Sign a checkpoint if the log grew and ``checkpoint_every_s`` passed since the last attempt.

        A refusal (the database does not extend the last checkpoint) is logged as an error and tried
        again after the interval; consuming goes on (stopping would not make the history any better).
        """
        if not self._grown:
            return
        now = time.monotonic()
        if now < self._next_checkpoint:
            return
        self._next_checkpoint = now + self.checkpoint_every_s
        try:
            issued = self.ledger.checkpoint_if_grown()
        except RETRYABLE as exc:
            log.warning("checkpoint postponed (%s)", type(exc).__name__)
            return
        except LedgerError as exc:
            log.error("no checkpoint signed: %s", exc)
            return
        self._grown = False
        if issued is not None:
            log.debug("signed checkpoint of tree size %d", issued.size)

    def _maybe_report_lag(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_lag < self.config.lag_every_s:
            return
        self._last_lag = now
        with self._lock:
            positions = {tp: pos for tp, pos in self._expected.items()}
        if not positions:
            return
        try:
            ends = self._consumer.end_offsets(list(positions))
        except KafkaError:
            return
        for tp, pos in positions.items():
            self.metrics.set_lag(tp.topic, tp.partition, int(ends.get(tp, 0)) - int(pos or 0))

    def close(self) -> None:
        """Leave the group and close the clients (nothing to commit: the database has it all)."""
        try:
            self._consumer.close(autocommit=False)
        finally:
            self.preparer.close()
            self._producer.close()
