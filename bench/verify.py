"""`verify` from the last verified checkpoint against a full verification, same ledger, same run.

For each backend (real PostgreSQL and an SQLite file) it loads about ``--events`` fictional sample
events (``ledger.sample``, in-process appends), signs a checkpoint, verifies in full and records the
verified checkpoint (what `verify --record` does), appends ``--tail`` more events (a later batch of the
generator), then measures, interleaved, ``--runs`` times each: ``ledger.verify()`` (full: every record
re-hashed) and ``ledger.verify(incremental=True)`` (the default of `privacy-ledger verify`: the checkpoint
checked, then the tail). It prints the medians, the events each re-hashed, their rate (events/s, as
the report carries it) and the ratio of the two times.

    .venv/bin/python bench/verify.py [--events 20000] [--tail 1000] [--runs 5] [--backend both]

PostgreSQL comes from LEDGER_BENCH_DATABASE_URL (default: the local ledger_test database started by
deploy/local/postgres.sh); each run uses a fresh schema, dropped at the end. Not run in CI.
"""

from __future__ import annotations

import argparse
import base64
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
from ledger.store.chain import ChainReport, record_anchor
from ledger.store.messages import Message

DEFAULT_PG = "postgresql://ledger:ledger-local-only@127.0.0.1:5432/ledger_test"
EVENTS_PER_SUBJECT = 16  # about, from the sample generator


def _events(total: int, seed: int) -> list[dict[str, Any]]:
    return generate_events(seed=seed, subjects=max(1, total // EVENTS_PER_SUBJECT))


def _append(ledger: Ledger, events: list[dict[str, Any]], tag: str) -> None:
    result = ledger.ingest_messages(Message(tag, 0, i, event=e) for i, e in enumerate(events))
    if result.dead_letters:
        raise SystemExit(f"{len(result.dead_letters)} events rejected: not a fair run")


def _timed(full: bool, ledger: Ledger) -> tuple[float, ChainReport]:
    started = time.perf_counter()
    report = ledger.verify(incremental=not full)
    return time.perf_counter() - started, report


def measure(name: str, url: str, args: argparse.Namespace, folder: Path) -> None:
    key = folder / f"{name}.key"
    key.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
    key.chmod(0o600)
    settings = Settings(
        database_url=url, master_key_file=key, var_dir=folder / f"var-{name}", batch_size=1000
    )
    ledger = Ledger.open(settings)
    try:
        started = time.perf_counter()
        _append(ledger, _events(args.events, seed=21), "bench-a")
        ledger.checkpoint()
        first = ledger.verify()
        if not (first.valid and record_anchor(ledger.store, first)):
            raise SystemExit(f"[{name}] the first verification is not valid: {first.problems}")
        _append(ledger, _events(args.tail, seed=22), "bench-b")
        print(
            f"[{name}] {ledger.head_seq()} events ({first.length} up to the verified checkpoint), built in "
            f"{time.perf_counter() - started:.1f}s",
            flush=True,
        )
        times: dict[bool, list[float]] = {True: [], False: []}
        reports: dict[bool, ChainReport] = {}
        for i in range(args.runs):
            for full in (True, False) if i % 2 == 0 else (False, True):
                seconds, reports[full] = _timed(full, ledger)
                if not reports[full].valid:
                    raise SystemExit(f"[{name}] invalid: {reports[full].problems}")
                times[full].append(seconds)
        for full in (True, False):
            report, median = reports[full], statistics.median(times[full])
            label = "full       " if full else "incremental"
            print(
                f"[{name}] {label} median {median * 1000:8.1f} ms, {report.events_checked:6d} events "
                f"re-hashed, {report.events_checked / median:9,.0f} events/s (mode {report.mode})",
                flush=True,
            )
        ratio = statistics.median(times[True]) / statistics.median(times[False])
        print(f"[{name}] full / incremental time: {ratio:.1f}x", flush=True)
    finally:
        ledger.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=20_000, help="events up to the verified checkpoint")
    parser.add_argument("--tail", type=int, default=1_000, help="events appended after it")
    parser.add_argument("--runs", type=int, default=5, help="timed runs of each (medians reported)")
    parser.add_argument("--backend", choices=("both", "postgres", "sqlite"), default="both")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.backend in ("both", "postgres"):
            base = os.environ.get("LEDGER_BENCH_DATABASE_URL", DEFAULT_PG)
            schema = f"bench_verify_{uuid.uuid4().hex[:8]}"
            try:
                measure("postgres", f"{base}?schema={schema}", args, folder)
            finally:
                with psycopg.connect(base, autocommit=True) as conn:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        if args.backend in ("both", "sqlite"):
            measure("sqlite", f"sqlite:///{folder}/bench.db", args, folder)


if __name__ == "__main__":
    main()
