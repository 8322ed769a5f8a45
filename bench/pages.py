"""First pages of the list views against ledger size, and against computing the whole answer.

``first_page_timings(projections_or_ledger)`` times the first page (``Projections.page``, the path of
``privacy-ledger query`` and ``GET /api/v1/<view>``) of the request queue, the open alerts and the
disclosure register at one instant: the median milliseconds of ``runs`` calls after one warm-up call.
``bench/scale.py`` calls it at each size it builds.

Run as a script, it builds (or reuses, ``--reuse``) one PostgreSQL ledger per size in ``--sizes`` from
fictional sample events (``ledger.sample``, through the full append path, views brought up to date) and
prints, per size, each first page beside the whole answer of the same query (``Projections.query``, what
every list paid before pages were read from the tables; the "before" baseline of the same run) and a
subject's inventory; then the ratio of the largest size to the smallest (goal: first pages within 1.5x).

    .venv/bin/python bench/pages.py [--sizes 50000,400000] [--runs 5] [--limit 100] [--keep]
                                    [--reuse SCHEMA:KEYFILE ...]

PostgreSQL comes from LEDGER_BENCH_DATABASE_URL (default: the local ledger_test database); each built
ledger is a new schema, dropped at the end unless ``--keep``. Not run in CI. The machine is shared:
compare figures of one run with each other.
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
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from ledger.bootstrap import Ledger
from ledger.config import Settings
from projections.service import Projections

DEFAULT_PG = "postgresql://ledger:ledger-local-only@127.0.0.1:5432/ledger_test"
LOAD_BATCH = 1000
# What each timed page asks (the "open alerts" are the alerts with status OPEN).
QUESTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "requests": ("requests", {}),
    "alerts": ("alerts", {"status": "OPEN"}),
    "disclosures": ("disclosures", {}),
}


def _projections(source: Projections | Ledger) -> Projections:
    if isinstance(source, Projections):
        return source
    return Projections(source.store, source.keys, source.codes)


def _median_ms(call: Callable[[], Any], runs: int) -> float:
    call()  # warm-up, not counted
    times = []
    for _ in range(max(1, runs)):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def first_page_timings(
    projections_or_ledger: Projections | Ledger,
    *,
    as_of: datetime | None = None,
    names: Iterable[str] = tuple(QUESTIONS),
    runs: int = 5,
    limit: int = 100,
) -> dict[str, float]:
    """Median milliseconds of the first page (``limit`` rows) of each of ``names`` (requests, alerts =
    the open alerts, disclosures) at ``as_of`` (default: the ledger's clock now)."""
    projections = _projections(projections_or_ledger)
    if as_of is not None:
        at = as_of
    elif isinstance(projections_or_ledger, Ledger):
        at = projections_or_ledger.clock()
    else:
        at = datetime.now(UTC)
    out: dict[str, float] = {}
    for name in names:
        view, filters = QUESTIONS[name]
        out[name] = _median_ms(partial(projections.page, view, as_of=at, limit=limit, **filters), runs)
    return out


def whole_answer_timings(
    projections: Projections, *, as_of: datetime, names: Iterable[str] = tuple(QUESTIONS), runs: int = 3
) -> dict[str, tuple[float, int]]:
    """Median milliseconds of each question's whole answer (``query``), and its number of rows."""
    out: dict[str, tuple[float, int]] = {}
    for name in names:
        view, filters = QUESTIONS[name]
        rows = len(projections.query(view, as_of=as_of, **filters))
        out[name] = (_median_ms(partial(projections.query, view, as_of=as_of, **filters), runs), rows)
    return out


def _sample(n: int) -> list[dict[str, Any]]:
    """At least ``n`` sample events (about 14 per subject), cut to the first ``n`` by occurred_at."""
    from ledger.sample import generate_events

    subjects = n // 14 + 20
    while True:
        events = generate_events(seed=11, subjects=subjects)
        if len(events) >= n:
            return events[:n]
        subjects = int(subjects * 1.2) + 1


def _build(base: str, n: int, folder: Path) -> tuple[str, Path]:
    """A fresh schema holding ``n`` sample events, views current: (schema, master key file)."""
    import psycopg

    from ledger.store.messages import Message

    schema = f"bench_pages_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    key = folder / f"{schema}.key"
    key.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
    key.chmod(0o600)
    events = _sample(n)
    started = time.perf_counter()
    ledger = Ledger.open(Settings(database_url=f"{base}?schema={schema}", master_key_file=key))
    try:
        ledger.ingest_messages(Message("bench", 0, i, event=e) for i, e in enumerate(events))
        loaded = time.perf_counter()
        Projections(ledger.store, ledger.keys, ledger.codes).catch_up()
        print(
            f"built {n:,} events in schema {schema}: ingest {loaded - started:.0f}s, "
            f"views {time.perf_counter() - loaded:.0f}s",
            flush=True,
        )
    finally:
        ledger.close()
    return schema, key


def _measure(base: str, schema: str, key: Path, runs: int, limit: int) -> dict[str, float]:
    ledger = Ledger.open(
        Settings(database_url=f"{base}?schema={schema}", master_key_file=key), read_only=True
    )
    try:
        projections = Projections(ledger.store, ledger.keys, ledger.codes)
        at = ledger.clock()
        events = ledger.head_seq()
        pages = first_page_timings(projections, as_of=at, runs=runs, limit=limit)
        whole = whole_answer_timings(projections, as_of=at, runs=max(1, runs // 2))
        with ledger.store.read() as cur:
            row = cur.execute(
                "SELECT subject_id FROM {t:ledger_chain} WHERE subject_id IS NOT NULL ORDER BY seq LIMIT 1"
            ).one()
        subject = None if row is None else str(row["subject_id"])
        inventory = (
            _median_ms(lambda: projections.query("inventory", as_of=at, subject=subject, values=False), runs)
            if subject
            else float("nan")
        )
    finally:
        ledger.close()
    print(f"== {events:,} stored events (schema {schema})")
    for name in QUESTIONS:
        ms, rows = whole[name]
        print(
            f"   {name:<12} first page ({limit} rows) {pages[name]:8.1f} ms   "
            f"whole answer ({rows:,} rows) {ms:9.1f} ms   ({ms / pages[name]:.0f}x the page)"
        )
    print(f"   {'inventory':<12} one subject, no values {inventory:8.1f} ms", flush=True)
    return {**pages, "inventory": inventory, "events": float(events)}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--sizes", default="50000,400000", help="sample events of each ledger built")
    parser.add_argument("--runs", type=int, default=5, help="timed calls per figure (median)")
    parser.add_argument("--limit", type=int, default=100, help="rows per page")
    parser.add_argument("--keep", action="store_true", help="keep the schemas built (and their key files)")
    parser.add_argument(
        "--reuse",
        action="append",
        default=[],
        metavar="SCHEMA:KEYFILE",
        help="measure an existing ledger (views current) instead of building one; repeatable",
    )
    args = parser.parse_args(argv)
    base = os.environ.get("LEDGER_BENCH_DATABASE_URL", DEFAULT_PG)
    folder = Path(tempfile.mkdtemp(prefix="bench-pages-"))
    built: list[str] = []
    ledgers: list[tuple[str, Path]] = []
    try:
        for item in args.reuse:
            schema, _, key = item.partition(":")
            ledgers.append((schema, Path(key)))
        if not ledgers:
            for size in (int(s) for s in args.sizes.split(",")):
                schema, key = _build(base, size, folder)
                built.append(schema)
                ledgers.append((schema, key))
        figures = [_measure(base, schema, key, args.runs, args.limit) for schema, key in ledgers]
        if len(figures) > 1:
            small, large = min(figures, key=lambda f: f["events"]), max(figures, key=lambda f: f["events"])
            print(f"\nat {large['events']:,.0f} against {small['events']:,.0f} stored events (goal <= 1.5x):")
            for name in (*QUESTIONS, "inventory"):
                print(f"   {name:<12} {large[name] / small[name]:.2f}x")
    finally:
        if built and not args.keep:
            import psycopg

            with psycopg.connect(base, autocommit=True) as conn:
                for schema in built:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        elif built:
            kept = [f"{schema}:{folder / (schema + '.key')}" for schema in built]
            print("kept (pass to --reuse): " + " ".join(kept))


if __name__ == "__main__":
    main()
