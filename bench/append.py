"""Append throughput of the ledger against a raw insert of rows of the same size, in the same run.

For each backend (real PostgreSQL, SQLite file) it appends N fictional sample events in batches through
the full ledger path (validation, dedup, encryption, chain, indexes), then inserts the same number of
rows, each as large as a stored event, with a raw ``executemany`` (psycopg / sqlite3), one transaction
per batch. It repeats each measurement and prints medians and the ratio ledger / raw.

    .venv/bin/python bench/append.py [--subjects 1500] [--batch 500] [--repeat 3]

PostgreSQL comes from LEDGER_BENCH_DATABASE_URL (default: the local ledger_test database started by
deploy/local/postgres.sh); each run uses a fresh schema that is dropped afterwards.
"""

from __future__ import annotations

import argparse
import base64
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

from ledger.bootstrap import Ledger
from ledger.config import Settings
from ledger.sample import generate_events
from ledger.store.messages import Message

DEFAULT_PG = "postgresql://ledger:ledger-local-only@127.0.0.1:5432/ledger_test"


def _ledger_append(url: str, events: list[dict[str, Any]], batch: int, key_file: Path) -> float:
    settings = Settings(database_url=url, master_key_file=key_file, batch_size=batch)
    ledger = Ledger.open(settings)
    messages = [Message("bench", 0, i, event=e) for i, e in enumerate(events)]
    try:
        started = time.perf_counter()
        result = ledger.ingest_messages(messages)
        elapsed = time.perf_counter() - started
        if result.stored != len(events):
            raise SystemExit(f"ledger stored {result.stored} of {len(events)}: not a fair run")
        return elapsed
    finally:
        ledger.close()


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
    args = p.parse_args()
    events = generate_events(seed=7, subjects=args.subjects)
    n = len(events)
    avg_size = int(statistics.mean(len(json.dumps(e)) for e in events) * 1.3)  # + ciphertext growth
    base = os.environ.get("LEDGER_BENCH_DATABASE_URL", DEFAULT_PG)
    print(f"events: {n}  batch: {args.batch}  repeat: {args.repeat}  raw row state: {avg_size} B")
    results: dict[str, dict[str, list[float]]] = {
        "postgres": {"ledger": [], "raw": []},
        "sqlite": {"ledger": [], "raw": []},
    }
    with tempfile.TemporaryDirectory() as tmp_text:
        tmp = Path(tmp_text)
        key_file = tmp / "master.key"
        key_file.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
        key_file.chmod(0o600)  # the ledger refuses a key file open to others
        for r in range(args.repeat):
            schema = f"bench_{uuid.uuid4().hex[:10]}"
            with psycopg.connect(base, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{schema}"')
            try:
                results["postgres"]["ledger"].append(
                    _ledger_append(f"{base}?schema={schema}", events, args.batch, key_file)
                )
                results["postgres"]["raw"].append(_raw_pg(base, schema, _rows(n, avg_size), args.batch))
            finally:
                with psycopg.connect(base, autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
            db = tmp / f"ledger-{r}.db"
            results["sqlite"]["ledger"].append(
                _ledger_append(f"sqlite:///{db}", events, args.batch, key_file)
            )
            results["sqlite"]["raw"].append(_raw_sqlite(tmp / f"raw-{r}.db", _rows(n, avg_size), args.batch))
            print(f"run {r + 1}/{args.repeat} done", flush=True)
    print()
    print(f"{'backend':<10} {'ledger ev/s':>12} {'raw ev/s':>12} {'ratio':>7}   runs (s)")
    fmt: Callable[[list[float]], str] = lambda xs: ", ".join(f"{x:.2f}" for x in xs)  # noqa: E731
    for name, res in results.items():
        ledger_rate = _median_rate(n, res["ledger"])
        raw_rate = _median_rate(n, res["raw"])
        print(
            f"{name:<10} {ledger_rate:>12,.0f} {raw_rate:>12,.0f} {ledger_rate / raw_rate:>7.3f}"
            f"   ledger [{fmt(res['ledger'])}] raw [{fmt(res['raw'])}]"
        )


if __name__ == "__main__":
    main()
