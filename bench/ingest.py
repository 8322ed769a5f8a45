"""Kafka -> ledger ingest throughput of one consumer process, against its peer and the raw insert ceiling.

Publishes N fictional sample events (default >= 100,000) to a fresh 6-partition topic on the local
broker (deploy/local/kafka.sh start), then times one in-process consumer from its first non-empty poll
to the moment the last event is durable in PostgreSQL (its batch committed). In the same run it
measures the peer baseline, ``eventsourcing``'s own batched save (bench/peer.py: 100 new aggregates per
``Application.save``, one event each, stored ``state`` as large as the ledger's average stored event,
no validation, encryption or chain; goal: the consumer at >= 1.0x of it), and the ceiling: a raw psycopg
``executemany`` of the same number of rows, each as large as a stored event, one transaction per batch.
Prints events/s and the ratios to both (medians).

It also runs the consumer with decoding in its own process (the same-run baseline of the decoding
helper) and prints, for every run, the CPU each event cost in the consumer, PostgreSQL and the broker
(bench/cpu.py): on a shared 2-core machine that shows how far any rate can go with the same work. The
consumer's own CPU (with its decoding helper) is compared with the goal of at most 100 core-us/event.

    cd bench && ../.venv/bin/python ingest.py [--events 100000] [--batch 500] [--repeat 3] [--no-baseline]
"""

from __future__ import annotations

import argparse
import base64
import gc
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
from cpu import CpuSnapshot, cpu_snapshot, machine_bound
from kafka.admin import KafkaAdminClient
from peer import PEER_BATCH, peer_env_pg, peer_save

from consumers.consumer import ConsumerConfig, LedgerConsumer
from consumers.producer import LedgerProducer
from ledger.bootstrap import Ledger
from ledger.config import Settings
from ledger.sample import generate_events

DEFAULT_PG = "postgresql://ledger:ledger-local-only@127.0.0.1:5432/ledger_test"
CONSUMER_CPU_GOAL_US = 100  # core-us per event, the consumer's own (with its decoding helper)


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


def _consume(
    base: str, bootstrap: str, topic: str, n: int, batch: int, workers: int
) -> tuple[float, CpuSnapshot, int]:
    """Consume the whole topic into a fresh schema; (first poll -> last commit seconds, CPU used, average
    bytes of a stored event's ``state``)."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        with tempfile.TemporaryDirectory() as tmp:
            key = Path(tmp) / "master.key"
            key.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
            key.chmod(0o600)  # the ledger refuses a key file open to others
            ledger = Ledger.open(
                Settings(
                    database_url=f"{base}?schema={schema}",
                    master_key_file=key,
                    batch_size=batch,
                    var_dir=Path(tmp) / "var",  # its checkpoint signing key and copy, not the repository's
                )
            )
            consumer = _Timed(
                ledger,
                ConsumerConfig(
                    bootstrap=bootstrap,
                    topic=topic,
                    group=f"bench-{uuid.uuid4().hex[:6]}",
                    dlq_topic=f"{topic}.dlq",
                    batch_size=batch,
                    decode_workers=workers,
                ),
            )
            before = cpu_snapshot()
            consumer.run(threading.Event(), idle_exit_s=5)
            consumer.close()
            used = cpu_snapshot() - before
            counters = ledger.counts()["counters"]
            with ledger.store.read() as cur:
                size = cur.execute(
                    f"SELECT AVG(octet_length(state)) AS s FROM {ledger.store.events_table}"
                ).scalar()
            ledger.close()
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    if counters.get("stored") != n:
        raise SystemExit(f"consumer stored {counters.get('stored')} of {n}: not a fair run")
    assert consumer.first is not None and consumer.last is not None
    return consumer.last - consumer.first, used, int(float(size or 0))


def _peer(base: str, n: int, state_bytes: int) -> tuple[float, CpuSnapshot]:
    """The peer baseline into a fresh schema: (seconds, CPU used)."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        before = cpu_snapshot()
        seconds, _ = peer_save(peer_env_pg(base, schema), n, state_bytes)
        return seconds, cpu_snapshot() - before
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def main() -> None:
    """Run the benchmark and print its figures."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--workers", type=int, default=ConsumerConfig("").decode_workers, help="decoding helpers")
    p.add_argument("--no-baseline", action="store_true", help="skip the run that decodes in-process")
    p.add_argument("--repeat", type=int, default=3, help="consumer runs per variant (the median is shown)")
    p.add_argument("--bootstrap", default=os.environ.get("LEDGER_KAFKA_BOOTSTRAP", "127.0.0.1:19092"))
    args = p.parse_args()
    base = os.environ.get("LEDGER_BENCH_DATABASE_URL", DEFAULT_PG)

    events = generate_events(seed=5, subjects=args.events // 14 + 200)[: args.events]
    n = len(events)
    avg = int(statistics.mean(len(json.dumps(e)) for e in events[:5000]) * 1.3)
    topic = f"bench.events.{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=args.bootstrap)
    admin.create_topics(
        {
            topic: {"num_partitions": 6, "replication_factor": 1},
            f"{topic}.dlq": {"num_partitions": 1, "replication_factor": 1},
        },
        wait_for_metadata=True,
    )
    runs: list[tuple[str, float, CpuSnapshot]] = []
    try:
        started = time.perf_counter()
        with LedgerProducer(args.bootstrap, topic) as producer:
            report = producer.send_many(events)
            producer.flush()
        publish_s = time.perf_counter() - started
        assert not report.rejected, report.rejected[:3]
        print(f"published {n} events in {publish_s:.1f}s ({n / publish_s:,.0f} ev/s with validation + Avro)")
        # A consumer process does not hold the published events: neither should this one while it
        # consumes (100k dicts in memory make every full garbage collection of the consumer slower).
        del events, report
        gc.collect()
        variants = [(f"consumer, {args.workers} decoding helper(s)", args.workers)]
        if not args.no_baseline and args.workers:
            variants.append(("consumer, decoding in-process", 0))
        timings: dict[str, list[tuple[float, CpuSnapshot]]] = {name: [] for name, _ in variants}
        peer_runs: list[tuple[float, CpuSnapshot]] = []
        stored_size = avg
        for _ in range(args.repeat):  # interleaved, so drift on the shared machine hits all alike
            for name, workers in variants:
                seconds, used, stored_size = _consume(base, args.bootstrap, topic, n, args.batch, workers)
                timings[name].append((seconds, used))
            peer_runs.append(_peer(base, n, stored_size))
        for name, _ in variants:
            ordered = sorted(timings[name], key=lambda r: r[0])
            seconds, used = ordered[len(ordered) // 2]
            runs.append((f"{name} (median of {len(ordered)})", seconds, used))
            print(f"{name}: runs (s) {', '.join(f'{r[0]:.1f}' for r in timings[name])}")
        print(f"peer: runs (s) {', '.join(f'{r[0]:.1f}' for r in peer_runs)}")
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        try:
            raw_runs: list[tuple[float, CpuSnapshot]] = []
            for _ in range(3):
                rows = _rows(n, avg)
                before = cpu_snapshot()
                elapsed = _raw_pg(base, schema, rows, args.batch)
                raw_runs.append((elapsed, cpu_snapshot() - before))
        finally:
            with psycopg.connect(base, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        admin.delete_topics([topic, f"{topic}.dlq"])
        admin.close()
    raw_runs.sort(key=lambda r: r[0])
    ceiling_s, ceiling_cpu = raw_runs[1]  # the median of three
    ceiling = n / ceiling_s
    peer_runs.sort(key=lambda r: r[0])
    peer_s, peer_cpu = peer_runs[len(peer_runs) // 2]
    peer_rate = n / peer_s
    runs.append((f"peer: eventsourcing save (median of {len(peer_runs)})", peer_s, peer_cpu))
    runs.append(("raw executemany ceiling (median of 3)", ceiling_s, ceiling_cpu))
    print(f"{n} events, batch {args.batch}, {os.cpu_count()} cores; consumer runs: first poll -> last commit")
    print(
        f"{'run':<44} {'ev/s':>9} {'/peer':>6} {'/raw':>6}  {'core-us/event: consumer':>23} {'postgres':>9} "
        f"{'broker':>7} {'total':>7}  {'cores/total ev/s':>16}"
    )
    for name, seconds, used in runs:
        per = [x / n * 1e6 for x in (used.consumer, used.postgres, used.broker, used.total)]
        rate = n / seconds
        print(
            f"{name:<44} {rate:>9,.0f} {rate / peer_rate:>6.3f} {rate / ceiling:>6.3f}  {per[0]:>23,.1f} "
            f"{per[1]:>9,.1f} {per[2]:>7,.1f} {per[3]:>7,.1f}  {machine_bound(used.total / n):>16,.0f}"
        )
    print(f"raw executemany runs (s): {', '.join(f'{r[0]:.2f}' for r in raw_runs)}; row state {avg} B")
    print(
        f"peer: eventsourcing Application.save of {PEER_BATCH} new aggregates (one event each) per save, "
        f"stored state {stored_size} B per event as the ledger's (its 'consumer' CPU is the bench process)"
    )
    name, seconds, used = runs[0]
    ratio, own = n / seconds / peer_rate, used.consumer / n * 1e6
    print(
        f"goals ({name}): >= 1.0x the peer: {ratio:.2f}x, {'MET' if ratio >= 1.0 else 'MISSED'}; consumer "
        f"CPU <= {CONSUMER_CPU_GOAL_US} core-us/event: {own:,.0f}, "
        f"{'MET' if own <= CONSUMER_CPU_GOAL_US else 'MISSED'}"
    )
    print(
        "core-us/event counts every process's CPU over the run (consumer with its helper, all PostgreSQL "
        "processes, the broker); cores/total is the rate this machine could reach with that work spread "
        "perfectly over all its cores."
    )


if __name__ == "__main__":
    main()
