"""Kafka -> ledger ingest throughput of one consumer process, against the raw insert ceiling.

Publishes N fictional sample events (default >= 100,000) to a fresh 6-partition topic on the local
broker (deploy/local/kafka.sh start), then times one in-process consumer from its first non-empty poll
to the moment the last event is durable in PostgreSQL (its batch committed). In the same run it
measures the ceiling: a raw psycopg ``executemany`` of the same number of rows, each as large as a
stored event, one transaction per batch. Prints events/s, the ceiling and the ratio.

    .venv/bin/python bench/ingest.py [--events 100000] [--batch 500]
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from append import _raw_pg, _rows  # same ceiling as bench/append.py
from kafka.admin import KafkaAdminClient

from consumers.consumer import ConsumerConfig, LedgerConsumer
from consumers.producer import LedgerProducer
from ledger.bootstrap import Ledger
from ledger.config import Settings
from ledger.sample import generate_events

DEFAULT_PG = "postgresql://ledger:ledger-local-only@127.0.0.1:5432/ledger_test"


class _Timed(LedgerConsumer):
    """Records when the first records arrived and when the last batch committed."""

    first: float | None = None
    last: float | None = None

    def step(self, stop: threading.Event | None = None) -> Any:
        started = time.perf_counter()
        result = super().step(stop)
        if result is not None and result.consumed:
            if self.first is None:
                self.first = started
            self.last = time.perf_counter()
        return result


def main() -> None:
    """Run the benchmark and print its figures."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--bootstrap", default=os.environ.get("LEDGER_KAFKA_BOOTSTRAP", "127.0.0.1:19092"))
    args = p.parse_args()
    base = os.environ.get("LEDGER_BENCH_DATABASE_URL", DEFAULT_PG)

    events = generate_events(seed=5, subjects=args.events // 14 + 200)[: args.events]
    n = len(events)
    topic = f"bench.events.{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=args.bootstrap)
    admin.create_topics(
        {
            topic: {"num_partitions": 6, "replication_factor": 1},
            f"{topic}.dlq": {"num_partitions": 1, "replication_factor": 1},
        },
        wait_for_metadata=True,
    )
    started = time.perf_counter()
    with LedgerProducer(args.bootstrap, topic) as producer:
        report = producer.send_many(events)
        producer.flush()
    publish_s = time.perf_counter() - started
    assert not report.rejected, report.rejected[:3]
    print(f"published {n} events in {publish_s:.1f}s ({n / publish_s:,.0f} ev/s with validation + Avro)")

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        with tempfile.TemporaryDirectory() as tmp:
            key = Path(tmp) / "master.key"
            key.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
            ledger = Ledger.open(
                Settings(database_url=f"{base}?schema={schema}", master_key_file=key, batch_size=args.batch)
            )
            consumer = _Timed(
                ledger,
                ConsumerConfig(
                    bootstrap=args.bootstrap,
                    topic=topic,
                    group=f"bench-{uuid.uuid4().hex[:6]}",
                    dlq_topic=f"{topic}.dlq",
                    batch_size=args.batch,
                ),
            )
            consumer.run(threading.Event(), idle_exit_s=5)
            consumer.close()
            counters = ledger.counts()["counters"]
            ledger.close()
        assert counters.get("stored") == n, counters
        assert consumer.first is not None and consumer.last is not None
        consume_s = consumer.last - consumer.first
        avg = int(statistics.mean(len(json.dumps(e)) for e in events[:5000]) * 1.3)
        raw_runs = [_raw_pg(base, schema, _rows(n, avg), args.batch) for _ in range(3)]
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.delete_topics([topic, f"{topic}.dlq"])
        admin.close()
    rate = n / consume_s
    ceiling = n / statistics.median(raw_runs)
    print(f"consumer: {n} events durable in {consume_s:.1f}s (first poll -> last commit)")
    print(f"{'consumer ev/s':>14} {'ceiling ev/s':>14} {'ratio':>7}")
    print(f"{rate:>14,.0f} {ceiling:>14,.0f} {rate / ceiling:>7.3f}")
    print(f"raw executemany runs (s): {', '.join(f'{r:.2f}' for r in raw_runs)}; row state {avg} B")


if __name__ == "__main__":
    main()
