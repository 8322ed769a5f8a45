"""What the Merkle tree and signed checkpoints cost: append rate with and without the tree, and how long
an event waits for a signed checkpoint while ``consume`` runs at full rate.

1. Append rate (same run, interleaved): the full ledger path (``Ledger.ingest_messages``) on PostgreSQL
   and SQLite, once with tree integration in the append transaction and once with it switched off
   (``ledger.store.writer.TreeIntegrator`` replaced by a no-op, in this bench only). Goal: at most 10%
   slower with the tree.
2. Checkpoint lag: N events published to a 6-partition topic, consumed by one in-process consumer into
   PostgreSQL with checkpoints every ``LEDGER_CHECKPOINT_INTERVAL_SECONDS`` (``--interval``). For every
   committed batch: the time until a signed checkpoint covered its last record. Goal: under 5 s. The same
   events are consumed again without the tree and without checkpoints, for the consumer's rate ratio.

    .venv/bin/python bench/checkpoint.py [--subjects 800] [--repeat 3] [--events 30000] [--interval 2]

PostgreSQL from LEDGER_BENCH_DATABASE_URL (default: the local ledger_test database); Kafka from
LEDGER_KAFKA_BOOTSTRAP (default 127.0.0.1:19092). Fresh schemas and topics, dropped at the end.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import secrets
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
from kafka.admin import KafkaAdminClient

import ledger.store.writer as writer_module
from consumers.consumer import ConsumerConfig, LedgerConsumer
from consumers.producer import LedgerProducer
from ledger.bootstrap import Ledger
from ledger.config import Settings
from ledger.log.checkpoints import IssuedCheckpoint
from ledger.sample import generate_events
from ledger.store.integrate import TreeIntegrator
from ledger.store.messages import BatchResult, Message

DEFAULT_PG = "postgresql://ledger:ledger-local-only@127.0.0.1:5432/ledger_test"


class _NoTree:
    """The baseline: the append transaction integrates nothing into the tree."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.frontier = None

    def add(self, data: bytes) -> None:
        pass

    def flush(self) -> None:
        pass


_TREE_SECONDS = [0.0]  # time spent inside tree integration in the current run


class _TimedTree(TreeIntegrator):
    """The real integration, timed: a figure the shared machine's noise does not blur."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        started = time.perf_counter()
        super().__init__(*args, **kwargs)
        _TREE_SECONDS[0] += time.perf_counter() - started

    def add(self, data: bytes) -> None:
        started = time.perf_counter()
        super().add(data)
        _TREE_SECONDS[0] += time.perf_counter() - started

    def flush(self) -> None:
        started = time.perf_counter()
        super().flush()
        _TREE_SECONDS[0] += time.perf_counter() - started


@contextlib.contextmanager
def _tree(enabled: bool) -> Iterator[None]:
    real = writer_module.TreeIntegrator
    writer_module.TreeIntegrator = _TimedTree if enabled else _NoTree  # type: ignore[assignment,misc]
    try:
        yield
    finally:
        writer_module.TreeIntegrator = real  # type: ignore[misc]


@contextlib.contextmanager
def _schema(base: str) -> Iterator[str]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{base}?schema={schema}"
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _append(url: str, tmp: Path, key: Path, events: list[dict[str, Any]], batch: int) -> tuple[float, float]:
    """(seconds to append ``events``, seconds of that inside tree integration)."""
    settings = Settings(database_url=url, master_key_file=key, batch_size=batch, var_dir=tmp / "var")
    ledger = Ledger.open(settings)
    messages = [Message("bench", 0, i, event=e) for i, e in enumerate(events)]
    try:
        _TREE_SECONDS[0] = 0.0
        started = time.perf_counter()
        result = ledger.ingest_messages(messages)
        elapsed = time.perf_counter() - started
        if result.stored != len(events):
            raise SystemExit(f"stored {result.stored} of {len(events)}: not a fair run")
        return elapsed, _TREE_SECONDS[0]
    finally:
        ledger.close()


def bench_append(base: str, tmp: Path, key: Path, subjects: int, batch: int, repeat: int) -> None:
    events = generate_events(seed=7, subjects=subjects)
    n = len(events)
    runs: dict[tuple[str, bool], list[float]] = {}
    shares: dict[str, list[float]] = {"postgres": [], "sqlite": []}
    with _schema(base) as url:  # warm-up (imports, caches, the server's plans), not counted
        _append(url, tmp, key, events[:500], batch)
    for r in range(repeat):
        # Interleaved, in alternating order: drift on the shared machine hits both alike.
        for tree in (True, False) if r % 2 == 0 else (False, True):
            with _tree(tree):
                for backend in ("postgres", "sqlite"):
                    with contextlib.ExitStack() as stack:
                        if backend == "postgres":
                            url = stack.enter_context(_schema(base))
                        else:
                            url = f"sqlite:///{tmp / f'append-{r}-{tree}.db'}"
                        elapsed, inside = _append(url, tmp, key, events, batch)
                    runs.setdefault((backend, tree), []).append(elapsed)
                    if tree:
                        shares[backend].append(inside / elapsed)
        print(f"append run {r + 1}/{repeat} done", flush=True)
    print(f"\n1. append rate, {n} events, batch {batch}, median of {repeat}")
    print(
        f"{'backend':<10} {'with tree ev/s':>15} {'without ev/s':>13} {'slower by':>10} {'in tree':>8}   "
        "runs with / without (s)"
    )
    for backend in ("postgres", "sqlite"):
        with_s, without_s = (statistics.median(runs[(backend, t)]) for t in (True, False))
        slower = (with_s / without_s - 1) * 100
        fmt = ", ".join
        print(
            f"{backend:<10} {n / with_s:>15,.0f} {n / without_s:>13,.0f} {slower:>9.1f}% "
            f"{statistics.median(shares[backend]) * 100:>7.1f}%   "
            f"[{fmt(f'{x:.2f}' for x in runs[(backend, True)])}] / "
            f"[{fmt(f'{x:.2f}' for x in runs[(backend, False)])}]"
        )
    print(
        "in tree: the share of the append time spent inside tree integration (leaf and node hashes, the "
        "frontier, writing the rows), measured in the run itself: unlike the difference of two runs, the "
        "shared machine's noise does not blur it"
    )


class _Recording(LedgerConsumer):
    """Records each committed batch (time, last seq) and each checkpoint signed (time, size)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.batches: list[tuple[float, int]] = []
        self.signed: list[tuple[float, int]] = []
        self.first: float | None = None
        self.last: float | None = None
        real = self.ledger.checkpoint_if_grown

        def recorded() -> IssuedCheckpoint | None:
            issued = real()
            if issued is not None:
                self.signed.append((time.perf_counter(), issued.size))
            return issued

        self.ledger.checkpoint_if_grown = recorded  # type: ignore[method-assign]
        ingest = self.ingestor.ingest_batch

        def committed(*args: Any, **kwargs: Any) -> BatchResult:
            started = time.perf_counter()
            result = ingest(*args, **kwargs)
            if result.last_seq is not None:  # returned: the batch's transaction committed
                now = time.perf_counter()
                self.batches.append((now, result.last_seq))
                self.first = started if self.first is None else self.first
                self.last = now
            return result

        self.ingestor.ingest_batch = committed  # type: ignore[method-assign]


def _consume(
    base: str, tmp: Path, key: Path, bootstrap: str, topic: str, batch: int, interval: int, tree: bool
) -> _Recording:
    with _tree(tree), _schema(base) as url:
        settings = Settings(
            database_url=url,
            master_key_file=key,
            batch_size=batch,
            var_dir=tmp / f"var-{uuid.uuid4().hex[:6]}",
            checkpoint_interval_seconds=interval if tree else 10**9,
        )
        ledger = Ledger.open(settings)
        consumer = _Recording(
            ledger,
            ConsumerConfig(
                bootstrap=bootstrap,
                topic=topic,
                group=f"bench-{uuid.uuid4().hex[:6]}",
                dlq_topic=f"{topic}.dlq",
                batch_size=batch,
            ),
        )
        try:
            consumer.run(threading.Event(), idle_exit_s=interval + 3)
        finally:
            consumer.close()
            ledger.close()
    return consumer


def bench_lag(base: str, tmp: Path, key: Path, bootstrap: str, n: int, batch: int, interval: int) -> None:
    events = generate_events(seed=5, subjects=n // 14 + 200)[:n]
    topic = f"bench.cp.{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics(
        {
            topic: {"num_partitions": 6, "replication_factor": 1},
            f"{topic}.dlq": {"num_partitions": 1, "replication_factor": 1},
        },
        wait_for_metadata=True,
    )
    try:
        with LedgerProducer(bootstrap, topic) as producer:
            report = producer.send_many(events)
            producer.flush()
        assert not report.rejected, report.rejected[:3]
        del events
        without = _consume(base, tmp, key, bootstrap, topic, batch, interval, tree=False)
        with_tree = _consume(base, tmp, key, bootstrap, topic, batch, interval, tree=True)
    finally:
        admin.delete_topics([topic, f"{topic}.dlq"])
        admin.close()
    lags = []
    for committed, seq in with_tree.batches:
        covering = next((t for t, size in with_tree.signed if size >= seq and t >= committed), None)
        if covering is not None:
            lags.append(covering - committed)
    uncovered = len(with_tree.batches) - len(lags)
    rate = {}
    for name, run in (("with tree + checkpoints", with_tree), ("without tree", without)):
        assert run.first is not None and run.last is not None
        rate[name] = n / (run.last - run.first)
    lags.sort()
    print(
        f"\n2. consume {n} events (6 partitions, batch {batch}) into PostgreSQL, "
        f"checkpoint every {interval} s"
    )
    print(
        f"checkpoints signed: {len(with_tree.signed)}, batches: {len(with_tree.batches)}, "
        f"uncovered: {uncovered}"
    )
    if lags:
        p95 = lags[min(len(lags) - 1, int(len(lags) * 0.95))]
        print(
            "checkpoint lag (batch commit -> signed checkpoint covering it): "
            f"median {statistics.median(lags):.2f} s, "
            f"p95 {p95:.2f} s, max {lags[-1]:.2f} s"
        )
    for name, value in rate.items():
        print(f"consumer rate {name}: {value:,.0f} ev/s")
    slower = (rate["without tree"] / rate["with tree + checkpoints"] - 1) * 100
    print(f"consumer slower with the tree and checkpoints by {slower:.1f}%")


def main() -> None:
    """Run the benchmark and print its figures."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--subjects", type=int, default=800, help="sample subjects for the append runs")
    p.add_argument("--batch", type=int, default=500, help="events per transaction")
    p.add_argument("--repeat", type=int, default=3, help="append runs per variant (median shown)")
    p.add_argument("--events", type=int, default=30_000, help="events consumed from Kafka (0: skip part 2)")
    p.add_argument("--interval", type=int, default=Settings().checkpoint_interval_seconds, help="seconds")
    p.add_argument("--bootstrap", default=os.environ.get("LEDGER_KAFKA_BOOTSTRAP", "127.0.0.1:19092"))
    args = p.parse_args()
    base = os.environ.get("LEDGER_BENCH_DATABASE_URL", DEFAULT_PG)
    with tempfile.TemporaryDirectory() as tmp_text:
        tmp = Path(tmp_text)
        key = tmp / "master.key"
        key.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
        key.chmod(0o600)
        bench_append(base, tmp, key, args.subjects, args.batch, args.repeat)
        if args.events:
            bench_lag(base, tmp, key, args.bootstrap, args.events, args.batch, args.interval)


if __name__ == "__main__":
    main()
