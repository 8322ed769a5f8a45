"""Projection rebuild rate against the raw read of the notification log, and query latencies.

For each backend (real PostgreSQL by default, optionally an SQLite file) it loads N fictional sample events
(``ledger.sample``, batches of 1000 through the full ledger append path) into a fresh store, then measures
in the same run:

* the raw read rate of the notification log: every stored event in ``seq`` order, paged the way the
  projection runner pages it (``seq > last ORDER BY seq LIMIT <runner batch>``, one read transaction per
  page, the chain joined to the event table) plus JSON-decoding each state, i.e. the least the runner has
  to do. Three times, interleaved with the rebuilds; the median is reported;
* the ingest rate: N / time of loading them (``Ledger.ingest_messages``, the path of the ``ingest``
  command), and the ``project`` rate: N / time of ``Projections.catch_up()`` (the incremental pass of the
  ``project`` command, ``ProjectionRunner.catch_up``) bringing fresh views up to the head, run in a child
  process (spawned, so the sample is not in its memory) whose peak RSS (``VmHWM``) is reported as the
  projection's memory; the ratio project / ingest (goal >= 1.5);
* the rebuild rate of all views: N / time of ``Projections.rebuild("all")`` (truncate every view and
  replay the store), once by default (``--rebuilds``), and the ratio rebuild / raw read (goal >= 0.25);
* query latencies, in-process, p50 and p99 of the whole call over ``--queries`` calls each:
  ``query("inventory", as_of=now, subject=<random subject, fixed seed>)`` and
  ``query("requests", as_of=now)`` cut to its first page (50 rows; the call computes the whole queue).
  A few warm-up calls come first and are not counted.

The generated sample stays in memory (a second backend reuses it); it is frozen out of the garbage
collector's reach (``gc.freeze``) while a backend is measured, so collections over it are not timed.
The collections that remain (over what the projections themselves hold) are counted and printed beside
the figures: a p99 far above the p50 usually is one full collection.

The machine is noisy: compare the figures of one run with each other (ratios), not across runs.

    .venv/bin/python bench/project.py [--events 200000] [--queries 200] [--backend postgres|sqlite|both]
                                      [--sqlite-events N] [--rebuilds 1] [--profile FILE] [--keep]
                                      [--alert-cache-facts N]

Run it from the repository root. PostgreSQL comes from LEDGER_BENCH_DATABASE_URL (default: the local
ledger_test database started by deploy/local/postgres.sh); each run uses a fresh schema, dropped at the
end unless ``--keep`` (which also keeps the SQLite file and the master key, and prints where they are).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import cProfile
import gc
import json
import os
import random
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from ledger.bootstrap import Ledger
from ledger.config import Settings
from ledger.sample import generate_events
from ledger.store.database import LedgerStore
from ledger.store.messages import Message
from projections.alerts import ENGINE_CACHE_FACTS, AlertsView
from projections.service import Projections

DEFAULT_PG = "postgresql://ledger:ledger-local-only@127.0.0.1:5432/ledger_test"
LOAD_BATCH = 1000
RAW_READS = 3
FIRST_PAGE = 50
WARMUP_CALLS = 3
QUERY_SEED = 42
CACHE_ENV = "BENCH_ALERT_CACHE_FACTS"


@dataclass
class Figures:
    """What one backend measured."""

    backend: str
    events: int
    load_s: float
    page: int = 0
    project_s: float = 0.0
    project_rss_mb: float = 0.0
    raw_s: list[float] = field(default_factory=list)
    rebuild_s: list[float] = field(default_factory=list)
    inventory_ms: list[float] = field(default_factory=list)
    requests_ms: list[float] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _sample(n: int) -> list[dict[str, Any]]:
    """At least ``n`` sample events (about 15 per subject), cut to the first ``n`` by occurred_at."""
    subjects = n // 14 + 200
    while True:
        events = generate_events(seed=11, subjects=subjects)
        if len(events) >= n:
            return events[:n]
        subjects = int(subjects * 1.2) + 1


def _load(url: str, events: list[dict[str, Any]], key_file: Path) -> tuple[Ledger, float, int]:
    """Append the events; (ledger, seconds, stored events including the ledger-generated ones)."""
    ledger = Ledger.open(Settings(database_url=url, master_key_file=key_file, batch_size=LOAD_BATCH))
    messages = [Message("bench", 0, i, event=e) for i, e in enumerate(events)]
    started = time.perf_counter()
    result = ledger.ingest_messages(messages)
    elapsed = time.perf_counter() - started
    if result.stored != len(events):
        ledger.close()
        raise SystemExit(f"ledger stored {result.stored} of {len(events)}: not a fair run")
    return ledger, elapsed, result.stored + result.system_events


def _raw_read(store: LedgerStore, batch: int) -> tuple[int, float]:
    """Read the whole notification log in seq pages and decode every state; (events, seconds)."""
    sql = (
        "SELECT c.seq, e.state FROM {t:ledger_chain} c "
        f"JOIN {store.events_table} e ON e.{store.notification_column} = c.notification_id "
        f"WHERE c.seq > ? ORDER BY c.seq LIMIT {int(batch)}"
    )
    last, count = 0, 0
    started = time.perf_counter()
    while True:
        with store.read() as cur:
            rows = cur.execute(sql, (last,)).all()
        if not rows:
            break
        records = [json.loads(bytes(row["state"]))["record"] for row in rows]
        last = int(rows[-1]["seq"])
        count += len(records)
    return count, time.perf_counter() - started


def _cache_budget(projections: Projections) -> None:
    """``--alert-cache-facts`` (passed to the child in the environment): the alert engines' budget."""
    budget = os.environ.get(CACHE_ENV)
    if budget:
        for view in projections.runner.views:
            if isinstance(view, AlertsView):
                view.cache_facts = int(budget)


def _project_child(url: str, key_file: Path, n: int, profile: Path | None) -> tuple[float, float]:
    """``project``'s catch-up of fresh views to the head in a spawned child; (seconds, peak RSS in MB)."""
    command = [sys.executable, __file__, "--project-child", url, str(key_file), str(n)]
    if profile is not None:
        command.append(str(profile))
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"project child failed ({done.returncode}):\n{done.stderr[-4000:]}")
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    return float(answer["seconds"]), float(answer["maxrss_kb"]) / 1024


def _run_project_child(url: str, key_file: str, n: int, profile: str | None) -> None:
    """In the child: open the ledger, catch the views up, print seconds and peak RSS as one JSON line."""
    ledger = Ledger.open(Settings(database_url=url, master_key_file=Path(key_file), batch_size=LOAD_BATCH))
    try:
        # As the ``project`` command builds it (parked expiry at the start of each pass).
        projections = Projections(ledger.store, ledger.keys, ledger.codes, maintenance=ledger.expire_due)
        _cache_budget(projections)
        profiler = cProfile.Profile()
        started = time.perf_counter()
        applied = profiler.runcall(projections.catch_up) if profile else projections.catch_up()
        seconds = time.perf_counter() - started
        if profile:
            profiler.dump_stats(profile)
    finally:
        ledger.close()
    if applied != n:
        raise SystemExit(f"project read {applied} of {n} events: not a fair run")
    print(json.dumps({"seconds": seconds, "maxrss_kb": _peak_rss_kb()}))


def _peak_rss_kb() -> int:
    """This process's peak RSS in KiB: ``VmHWM`` of /proc/self/status. Not ``ru_maxrss``: Linux carries the
    parent's peak into it across the fork (vfork) and exec that started this process."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # elsewhere: the best there is


def _rebuild(projections: Projections, n: int, profile: Path | None) -> float:
    """One timed ``rebuild("all")``; with ``profile``, under cProfile, stats dumped there."""
    profiler = cProfile.Profile()
    started = time.perf_counter()
    applied = profiler.runcall(projections.rebuild, "all") if profile else projections.rebuild("all")
    elapsed = time.perf_counter() - started
    if profile:
        profiler.dump_stats(profile)
    if applied != n:
        raise SystemExit(f"rebuild read {applied} of {n} events: not a fair run")
    return elapsed


@contextlib.contextmanager
def _gc_pauses() -> Iterator[list[tuple[int, float]]]:
    """Collect (generation, seconds) of every garbage-collector pause inside the block."""
    pauses: list[tuple[int, float]] = []
    started = [0.0]

    def callback(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            pauses.append((info["generation"], time.perf_counter() - started[0]))

    gc.callbacks.append(callback)
    try:
        yield pauses
    finally:
        gc.callbacks.remove(callback)


def _gc_note(what: str, pauses: list[tuple[int, float]]) -> str:
    full = [s for g, s in pauses if g == 2]
    longest = max(full, default=0.0) * 1000
    return (
        f"gc during {what}: {len(pauses)} collections, {sum(s for _, s in pauses):.2f}s in all; "
        f"{len(full)} full, longest {longest:.0f} ms"
    )


def _timed(call: Callable[[], Any], k: int) -> tuple[list[float], list[Any]]:
    """``k`` timed calls (milliseconds) after a few uncounted warm-up calls; also their results."""
    for _ in range(WARMUP_CALLS):
        call()
    times, results = [], []
    for _ in range(k):
        started = time.perf_counter()
        results.append(call())
        times.append((time.perf_counter() - started) * 1000)
    return times, results


def _percentile(xs: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(xs)
    rank = max(1, min(len(ordered), int(-(-p * len(ordered) // 100))))
    return ordered[rank - 1]


def _measure(
    backend: str, url: str, events: list[dict[str, Any]], key_file: Path, args: argparse.Namespace
) -> Figures:
    print(f"[{backend}] loading {len(events)} events in batches of {LOAD_BATCH} ...", flush=True)
    ledger, load_s, n = _load(url, events, key_file)
    fig = Figures(backend, n, load_s)
    print(
        f"[{backend}] loaded in {load_s:.1f}s ({n / load_s:,.0f} ev/s); the store holds N = {n} events "
        f"({n - len(events)} of them ledger-generated)",
        flush=True,
    )
    profile = args.profile.with_suffix(f".{backend}.project.prof") if args.profile else None
    fig.project_s, fig.project_rss_mb = _project_child(url, key_file, n, profile)
    print(
        f"[{backend}] project (catch-up of fresh views, child process) in {fig.project_s:.1f}s "
        f"({n / fig.project_s:,.0f} ev/s), peak RSS {fig.project_rss_mb:.0f} MB",
        flush=True,
    )
    # The sample (millions of small objects) stays in memory for the next backend; frozen, so the
    # collector's full passes over it do not land in the timings (they added ~1.5 s pauses to queries).
    gc.collect()
    gc.freeze()
    try:
        projections = Projections(ledger.store, ledger.keys, ledger.codes)
        _cache_budget(projections)
        batch = fig.page = projections.runner.batch_size
        # Raw reads interleaved with the rebuilds so drift on a noisy machine hits both alike.
        for i in range(max(RAW_READS, args.rebuilds + 1)):
            if i < RAW_READS:
                count, seconds = _raw_read(ledger.store, batch)
                if count != n:
                    raise SystemExit(f"raw read saw {count} of {n} events: not a fair run")
                fig.raw_s.append(seconds)
                print(f"[{backend}] raw read {i + 1}: {seconds:.2f}s", flush=True)
            if i < args.rebuilds:
                profile = args.profile.with_suffix(f".{backend}.prof") if args.profile and i == 0 else None
                with _gc_pauses() as pauses:
                    fig.rebuild_s.append(_rebuild(projections, n, profile))
                fig.notes.append(_gc_note(f"rebuild {i + 1}", pauses))
                print(f"[{backend}] rebuild {i + 1}: {fig.rebuild_s[-1]:.1f}s", flush=True)

        subjects = sorted({str(e["subject_id"]) for e in events if e.get("subject_id")})
        rng = random.Random(QUERY_SEED)
        as_of = datetime.now(UTC)

        def inventory() -> Any:
            return projections.query("inventory", as_of=as_of, subject=rng.choice(subjects))

        def requests_page() -> Any:
            return projections.query("requests", as_of=as_of)[:FIRST_PAGE]

        with _gc_pauses() as pauses:
            fig.inventory_ms, answers = _timed(inventory, args.queries)
        fig.notes.append(_gc_note("inventory queries", pauses))
        known = [a for a in answers if a.get("known")]
        items = statistics.mean(len(a["items"]) for a in known) if known else 0.0
        fig.notes.append(
            f"inventory: {len(known)}/{len(answers)} sampled subjects known, "
            f"{items:.1f} items each on average"
        )
        with _gc_pauses() as pauses:
            fig.requests_ms, pages = _timed(requests_page, args.queries)
        fig.notes.append(_gc_note("requests queries", pauses))
        queue = len(projections.query("requests", as_of=as_of))
        fig.notes.append(f"requests: open queue of {queue} rows, first page {len(pages[0])} rows")
        print(f"[{backend}] queries done", flush=True)
    finally:
        ledger.close()
        gc.unfreeze()
    return fig


def _report(figs: list[Figures]) -> None:
    print()
    pages = ", ".join(sorted({str(f.page) for f in figs}))
    print(
        "ingest = N / load time (ingest path); project = N / time of catch_up() of fresh views (child "
        "process, its peak RSS);"
    )
    print(f"rebuild = N / time of rebuild('all'); raw = median of {RAW_READS} paged reads ({pages}/page)")
    head = (
        f"{'backend':<9} {'N':>8} {'ingest ev/s':>11} {'project ev/s':>12} {'proj/ingest':>11} "
        f"{'rebuild ev/s':>12} {'raw ev/s':>10} {'rebuild/raw':>11} {'project RSS':>11}"
    )
    print(head)
    for f in figs:
        ingest = f.events / f.load_s
        project = f.events / f.project_s
        rebuild = f.events / statistics.median(f.rebuild_s)
        raw = f.events / statistics.median(f.raw_s)
        print(
            f"{f.backend:<9} {f.events:>8} {ingest:>11,.0f} {project:>12,.0f} {project / ingest:>10.2f}x "
            f"{rebuild:>12,.0f} {raw:>10,.0f} {rebuild / raw:>10.3f}x {f.project_rss_mb:>8.0f} MB"
        )
    print("goals: project/ingest >= 1.5x, rebuild/raw >= 0.25x")
    print()
    print(f"{'backend':<9} {'query (ms, whole call)':<32} {'calls':>5} {'p50':>8} {'p99':>8} {'max':>8}")
    for f in figs:
        for name, xs in (
            ("inventory, one random subject", f.inventory_ms),
            ("requests, first page", f.requests_ms),
        ):
            print(
                f"{f.backend:<9} {name:<32} {len(xs):>5} "
                f"{_percentile(xs, 50):>8.1f} {_percentile(xs, 99):>8.1f} {max(xs):>8.1f}"
            )
    print()
    for f in figs:
        runs = ", ".join(f"{s:.2f}" for s in f.raw_s)
        rebuilds = ", ".join(f"{s:.1f}" for s in f.rebuild_s)
        print(f"{f.backend}: load {f.load_s:.1f}s; raw read runs (s) [{runs}]; rebuild runs (s) [{rebuilds}]")
        for note in f.notes:
            print(f"{f.backend}: {note}")


def _drop_schema(base: str, schema: str) -> None:
    try:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    except psycopg.OperationalError as exc:  # e.g. the server was restarted under the run
        print(f"could not drop schema {schema} ({exc}); drop it by hand")


def main() -> None:
    """Run the benchmark and print its figures."""
    if len(sys.argv) > 1 and sys.argv[1] == "--project-child":
        _run_project_child(
            sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5] if len(sys.argv) > 5 else None
        )
        return
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=200_000, help="events in the PostgreSQL store")
    p.add_argument("--sqlite-events", type=int, help="events in the SQLite store (default: --events)")
    p.add_argument("--queries", type=int, default=200, help="timed calls per query")
    p.add_argument("--rebuilds", type=int, default=1, help="timed rebuilds of all views")
    p.add_argument("--backend", choices=("postgres", "sqlite", "both"), default="postgres")
    p.add_argument(
        "--profile",
        type=Path,
        help="cProfile the first rebuild into PROFILE.<backend>.prof, project into ...project.prof",
    )
    p.add_argument(
        "--alert-cache-facts",
        type=int,
        help=f"facts the alert engines may hold in memory (default {ENGINE_CACHE_FACTS:,})",
    )
    p.add_argument("--keep", action="store_true", help="keep the schema / SQLite file for inspection")
    args = p.parse_args()
    if args.alert_cache_facts is not None:
        os.environ[CACHE_ENV] = str(args.alert_cache_facts)
    base = os.environ.get("LEDGER_BENCH_DATABASE_URL", DEFAULT_PG)
    started = time.perf_counter()
    sizes = {"postgres": args.events, "sqlite": args.sqlite_events or args.events}
    backends = ["postgres", "sqlite"] if args.backend == "both" else [args.backend]
    sample = _sample(max(sizes[b] for b in backends))
    print(f"sample: {len(sample)} events generated in {time.perf_counter() - started:.1f}s", flush=True)

    work = Path(tempfile.mkdtemp(prefix="bench-project-"))
    key_file = work / "master.key"
    key_file.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
    key_file.chmod(0o600)  # the ledger refuses a key file open to others
    figs: list[Figures] = []
    try:
        for backend in backends:
            events = sample[: sizes[backend]]
            if backend == "sqlite":
                figs.append(_measure(backend, f"sqlite:///{work / 'ledger.db'}", events, key_file, args))
                continue
            schema = f"bench_{uuid.uuid4().hex[:10]}"
            with psycopg.connect(base, autocommit=True) as conn:
                conn.execute(f'CREATE SCHEMA "{schema}"')
            try:
                figs.append(_measure(backend, f"{base}?schema={schema}", events, key_file, args))
            finally:
                if args.keep:
                    print(f"kept PostgreSQL schema {schema}")
                else:
                    _drop_schema(base, schema)
    finally:
        if args.keep:
            print(f"kept {work} (master.key, ledger.db if SQLite ran)")
        else:
            shutil.rmtree(work, ignore_errors=True)
    _report(figs)
    print(f"\ntotal runtime {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
