"""One consumer process against two (same group, partition sets) writing to one PostgreSQL ledger.

Publishes N fictional sample events (``ledger.sample``) to a fresh 6-partition topic on the local broker
(deploy/local/kafka.sh start), then, in the same run and alternating the order, consumes the whole topic
into a fresh schema with:

- ``1 consumer``: one process (``LedgerConsumer``, as ``privacy-ledger consume`` runs it);
- ``2 consumers``: two processes in the same consumer group (the broker splits the six partitions
  between them, three each), writing to the same ledger.

Each process joins the group with its partitions paused; the clock starts once every process holds its
partition set (so no run starts with one process taking all six before the other joins).

Every process is a child of the bench with its own decoding helper(s) (``--workers``, the consumer's
default otherwise). The time of a run is from the first non-empty poll of any process to the last batch
committed by any process; the CPU is that of every process of the run (consumers and helpers, all
PostgreSQL processes, the broker; ``bench/cpu.py``), per event. It prints ev/s, core-us per event and the
ratio two / one (medians of ``--repeat`` runs).

    .venv/bin/python bench/two_consumers.py [--events 100000] [--repeat 3] [--batch 500] [--workers N]

PostgreSQL comes from LEDGER_BENCH_DATABASE_URL (default: the local ledger_test database); every schema
and the topic are dropped afterwards. Not run in CI.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import multiprocessing
import os
import secrets
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import psycopg
from cpu import CpuSnapshot, cpu_snapshot, machine_bound
from kafka.admin import KafkaAdminClient

from consumers.consumer import ConsumerConfig, LedgerConsumer
from consumers.producer import LedgerProducer
from ledger.bootstrap import Ledger
from ledger.config import Settings
from ledger.sample import generate_events

DEFAULT_PG = "postgresql://ledger:ledger-local-only@127.0.0.1:5432/ledger_test"
PARTITIONS = 6
IDLE_EXIT_S = 5.0


class _Timed(LedgerConsumer):
    """Records (on the system-wide monotonic clock) the first records polled and the last commit."""

    first: float | None = None
    last: float | None = None
    stored = 0

    def step(self, stop: threading.Event | None = None) -> Any:
        started = time.monotonic()
        result = super().step(stop)
        if result is not None and result.consumed:
            if self.first is None:
                self.first = started
            self.last = time.monotonic()
            self.stored += result.stored
        return result


@dataclass(frozen=True)
class Job:
    """What one consumer process needs."""

    url: str
    folder: str
    bootstrap: str
    topic: str
    group: str
    batch: int
    workers: int


def _settings(job: Job) -> Settings:
    folder = Path(job.folder)
    return Settings(
        database_url=job.url,
        master_key_file=folder / "master.key",
        var_dir=folder / "var",
        batch_size=job.batch,
    )


def _time_the_lock(ledger: Ledger) -> list[float]:
    """Instrument the ledger's locked write transactions: [seconds waiting for the lock, seconds in them]."""
    spent = [0.0, 0.0]
    store = ledger.store
    take_lock = store.recorder._lock_table
    write = store.write

    def timed_lock(raw: Any) -> None:
        started = time.perf_counter()
        take_lock(raw)
        spent[0] += time.perf_counter() - started

    @contextlib.contextmanager
    def timed_write(*, lock: bool = True) -> Iterator[Any]:
        started = time.perf_counter()
        try:
            with write(lock=lock) as cur:
                yield cur
        finally:
            if lock:
                spent[1] += time.perf_counter() - started

    setattr(store.recorder, "_lock_table", timed_lock)  # noqa: B010 (mypy: no assigning to a method)
    setattr(store, "write", timed_write)  # noqa: B010
    return spent


def _join_group(consumer: LedgerConsumer, index: int, assigned: Any, go: Event) -> None:
    """Join the group with every partition paused until the parent says go (all processes assigned).

    Records a raw poll fetches meanwhile are not kept: the consumer seeks newly assigned partitions to
    the database's positions (here: the beginning) at its first step.
    """
    kafka = consumer._consumer
    while not go.is_set():
        kafka.poll(timeout_ms=100)
        kafka.pause(*kafka.assignment())
        assigned[index] = len(kafka.assignment())
    kafka.resume(*kafka.assignment())


def _consume(job: Job, index: int, assigned: Any, go: Event, out: Any) -> None:
    """In a child process: consume until idle; put (first, last, stored, lock wait, locked) on ``out``."""
    ledger = Ledger.open(_settings(job))
    spent = _time_the_lock(ledger)
    config = ConsumerConfig(
        bootstrap=job.bootstrap,
        topic=job.topic,
        group=job.group,
        dlq_topic=f"{job.topic}.dlq",
        batch_size=job.batch,
        decode_workers=job.workers,
    )
    consumer = _Timed(ledger, config)
    try:
        _join_group(consumer, index, assigned, go)
        consumer.run(threading.Event(), idle_exit_s=IDLE_EXIT_S)
    finally:
        consumer.close()
        ledger.close()
    out.put((consumer.first, consumer.last, consumer.stored, spent[0], spent[1]))


@dataclass(frozen=True)
class Run:
    """One run of one variant."""

    processes: int
    seconds: float
    cpu: CpuSnapshot
    shares: tuple[int, ...]
    lock_wait: float  # seconds all processes waited for the writer lock
    locked: float  # seconds all processes spent in locked write transactions (waits included)

    @property
    def held(self) -> float:
        """Share of the run's time the writer lock was held by one of the processes."""
        return (self.locked - self.lock_wait) / self.seconds


def _wait_for_partition_sets(assigned: Any, children: list[Any]) -> None:
    """Until every process holds a share of the partitions, unchanged for a second."""
    deadline, last, since = time.monotonic() + 120, None, time.monotonic()
    while time.monotonic() < deadline:
        now = list(assigned)
        if now != last:
            last, since = now, time.monotonic()
        elif sum(now) == PARTITIONS and min(now) > 0 and time.monotonic() - since >= 1.0:
            return
        if any(not child.is_alive() for child in children):
            raise SystemExit("a consumer process ended before it was assigned partitions")
        time.sleep(0.1)
    raise SystemExit(f"the group did not settle: partitions per process {last}")


def _run(base: str, tmp: Path, processes: int, args: argparse.Namespace, topic: str, n: int) -> Run:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    folder = tmp / schema
    folder.mkdir()
    key = folder / "master.key"
    key.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
    key.chmod(0o600)  # the ledger refuses a key file open to others
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    job = Job(
        f"{base}?schema={schema}",
        str(folder),
        args.bootstrap,
        topic,
        f"bench-{uuid.uuid4().hex[:6]}",
        args.batch,
        args.workers,
    )
    try:
        Ledger.open(_settings(job)).close()  # tables and signing key made once, before the processes race
        ctx = multiprocessing.get_context("fork")
        assigned, go, out = ctx.Array("i", processes), ctx.Event(), ctx.Queue()
        children = [ctx.Process(target=_consume, args=(job, i, assigned, go, out)) for i in range(processes)]
        for child in children:
            child.start()
        _wait_for_partition_sets(assigned, children)
        before = cpu_snapshot()
        go.set()
        results = [out.get(timeout=3600) for _ in children]
        for child in children:
            child.join()
        used = cpu_snapshot() - before
        if any(child.exitcode != 0 for child in children):
            raise SystemExit(f"a consumer process failed: exit codes {[c.exitcode for c in children]}")
        ledger = Ledger.open(_settings(job))
        try:
            stored = ledger.counts()["counters"].get("stored")
        finally:
            ledger.close()
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    if stored != n:
        raise SystemExit(f"{processes} consumer(s) stored {stored} of {n} ({results}): not a fair run")
    firsts = [r[0] for r in results if r[0] is not None]
    lasts = [r[1] for r in results if r[1] is not None]
    shares = tuple(sorted((r[2] for r in results), reverse=True))
    wait, locked = sum(r[3] for r in results), sum(r[4] for r in results)
    return Run(processes, max(lasts) - min(firsts), used, shares, wait, locked)


def main() -> None:
    """Run the benchmark and print its figures."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=100_000)
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--workers", type=int, default=ConsumerConfig("").decode_workers, help="decoding helpers")
    p.add_argument("--repeat", type=int, default=3, help="runs per variant (the median is shown)")
    p.add_argument("--bootstrap", default=os.environ.get("LEDGER_KAFKA_BOOTSTRAP", "127.0.0.1:19092"))
    args = p.parse_args()
    base = os.environ.get("LEDGER_BENCH_DATABASE_URL", DEFAULT_PG)
    started = time.perf_counter()
    events = generate_events(seed=5, subjects=args.events // 14 + 200)[: args.events]
    n = len(events)
    topic = f"bench.events.{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=args.bootstrap)
    admin.create_topics(
        {
            topic: {"num_partitions": PARTITIONS, "replication_factor": 1},
            f"{topic}.dlq": {"num_partitions": 1, "replication_factor": 1},
        },
        wait_for_metadata=True,
    )
    runs: dict[int, list[Run]] = {1: [], 2: []}
    try:
        with LedgerProducer(args.bootstrap, topic) as producer:
            report = producer.send_many(events)
            producer.flush()
        assert not report.rejected, report.rejected[:3]
        del events, report
        print(f"published {n} events to {PARTITIONS} partitions; {os.cpu_count()} cores", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(args.repeat):  # alternating order, so drift on the shared machine hits both
                for processes in (1, 2) if r % 2 == 0 else (2, 1):
                    run = _run(base, Path(tmp), processes, args, topic, n)
                    runs[processes].append(run)
                    print(
                        f"run {r + 1}, {processes} consumer(s): {n / run.seconds:,.0f} ev/s "
                        f"({run.seconds:.1f}s; events per process {list(run.shares)}; writer lock held "
                        f"{run.held:.0%} of the time, waited for {run.lock_wait:.1f}s in all; load average "
                        f"{os.getloadavg()[0]:.1f})",
                        flush=True,
                    )
    finally:
        admin.delete_topics([topic, f"{topic}.dlq"])
        admin.close()
    print(f"\n{n} events, batch {args.batch}, {args.workers} decoding helper(s) per consumer; medians")
    print(
        f"{'variant':<14} {'ev/s':>8} {'core-us/event: consumers':>25} {'postgres':>9} {'broker':>7} "
        f"{'total':>7}  {'cores/total ev/s':>16}  {'lock held':>9}  {'lock wait s':>11}"
    )
    rates: dict[int, float] = {}
    for processes, rs in runs.items():
        ordered = sorted(rs, key=lambda x: x.seconds)
        mid = ordered[len(ordered) // 2]
        rates[processes] = n / mid.seconds
        per = [x / n * 1e6 for x in (mid.cpu.consumer, mid.cpu.postgres, mid.cpu.broker, mid.cpu.total)]
        print(
            f"{f'{processes} consumer(s)':<14} {rates[processes]:>8,.0f} {per[0]:>25,.1f} {per[1]:>9,.1f} "
            f"{per[2]:>7,.1f} {per[3]:>7,.1f}  {machine_bound(mid.cpu.total / n):>16,.0f}  "
            f"{mid.held:>9.0%}  {mid.lock_wait:>11.1f}"
        )
    by_run = ", ".join(
        f"{(n / b.seconds) / (n / a.seconds):.2f}" for a, b in zip(runs[1], runs[2], strict=True)
    )
    print(f"two / one: {rates[2] / rates[1]:.2f}x (by run: {by_run})")
    print(f"total runtime {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
