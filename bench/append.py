"""Append throughput of the ledger against its peer and a raw insert of rows of the same size, same run.

For each backend (real PostgreSQL, SQLite file) it appends N fictional sample events in batches through
the full ledger path (validation, dedup, encryption, chain, Merkle tree, indexes), then runs the peer
baseline: ``eventsourcing``'s own batched save (bench/peer.py: 100 new aggregates per ``save``, one
event each, stored ``state`` as large as the ledger's average stored event, no validation, encryption
or chain) into a fresh schema / file, then inserts the same number of rows, each as large as a stored
event, with a raw ``executemany`` (psycopg / sqlite3), one transaction per batch. It repeats each
measurement and prints medians and the ratios ledger / peer (goal on PostgreSQL: >= 1.0) and
ledger / raw, and the CPU time this process spent per event in the ledger and in the peer (client
side; the database server's is not in it).

    .venv/bin/python bench/append.py [--subjects 1500] [--batch 500] [--repeat 3] [--profile FILE]

``--profile FILE`` first runs one extra, untimed PostgreSQL ledger append under cProfile and writes
``FILE`` (read it with ``python -m pstats FILE``); the figures come from the other runs.

PostgreSQL comes from LEDGER_BENCH_DATABASE_URL (default: the local ledger_test database started by
deploy/local/postgres.sh); each run uses a fresh schema that is dropped afterwards.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import json
import os
import secrets
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
from peer import PEER_BATCH, peer_env_pg, peer_env_sqlite, peer_save

from ledger.bootstrap import Ledger
from ledger.config import Settings
from ledger.sample import generate_events
from ledger.store.messages import Message

DEFAULT_PG = "postgresql://ledger:ledger-local-only@127.0.0.1:5432/ledger_test"


def _ledger_append(
    url: str, events: list[dict[str, Any]], batch: int, key_file: Path, profile: Path | None = None
) -> tuple[float, int, float]:
    """(seconds to append ``events``, average size in bytes of a stored event's ``state``, CPU seconds of
    this process meanwhile)."""
    settings = Settings(database_url=url, master_key_file=key_file, batch_size=batch)
    ledger = Ledger.open(settings)
    messages = [Message("bench", 0, i, event=e) for i, e in enumerate(events)]
    try:
        profiler = cProfile.Profile() if profile is not None else None
        cpu = time.process_time()
        started = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        result = ledger.ingest_messages(messages)
        if profiler is not None:
            profiler.disable()
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
        if profiler is not None and profile is not None:
            profiler.dump_stats(profile)
        if result.stored != len(events):
            raise SystemExit(f"ledger stored {result.stored} of {len(events)}: not a fair run")
        store = ledger.store
        size_of = "octet_length" if store.dialect.is_postgres else "length"
        with store.read() as cur:
            size = cur.execute(f"SELECT AVG({size_of}(state)) AS s FROM {store.events_table}").scalar()
        return elapsed, int(float(size)), cpu
    finally:
        ledger.close()


def _profile_run(base: str, events: list[dict[str, Any]], batch: int, key_file: Path, out: Path) -> None:
    """One untimed PostgreSQL ledger append under cProfile, into a schema of its own."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        seconds, _, _ = _ledger_append(f"{base}?schema={schema}", events, batch, key_file, out)
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    print(f"profiled PostgreSQL ledger run (not in the figures): {seconds:.2f}s, profile in {out}")


def _rows(n: int, size: int) -> list[tuple[Any, ...]]:
    return [(uuid.uuid4(), 1, "privacy.bench.v1", secrets.token_bytes(size)) for _ in range(n)]


def _raw_pg(base: str, schema: str, rows: list[tuple[Any, ...]], batch: int) -> float:
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(
            f'CREATE TABLE "{schema}".raw_events (originator_id uuid, originator_version int, '
            "topic text, state bytea, notification_id bigserial, "
            "PRIMARY KEY (originator_id, originator_version))"
        )
        started = time.perf_counter()
        for i in range(0, len(rows), batch):
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(
                    f'INSERT INTO "{schema}".raw_events (originator_id, originator_version, topic, '
                    "state) VALUES (%s, %s, %s, %s)",
                    rows[i : i + batch],
                )
        elapsed = time.perf_counter() - started
        conn.execute(f'DROP TABLE "{schema}".raw_events')
    return elapsed


def _raw_sqlite(path: Path, rows: list[tuple[Any, ...]], batch: int) -> float:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "CREATE TABLE raw_events (originator_id text, originator_version int, topic text, "
        "state blob, PRIMARY KEY (originator_id, originator_version))"
    )
    started = time.perf_counter()
    for i in range(0, len(rows), batch):
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO raw_events VALUES (?, ?, ?, ?)",
            [(r[0].hex, r[1], r[2], r[3]) for r in rows[i : i + batch]],
        )
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def _median_rate(n: int, runs: list[float]) -> float:
    return n / statistics.median(runs)


def main() -> None:
    """Run the benchmark and print its figures."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--subjects", type=int, default=1500)
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--profile", type=Path, help="cProfile the ledger phase of the first PostgreSQL run")
    args = p.parse_args()
    events = generate_events(seed=7, subjects=args.subjects)
    n = len(events)
    avg_size = int(statistics.mean(len(json.dumps(e)) for e in events) * 1.3)  # + ciphertext growth
    base = os.environ.get("LEDGER_BENCH_DATABASE_URL", DEFAULT_PG)
    print(f"events: {n}  batch: {args.batch}  repeat: {args.repeat}  raw row state: {avg_size} B")
    results: dict[str, dict[str, list[float]]] = {
        "postgres": {"ledger": [], "peer": [], "raw": []},
        "sqlite": {"ledger": [], "peer": [], "raw": []},
    }
    stored_size: dict[str, int] = {}
    cpu: dict[str, dict[str, list[float]]] = {b: {"ledger": [], "peer": []} for b in results}
    with tempfile.TemporaryDirectory() as tmp_text:
        tmp = Path(tmp_text)
        key_file = tmp / "master.key"
        key_file.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
        key_file.chmod(0o600)  # the ledger refuses a key file open to others
        if args.profile is not None:
            _profile_run(base, events, args.batch, key_file, args.profile)
        for r in range(args.repeat):
            schema = f"bench_{uuid.uuid4().hex[:10]}"
            with psycopg.connect(base, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{schema}"')
            try:
                seconds, stored_size["postgres"], used = _ledger_append(
                    f"{base}?schema={schema}", events, args.batch, key_file
                )
                results["postgres"]["ledger"].append(seconds)
                cpu["postgres"]["ledger"].append(used)
                seconds, used = peer_save(peer_env_pg(base, schema), n, stored_size["postgres"])
                results["postgres"]["peer"].append(seconds)
                cpu["postgres"]["peer"].append(used)
                results["postgres"]["raw"].append(_raw_pg(base, schema, _rows(n, avg_size), args.batch))
            finally:
                with psycopg.connect(base, autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
            db = tmp / f"ledger-{r}.db"
            seconds, stored_size["sqlite"], used = _ledger_append(
                f"sqlite:///{db}", events, args.batch, key_file
            )
            results["sqlite"]["ledger"].append(seconds)
            cpu["sqlite"]["ledger"].append(used)
            seconds, used = peer_save(peer_env_sqlite(tmp / f"peer-{r}.db"), n, stored_size["sqlite"])
            results["sqlite"]["peer"].append(seconds)
            cpu["sqlite"]["peer"].append(used)
            results["sqlite"]["raw"].append(_raw_sqlite(tmp / f"raw-{r}.db", _rows(n, avg_size), args.batch))
            print(f"run {r + 1}/{args.repeat} done", flush=True)
    print()
    print(
        f"peer: eventsourcing Application.save, {PEER_BATCH} new aggregates (one event each) per save; "
        f"stored state per event: ledger/peer {stored_size['postgres']} B (PostgreSQL), "
        f"{stored_size['sqlite']} B (SQLite)"
    )
    print(
        f"{'backend':<10} {'ledger ev/s':>12} {'peer ev/s':>10} {'ledger/peer':>11} {'raw ev/s':>10} "
        f"{'ledger/raw':>10}  {'bench CPU us/ev: ledger':>23} {'peer':>5}   runs (s)"
    )
    fmt: Callable[[list[float]], str] = lambda xs: ", ".join(f"{x:.2f}" for x in xs)  # noqa: E731
    for name, res in results.items():
        ledger_rate = _median_rate(n, res["ledger"])
        peer_rate = _median_rate(n, res["peer"])
        raw_rate = _median_rate(n, res["raw"])
        ledger_cpu = statistics.median(cpu[name]["ledger"]) / n * 1e6
        peer_cpu = statistics.median(cpu[name]["peer"]) / n * 1e6
        print(
            f"{name:<10} {ledger_rate:>12,.0f} {peer_rate:>10,.0f} {ledger_rate / peer_rate:>11.3f} "
            f"{raw_rate:>10,.0f} {ledger_rate / raw_rate:>10.3f}  {ledger_cpu:>23,.0f} {peer_cpu:>5,.0f}"
            f"   ledger [{fmt(res['ledger'])}] peer [{fmt(res['peer'])}] raw [{fmt(res['raw'])}]"
        )
    print(
        "bench CPU us/ev: CPU time of this process (the ledger's or the library's Python, client side) per "
        "event, median; the database server's CPU is not in it"
    )
    ratio = _median_rate(n, results["postgres"]["ledger"]) / _median_rate(n, results["postgres"]["peer"])
    print(f"goal: ledger >= 1.0x the peer on PostgreSQL: {ratio:.2f}x, {'MET' if ratio >= 1.0 else 'MISSED'}")


if __name__ == "__main__":
    main()
