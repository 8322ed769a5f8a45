"""Costs against ledger size: a PostgreSQL ledger grown to 1M sample events, figures at each size.

It builds a fresh PostgreSQL ledger (a new schema in the local ``ledger_test`` database) from fictional
sample events (``ledger.sample``; one generated population of about 3,500 subjects after another, each
with its own seed, so the ledger grows by subjects) through the full append path (``ingest_messages``,
batches of 1000), plus one fictional subject with 100 events (``bench/export.py``'s ``subject_events``)
spread through the first slice. At every size (``--sizes``, default 50k, 100k, 250k, 500k, 1M sample
events) it prints:

* ``ingest``: events/s of the last ``--slice`` events appended before that size (goal: the rate at 1M
  within 10% of the rate at 100k), and the CPU the appending process spent per event (PostgreSQL's not
  in it): on a shared machine the rate follows the load, the CPU per event less so;
* ``project``: the views brought up to date by the real ``privacy-ledger project --once`` (a child
  process reporting its own peak RSS, ``VmHWM``: not ``ru_maxrss``, which holds the forking bench's
  size), events applied per second of its wall time (start-up included) and the ratio to the ingest
  rate (goal 2: >= 1.5x), peak RSS (goal <= 500 MB) and its CPU per event;
* first pages, in-process through the public paths, median of ``--queries`` calls after one warm-up:
  the request queue, the open alerts and the disclosures register (first page of 50 rows, by
  ``bench/pages.py``'s ``first_page_timings`` when that exists, else ``Projections.page`` or
  ``Projections.query_page``), a random subject's
  inventory (``query("inventory", subject=...)``, a new random subject each call) and the export of the
  100-event subject (``build_export(..., record_disclosure=False)``, median of ``--runs``) with the time
  of the chain verification its footer carries (``ledger.verify()``, timed inside the same calls). No
  more calls of one figure are timed once it has used ``--budget`` seconds (at least one is);
* the size of the schema's tables (all indexes and TOAST included) and bytes per stored event.

At the end each figure at the largest size is set against the first size and 100k (or the second
size), with the ratio and the goal (first pages within 1.5x of 50k).

    .venv/bin/python bench/scale.py [--events 1000000] [--sizes 50000,100000,250000,500000,1000000]
                                    [--slice 50000] [--queries 20] [--runs 3] [--budget 30]
                                    [--keep] [--reuse DIR]

About 20 minutes for 1M on the 2-core development machine (load 3-7); not in CI. PostgreSQL comes from
LEDGER_BENCH_DATABASE_URL (default: the local ledger_test database); the schema is dropped at the end
unless ``--keep`` (which also keeps the folder with the master key and prints the ``--reuse DIR`` that
measures once more, at the size reached, without building). Develop with
``--events 60000 --sizes 20000,60000``. The machine is shared: load averages are printed at each size.
"""

from __future__ import annotations

import argparse
import base64
import importlib.util
import inspect
import itertools
import json
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import psycopg
from eventsourcing import persistence
from export import subject_events  # bench/export.py: a fixed subject's events

from ledger.bootstrap import Ledger
from ledger.config import Settings
from ledger.export.bundle import build_export
from ledger.sample import generate_events
from ledger.store.database import DatabaseUnavailableError
from ledger.store.messages import Message
from projections.service import Projections

DEFAULT_PG = "postgresql://ledger:ledger-local-only@127.0.0.1:5432/ledger_test"
DEFAULT_SIZES = "50000,100000,250000,500000,1000000"
LOAD_BATCH = 1000
PAGE = 50
POPULATION = 3500  # subjects per generated population (about 53k events)
EXPORT_EVENTS = 100
SEED = 1000
PAGES = ("requests", "alerts", "disclosures")
T = TypeVar("T")


@dataclass
class AtSize:
    """The figures measured when the ledger reached one size."""

    size: int
    log: int = 0
    ingest_events: int = 0
    ingest_s: float = 0.0
    ingest_cpu_s: float = 0.0  # CPU of the appending process (the ledger's Python; PostgreSQL not in it)
    project_events: int = 0
    project_s: float = 0.0
    project_cpu_s: float = 0.0  # CPU of the ``project`` process
    project_rss_mb: float = 0.0
    ms: dict[str, float] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    verify_ms: float = 0.0
    table_mb: float = 0.0
    tables: list[tuple[str, float]] = field(default_factory=list)
    load: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def ingest_rate(self) -> float:
        return self.ingest_events / self.ingest_s if self.ingest_s else 0.0

    @property
    def ingest_us(self) -> float:
        return self.ingest_cpu_s / self.ingest_events * 1e6 if self.ingest_events else 0.0

    @property
    def project_us(self) -> float:
        return self.project_cpu_s / self.project_events * 1e6 if self.project_events else 0.0

    @property
    def project_rate(self) -> float:
        return self.project_events / self.project_s if self.project_s else 0.0


@dataclass
class Build:
    """The ledger being grown: where it is, and what a later ``--reuse`` needs to know."""

    base: str
    schema: str
    work: Path
    events: int = 0  # sample events appended
    offset: int = 0  # next message offset
    export_subject: str = ""
    subjects: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"{self.base}?schema={self.schema}"

    @property
    def key_file(self) -> Path:
        return self.work / "master.key"

    def settings(self) -> Settings:
        return Settings(
            database_url=self.url,
            master_key_file=self.key_file,
            var_dir=self.work / "var",  # its checkpoint signing key, not the repository's
            batch_size=LOAD_BATCH,
        )

    def save(self) -> None:
        saved = {k: v for k, v in asdict(self).items() if k not in ("base", "work")}
        (self.work / "bench.json").write_text(json.dumps(saved))


def _populations() -> Iterator[dict[str, Any]]:
    """Sample events, one generated population after another (each sorted by occurred_at)."""
    for k in itertools.count():
        yield from generate_events(seed=SEED + k, subjects=POPULATION)


def _stops(sizes: list[int], slice_: int) -> list[int]:
    """Where one ``ingest_messages`` call ends: every size, and ``slice_`` events before each."""
    stops = set(sizes)
    previous = 0
    for size in sizes:
        stops.add(max(previous, size - slice_))
        previous = size
    return sorted(s for s in stops if s > 0)


class Outage(RuntimeError):
    """PostgreSQL went away under a step (other work on the machine restarts it): wait, do it again."""


# What a server restart or a terminated connection raises on the bench's side.
_GONE = (
    psycopg.OperationalError,
    persistence.OperationalError,
    persistence.InterfaceError,
    DatabaseUnavailableError,
    Outage,
)
_GONE_IN_LOG = ("OperationalError", "DatabaseUnavailable", "InterfaceError", "terminating connection")


def _wait_for_postgres(base: str, limit_s: float = 900.0) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            with psycopg.connect(base, connect_timeout=5) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.OperationalError:
            time.sleep(3)
    raise SystemExit(f"PostgreSQL did not come back within {limit_s:.0f}s")


def _again(build: Build, what: str, call: Callable[[], T], notes: list[str] | None = None) -> T:
    """``call()``; if PostgreSQL went away under it, wait until it answers and call again (up to 5 times)."""
    for attempt in range(1, 6):
        try:
            return call()
        except _GONE as exc:
            note = f"PostgreSQL went away during {what} ({type(exc).__name__}); done again after it came back"
            print(f"   {note} (attempt {attempt})", flush=True)
            if notes is not None:
                notes.append(note)
            _wait_for_postgres(build.base)
    return call()


def _ingest(ledger: Ledger, build: Build, events: list[dict[str, Any]]) -> tuple[float, float]:
    """Append ``events``; the seconds it took (from the first try: an outage counts in it) and the CPU
    seconds this process used meanwhile.

    Appending a slice again after an outage is safe: the events stored before it are duplicates (same
    event ids, same content) and are counted as such.
    """
    messages = [Message("bench", 0, build.offset + i, event=e) for i, e in enumerate(events)]
    started, cpu = time.perf_counter(), time.process_time()
    result = _again(build, "an append", lambda: ledger.ingest_messages(messages))
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if result.stored + result.duplicates != len(events) or result.dead_letters:
        raise SystemExit(f"ledger stored {result.stored} of {len(events)}: not a fair run")
    build.offset += len(events)
    build.events += len(events)
    build.subjects.extend(str(e["subject_id"]) for e in events if e["event_type"] == "SubjectRegistered")
    return elapsed, cpu


# `privacy-ledger project --once`, writing its own peak RSS (VmHWM, KiB) to argv[1] as it exits. Not the
# child's ``ru_maxrss``: Linux carries the forking parent's resident size into it (this bench holds
# hundreds of MB by 1M events), so it would report the bench's memory, not project's.
_PEAK_REPORTING_PROJECT = """
import atexit, runpy, sys
peak_file = sys.argv[1]
def _report_peak():
    with open("/proc/self/status") as status:
        kib = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    with open(peak_file, "w") as out:
        out.write(str(kib))
atexit.register(_report_peak)
sys.argv = ["privacy-ledger", "project", "--once"]
runpy.run_module("ledger.cli", run_name="__main__")
"""


def _project(build: Build) -> tuple[int, float, float, float]:
    """``privacy-ledger project --once`` as a child process: (events applied, seconds, peak RSS MB, CPU
    seconds)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env.update(
        {
            "LEDGER_DATABASE_URL": build.url,
            "LEDGER_MASTER_KEY_FILE": str(build.key_file),
            "LEDGER_VAR_DIR": str(build.work / "var"),
        }
    )
    out = build.work / "project.out"
    peak_file = build.work / "project.peak_kib"
    with out.open("w") as stdout, (build.work / "project.log").open("a") as stderr:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", _PEAK_REPORTING_PROJECT, str(peak_file)],
            env=env,
            stdout=stdout,
            stderr=stderr,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = (build.work / "project.log").read_text().splitlines()[-5:]
        if any(marker in line for line in tail for marker in _GONE_IN_LOG):
            raise Outage(f"project --once ended with exit {proc.returncode}")
        raise SystemExit(f"project --once ended with exit {proc.returncode}:\n" + "\n".join(tail))
    applied = int(json.loads(out.read_text())["applied"])
    return applied, elapsed, int(peak_file.read_text()) / 1024, usage.ru_utime + usage.ru_stime


def _median_ms(
    call: Callable[[], Any], k: int, budget: float, warm_up: Callable[[], Any] | None = None
) -> tuple[float, Any, int]:
    """Median milliseconds of up to ``k`` calls after one uncounted warm-up call (or ``warm_up``), no
    more calls once ``budget`` seconds are spent (at least one; none if the warm-up call alone took the
    budget: then its own time); the last answer and the number of calls timed."""
    started = time.perf_counter()
    answer = call() if warm_up is None else warm_up()
    spent = time.perf_counter() - started if warm_up is None else 0.0
    if spent >= budget:
        return spent * 1000, answer, 0
    times: list[float] = []
    while len(times) < k and (not times or spent < budget):
        started = time.perf_counter()
        answer = call()
        times.append(time.perf_counter() - started)
        spent += times[-1]
    return statistics.median(times) * 1000, answer, len(times)


def _pages_module() -> Any | None:
    """``bench/pages.py`` (the pagination bench) if it exists and offers ``first_page_timings``."""
    path = Path(__file__).with_name("pages.py")
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location("bench_pages", path)
    if spec is None or spec.loader is None:
        return None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module if hasattr(module, "first_page_timings") else None


def _first_page(projections: Projections, name: str, as_of: Any) -> Callable[[], list[Any]]:
    """The first page of a list view through ``Projections.page`` (keyset pages), else ``query_page``."""
    filters: dict[str, Any] = {"status": "OPEN"} if name == "alerts" else {}
    read = getattr(projections, "page", None) or projections.query_page
    if "offset" in inspect.signature(read).parameters:
        filters["offset"] = 0

    def call() -> list[Any]:
        answer = read(name, as_of=as_of, limit=PAGE, **filters)
        rows = answer[0] if isinstance(answer, tuple) else getattr(answer, "rows", answer)
        return list(rows)

    return call


def _measure(ledger: Ledger, build: Build, fig: AtSize, args: argparse.Namespace, rng: random.Random) -> None:
    """Query, export, verify and table-size figures at the current size (views already current)."""
    projections = Projections(ledger.store, ledger.keys, ledger.codes)
    as_of = ledger.clock()
    pages = _pages_module()
    if pages is not None:
        timings = pages.first_page_timings(
            projections, as_of=as_of, names=PAGES, runs=args.queries, limit=PAGE
        )
        for name in PAGES:
            fig.ms[name] = float(timings[name])
    else:
        for name in PAGES:
            call = _first_page(projections, name, as_of)
            fig.ms[name], rows, _ = _median_ms(call, args.queries, args.budget)
            fig.rows[name] = len(rows)

    def inventory() -> Any:
        return projections.query("inventory", as_of=as_of, subject=rng.choice(build.subjects))

    fig.ms["inventory"], _, _ = _median_ms(inventory, args.queries, args.budget)

    def export() -> Any:
        return build_export(ledger, "subject", build.export_subject, record_disclosure=False)

    # The chain verification the export's footer carries, timed inside the same calls.
    verify_s: list[float] = []
    verify = ledger.verify

    def timed_verify(**kwargs: Any) -> Any:
        started = time.perf_counter()
        report = verify(**kwargs)
        verify_s.append(time.perf_counter() - started)
        return report

    setattr(ledger, "verify", timed_verify)  # noqa: B010 (mypy: no assigning to a method)
    try:
        # Warm-up: what the first export after the log grew does more (views caught up, a checkpoint
        # signed), not a whole export: its chain verification alone takes minutes at 1M events.
        def warm_up() -> Any:
            projections.catch_up()
            return ledger.checkpoint()

        fig.ms["export"], doc, timed = _median_ms(export, args.runs, args.budget, warm_up)
    finally:
        delattr(ledger, "verify")
    fig.verify_ms = statistics.median(verify_s[-timed:] if timed else verify_s) * 1000 if verify_s else 0.0
    fig.rows["export"] = len(doc["entries"])
    fig.ms["export_rest"] = max(0.0, fig.ms["export"] - fig.verify_ms)
    fig.log = ledger.head_seq()
    with psycopg.connect(build.base) as conn:
        rows = conn.execute(
            "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relkind IN ('r', 'p') "
            "ORDER BY 2 DESC",
            (build.schema,),
        ).fetchall()
    fig.tables = [(str(name), int(size) / 2**20) for name, size in rows]
    fig.table_mb = sum(mb for _, mb in fig.tables)
    fig.load = " ".join(f"{x:.1f}" for x in os.getloadavg())


def _show(fig: AtSize) -> None:
    ms = fig.ms
    pages = ", ".join(f"{n} {ms[n]:.1f} ms" for n in PAGES)
    top = ", ".join(f"{name} {mb:,.0f}" for name, mb in fig.tables[:4])
    print(
        f"== {fig.size:,} sample events (log {fig.log:,}; load average {fig.load})\n"
        f"   ingest   {fig.ingest_rate:,.0f} ev/s over the last {fig.ingest_events:,} events "
        f"({fig.ingest_s:.1f}s; {fig.ingest_us:,.0f} core-us/event in the appending process)\n"
        f"   project  {fig.project_rate:,.0f} ev/s: {fig.project_events:,} events in {fig.project_s:.1f}s "
        f"(project / ingest {fig.project_rate / max(1.0, fig.ingest_rate):.2f}x), "
        f"peak RSS {fig.project_rss_mb:,.0f} MB, {fig.project_us:,.0f} core-us/event\n"
        f"   first pages ({PAGE} rows) {pages}; inventory {ms['inventory']:.1f} ms; "
        f"export of {fig.rows.get('export', 0)} entries {ms['export']:,.0f} ms "
        f"(of which its chain verification {fig.verify_ms:,.0f} ms)\n"
        f"   tables {fig.table_mb:,.0f} MB "
        f"({fig.table_mb * 2**20 / max(1, fig.log):,.0f} B/event; MB: {top})"
        + "".join(f"\n   note: {note}" for note in fig.notes),
        flush=True,
    )


def _summary(figs: list[AtSize]) -> None:
    if len(figs) < 2:
        return
    first, last = figs[0], figs[-1]
    mid = next((f for f in figs if f.size == 100_000), figs[1])
    print(f"\nat {last.size:,} against {first.size:,} and {mid.size:,} sample events")
    head = (
        f"{'figure':<28} {first.size:>10,} {mid.size:>10,} {last.size:>10,} "
        f"{'/first':>7} {'/' + format(mid.size, ','):>9}  goal"
    )
    print(head)

    def row(name: str, values: list[float], fmt: str, goal: str, met: bool | None) -> None:
        a, b, c = values
        verdict = "" if met is None else ("  met" if met else "  MISSED")
        print(
            f"{name:<28} {a:>10{fmt}} {b:>10{fmt}} {c:>10{fmt}} {c / a if a else 0:>7.2f} "
            f"{c / b if b else 0:>9.2f}  {goal}{verdict}"
        )

    trio = (first, mid, last)
    ingest = [f.ingest_rate for f in trio]
    row(
        "ingest ev/s (last slice)",
        ingest,
        ",.0f",
        f"at {last.size:,} >= 0.9x {mid.size:,}",
        ingest[2] >= 0.9 * ingest[1],
    )
    for name in (*PAGES, "inventory", "export"):
        values = [f.ms[name] for f in trio]
        label = {"requests": "request queue", "alerts": "open alerts", "disclosures": "disclosures"}.get(
            name, name
        )
        label = f"{label} first page ms" if name in PAGES else f"{label} ms"
        row(label, values, ",.1f", f"<= 1.5x {first.size:,}", values[2] <= 1.5 * values[0])
    row("  of which verify ms", [f.verify_ms for f in trio], ",.1f", "full chain: grows with the log", None)
    rest = [f.ms["export_rest"] for f in trio]
    row("  export less verify ms", rest, ",.1f", f"<= 1.5x {first.size:,}", rest[2] <= 1.5 * rest[0])
    proj = [f.project_rate for f in trio]
    row("project ev/s", proj, ",.0f", ">= 1.5x ingest", proj[2] >= 1.5 * ingest[2])
    row("ingest core-us/event", [f.ingest_us for f in trio], ",.0f", "flat", None)
    row("project core-us/event", [f.project_us for f in trio], ",.0f", "flat", None)
    rss = [f.project_rss_mb for f in trio]
    row("project peak RSS MB", rss, ",.0f", "<= 500 MB", max(f.project_rss_mb for f in figs) <= 500)
    row("tables MB", [f.table_mb for f in trio], ",.0f", "linear", None)
    per = [f.table_mb * 2**20 / max(1, f.log) for f in trio]
    row("bytes per event", per, ",.0f", "flat", None)


def _grow(build: Build, sizes: list[int], args: argparse.Namespace, figs: list[AtSize]) -> None:
    """Append up to the largest size; at every size project, measure and print (into ``figs``)."""
    stream = _populations()
    stops = _stops(sizes, args.slice)
    rng = random.Random(42)
    build.export_subject = str(uuid.uuid4())
    mine = subject_events(build.export_subject, EXPORT_EVENTS)
    build.save()
    ledger = Ledger.open(build.settings())
    try:
        previous = 0
        for stop in stops:
            want = stop - previous
            events = list(itertools.islice(stream, want - len(mine)))
            if mine:  # the exported subject's events spread through the first slice
                step = max(1, len(events) // len(mine))
                for i, e in enumerate(mine):
                    events.insert(i * (step + 1), e)
                mine = []
            seconds, cpu = _ingest(ledger, build, events)
            build.save()
            previous = stop
            print(
                f"appended {stop:,} ({len(events) / seconds:,.0f} ev/s over the last {len(events):,})",
                flush=True,
            )
            if stop not in sizes:
                continue
            fig = AtSize(stop, ingest_events=len(events), ingest_s=seconds, ingest_cpu_s=cpu)
            started = time.perf_counter()
            fig.project_events, _, fig.project_rss_mb, fig.project_cpu_s = _again(
                build, "project", lambda: _project(build), fig.notes
            )
            fig.project_s = time.perf_counter() - started  # an interrupted first try counts in it
            _again(build, "the queries", partial(_measure, ledger, build, fig, args, rng), fig.notes)
            figs.append(fig)
            _show(fig)
    finally:
        ledger.close()


def _drop_schema(base: str, schema: str) -> None:
    try:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    except psycopg.OperationalError as exc:
        print(f"could not drop schema {schema} ({exc}); drop it by hand")


def main() -> None:
    """Grow the ledger, print the figures at every size and the summary."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=1_000_000, help="sample events in the end")
    p.add_argument("--sizes", default=DEFAULT_SIZES, help="comma-separated sizes to measure at (<= --events)")
    p.add_argument("--slice", type=int, default=50_000, help="events of the ingest rate quoted at each size")
    p.add_argument("--queries", type=int, default=20, help="timed calls per first page and inventory")
    p.add_argument("--runs", type=int, default=3, help="timed exports per size")
    p.add_argument(
        "--budget", type=float, default=30.0, help="seconds per figure after which no more calls are timed"
    )
    p.add_argument("--keep", action="store_true", help="keep the schema and folder for --reuse")
    p.add_argument("--reuse", type=Path, metavar="DIR", help="measure once more on a ledger --keep left")
    args = p.parse_args()
    base = os.environ.get("LEDGER_BENCH_DATABASE_URL", DEFAULT_PG)
    started = time.perf_counter()
    if args.reuse:
        saved = json.loads((args.reuse / "bench.json").read_text())
        build = Build(base, work=args.reuse, **saved)
        print(f"reusing schema {build.schema} ({build.events:,} sample events) from {args.reuse}", flush=True)
        ledger = Ledger.open(build.settings())
        try:
            fig = AtSize(build.events)
            fig.project_events, fig.project_s, fig.project_rss_mb, fig.project_cpu_s = _project(build)
            _measure(ledger, build, fig, args, random.Random(42))
            _show(fig)
        finally:
            ledger.close()
        return
    sizes = sorted({int(s) for s in args.sizes.split(",") if int(s) <= args.events} | {args.events})
    build = Build(base, f"bench_{uuid.uuid4().hex[:10]}", Path(tempfile.mkdtemp(prefix="bench-scale-")))
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{build.schema}"')
    build.key_file.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
    build.key_file.chmod(0o600)  # the ledger refuses a key file open to others
    print(
        f"schema {build.schema}; sizes {', '.join(f'{s:,}' for s in sizes)}; {os.cpu_count()} cores",
        flush=True,
    )
    figs: list[AtSize] = []
    try:
        _grow(build, sizes, args, figs)
    finally:
        _summary(figs)  # of the sizes reached, also when a later one failed
        if args.keep:
            print(f"kept schema {build.schema} and {build.work}: measure again with --reuse {build.work}")
        else:
            _drop_schema(base, build.schema)
            shutil.rmtree(build.work, ignore_errors=True)
    print(f"\ntotal runtime {time.perf_counter() - started:.0f}s")


if __name__ == "__main__":
    main()
