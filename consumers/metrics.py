"""Prometheus metrics of the consumer process: what it appended, batch latency and lag per partition.

The ledger-wide conservation counters come from the database at scrape time
(``ledger.collector.LedgerCollector``), not from here. Metric names and labels carry topics, partitions and
counts only, never event content.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from ledger.store.messages import BatchResult

__all__ = ["RETRY_CAUSES", "ConsumerMetrics"]


# Why a batch was retried: the broker, the database, or a partition's offset moved under the batch.
RETRY_CAUSES = ("kafka", "database", "offset_conflict")


class ConsumerMetrics:
    """The consumer's metrics in their own registry (the process's default one unless given)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self.consumed = Counter("ledger_consumer_consumed", "Messages taken from Kafka", registry=r)
        self.stored = Counter("ledger_consumer_stored", "Producer events appended", registry=r)
        self.duplicates = Counter("ledger_consumer_duplicates", "Duplicates acknowledged", registry=r)
        self.dead_lettered = Counter("ledger_consumer_dead_lettered", "Messages dead-lettered", registry=r)
        self.parked_change = Gauge(
            "ledger_consumer_parked_change", "Net messages parked by this process", registry=r
        )
        self.batch_seconds = Histogram(
            "ledger_consumer_batch_duration_seconds",
            "Time to append one polled batch (one database transaction)",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.lag = Gauge(
            "ledger_consumer_lag_messages",
            "End offset minus the database position, per partition",
            ["topic", "partition"],
            registry=r,
        )
        self.retries = Counter(
            "ledger_consumer_retries",
            "Batches retried after a database or broker error",
            ["cause"],
            registry=r,
        )
        # Every cause exported from the start (at 0): a series that appears only on the first retry
        # would leave the dashboard's rate() blank, and an absent series looks like a missing target.
        for cause in RETRY_CAUSES:
            self.retries.labels(cause=cause)

    def observe_batch(self, result: BatchResult, seconds: float) -> None:
        """Count one committed batch."""
        self.consumed.inc(result.consumed)
        self.stored.inc(result.stored)
        self.duplicates.inc(result.duplicates)
        self.dead_lettered.inc(result.dead_lettered)
        self.parked_change.inc(result.parked)
        self.batch_seconds.observe(seconds)

    def set_lag(self, topic: str, partition: int, lag: int) -> None:
        """Export one partition's lag."""
        self.lag.labels(topic=topic, partition=str(partition)).set(max(lag, 0))
