"""One ledger against two shards (``ledger.sharding``) on the same PostgreSQL server, in the same run.

The same fictional sample events are stored (full ledger path: validation, dedup, encryption, chain,
Merkle tree) and then projected (every view, ``Projections.catch_up``):

- ``one``: into one ledger (one schema), by one process;
- ``two``: routed by subject into two ledgers (two schemas, two log origins), each by its own process,
  both at once.

It prints events/s of each phase (the two-shard rate is all events over the slower shard's time) and the
ratio two / one, median of ``--repeat`` runs in alternating order. On one PostgreSQL server and a small
machine the ratio shows what a second single-writer lock buys before CPU or the server is the limit; it
says nothing of shards on separate servers.

    .venv/bin/python bench/shards.py [--events 20000] [--repeat 3] [--batch 500]

PostgreSQL comes from LEDGER_BENCH_DATABASE_URL (default: the local ledger_test database started by
deploy/local/postgres.sh); every schema is dropped afterwards.
"""

from __future__ import annotations

import argparse
import base64
import multiprocessing
import os
import secrets
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg

from ledger.bootstrap import Ledger
from ledger.config import Settings
from ledger.sample import generate_events
from ledger.sharding import route
from ledger.store.messages import Message
from projections.service import Projections

DEFAULT_PG = "postgresql://ledger:ledger-local-only@127.0.0.1:5432/ledger_test"


def _store_and_project(job: tuple[str, str, str, list[dict[str, Any]], int]) -> tuple[float, float, int]:
    """In a process of its own: (seconds to store, seconds to project, events in the log)."""
    url, folder, origin, events, batch = job
    key = Path(folder) / "master.key"
    settings = Settings(
        database_url=url,
        master_key_file=key,
        var_dir=Path(folder) / "var",
        batch_size=batch,
        log_origin=origin,
    )
    ledger = Ledger.open(settings)
    try:
        started = time.perf_counter()
        result = ledger.ingest_messages([Message("bench", 0, i, event=e) for i, e in enumerate(events)])
        stored_s = time.perf_counter() - started
        if result.stored != len(events):
            raise SystemExit(f"stored {result.stored} of {len(events)}: not a fair run")
        projections = Projections(ledger.store, ledger.keys, ledger.codes)
        started = time.perf_counter()
        projections.catch_up()
        projected_s = time.perf_counter() - started
        return stored_s, projected_s, ledger.head_seq()
    finally:
        ledger.close()


def _run(base: str, tmp: Path, shards: list[list[dict[str, Any]]], batch: int) -> tuple[float, float]:
    """(store ev/s, project ev/s) of the shards run at once, one process each."""
    jobs, schemas = [], []
    for n, events in enumerate(shards):
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        schemas.append(schema)
        folder = tmp / schema
        folder.mkdir()
        key = folder / "master.key"
        key.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
        key.chmod(0o600)
        origin = f"privacy-ledger.example.com/bench-shard-{n}"
        jobs.append((f"{base}?schema={schema}", str(folder), origin, events, batch))
    try:
        with multiprocessing.get_context("fork").Pool(len(jobs)) as pool:
            results = pool.map(_store_and_project, jobs)
        total = sum(r[2] for r in results)
        return total / max(r[0] for r in results), total / max(r[1] for r in results)
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            for schema in schemas:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20000, help="about this many sample events")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=500, help="LEDGER_BATCH_SIZE of each ledger")
    args = parser.parse_args()
    base = os.environ.get("LEDGER_BENCH_DATABASE_URL", DEFAULT_PG)
    events = generate_events(seed=11, subjects=max(10, args.events // 16))
    routed = route(events, 2)
    accepted = routed.accepted()
    sizes = [len(s) for s in routed.by_shard]
    print(
        f"{len(accepted)} events ({len(routed.refused)} cross-shard merges refused), shards {sizes}, "
        f"{os.cpu_count()} cores"
    )
    one: list[tuple[float, float]] = []
    two: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeat):
            order = [("one", [accepted]), ("two", routed.by_shard)]
            for name, shards in order if r % 2 == 0 else reversed(order):
                rates = _run(base, Path(tmp), shards, args.batch)
                (one if name == "one" else two).append(rates)
                print(f"run {r + 1} {name}: store {rates[0]:,.0f} ev/s, project {rates[1]:,.0f} ev/s")
    store1, store2 = statistics.median(x[0] for x in one), statistics.median(x[0] for x in two)
    proj1, proj2 = statistics.median(x[1] for x in one), statistics.median(x[1] for x in two)
    print(f"\nmedian of {args.repeat}    store ev/s   project ev/s")
    print(f"one ledger         {store1:>10,.0f}   {proj1:>12,.0f}")
    print(f"two shards         {store2:>10,.0f}   {proj2:>12,.0f}")
    print(f"two / one          {store2 / store1:>10.2f}   {proj2 / proj1:>12.2f}")


if __name__ == "__main__":
    main()
