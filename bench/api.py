"""The staff API under 32 concurrent clients against a raw SQL primary-key select, in the same run.

It builds a PostgreSQL ledger from ``--events`` fictional sample events (``ledger.sample``, batches of
1000 through the full ledger append path), brings every view up to date (``Projections.catch_up``, what
``privacy-ledger project --once`` runs), adds a viewer user and an API token (``ledger.web.identity``, what
``privacy-ledger users add`` / ``tokens create`` run), then starts the real ``privacy-ledger serve`` as a
subprocess on a free loopback port (``--servers 2`` starts two, the clients split between them: ``serve``
has no worker option, one process is one event loop plus its thread pool). The master key and the
serve logs live in a temporary folder.

Each phase runs ``--clients`` closed-loop clients (threads; one keep-alive ``httpx.Client`` or one
autocommit ``psycopg`` connection each, opened before the timing) for ``--seconds``:

* ``raw``: ``SELECT state FROM <events table> WHERE originator_id = %s AND originator_version = %s`` for
  random stored events (the table's primary key): the floor of one round trip to the same database;
* ``inventory``: ``GET /api/v1/subjects/{id}/inventory`` (the redacted inventory, role viewer) for random
  sample subjects;
* ``queue``: ``GET /api/v1/requests``, the first page of the rights-request queue (the service computes
  the whole queue at the instant and cuts the page).

A warm-up phase of each comes first (not counted), then one client alone for each (the unloaded latency,
printed for reference), then ``--rounds`` rounds of the three phases, in a rotated order each round. It
prints every phase and, per endpoint, the median over the rounds of requests/s, p50 and p99 (ms, the
whole request as the client sees it), the errors (anything but 200, counted by status, must be 0) and the
CPU the serve processes used per request; then the ratios inventory p99 / raw p99 and queue p99 / raw p99
against the goal (at most 10x).

The machine is noisy: compare the figures of one run with each other (ratios), not across runs.

    .venv/bin/python bench/api.py [--events 20000] [--clients 32] [--seconds 5] [--rounds 3]
                                  [--servers 1] [--pool-size N] [--keep] [--reuse DIR]

Run it from the repository root. PostgreSQL comes from LEDGER_BENCH_DATABASE_URL (default: the local
ledger_test database started by deploy/local/postgres.sh); the ledger goes into a fresh schema, dropped
at the end unless ``--keep``, which keeps the schema and the folder (master key, ``bench.json``) and prints
the ``--reuse DIR`` that runs again on the same ledger without building it. ``--pool-size`` sets
LEDGER_PG_POOL_SIZE for serve (default: the setting's default).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from ledger.bootstrap import Ledger
from ledger.config import Settings
from ledger.sample import generate_events
from ledger.store.messages import Message
from ledger.web.identity import Directory
from ledger.web.roles import Role
from projections.service import Projections

DEFAULT_PG = "postgresql://ledger:ledger-local-only@127.0.0.1:5432/ledger_test"
LOAD_BATCH = 1000
SEED = 42
USER = "bench-viewer"
RAW_KEYS = 5000  # stored events the raw select picks from
WARMUP_SECONDS = 2.0
SOLO_SECONDS = 2.0
GOAL = 10.0  # inventory p99 within 10x of the raw select's p99
ENDPOINTS = ("raw", "inventory", "queue")
LABELS = {
    "raw": "raw SQL primary-key select",
    "inventory": "GET /api/v1/subjects/{id}/inventory",
    "queue": "GET /api/v1/requests (first page)",
}


@dataclass
class Ledgerdb:
    """Where the bench ledger is: its database URL (with schema), folder and sample subjects."""

    base: str
    schema: str
    work: Path
    subjects: list[str]
    events: int

    @property
    def url(self) -> str:
        return f"{self.base}?schema={self.schema}"

    @property
    def key_file(self) -> Path:
        return self.work / "master.key"


@dataclass
class Phase:
    """What one phase measured: latencies (ms) of the 200 answers, statuses of the others."""

    endpoint: str
    clients: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    server_cpu_s: float = 0.0  # CPU the serve processes used during the phase
    client_cpu_s: float = 0.0  # CPU this process (the clients) used
    machine_busy: float = 0.0  # share of all the machine's cores busy (anyone's work)

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def p(self, q: float) -> float:
        return _percentile(self.latencies, q) if self.latencies else float("nan")

    def line(self) -> str:
        cpu = f"; CPU: clients {self.client_cpu_s / self.seconds:.0%} of a core"
        if self.latencies and self.endpoint != "raw":
            cpu += (
                f", serve {self.server_cpu_s / self.seconds:.0%} of a core "
                f"({self.server_cpu_s * 1000 / len(self.latencies):.2f} ms/req)"
            )
        cpu += f", machine {self.machine_busy:.0%} busy"
        errors = ", ".join(f"{k}: {v}" for k, v in sorted(self.errors.items())) or "0"
        return (
            f"{self.endpoint:<9} {self.clients:>2} clients {self.seconds:4.1f}s: "
            f"{len(self.latencies):>6} ok, "
            f"{self.rate:>7,.0f} req/s, p50 {self.p(50):7.2f} ms, p99 {self.p(99):7.2f} ms, "
            f"errors {errors}{cpu}"
        )


def _percentile(xs: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(xs)
    rank = max(1, min(len(ordered), int(-(-p * len(ordered) // 100))))
    return ordered[rank - 1]


def _sample(n: int) -> list[dict[str, Any]]:
    """At least ``n`` sample events (about 15 per subject), cut to the first ``n`` by occurred_at."""
    subjects = n // 14 + 20
    while True:
        events = generate_events(seed=11, subjects=subjects)
        if len(events) >= n:
            return events[:n]
        subjects = int(subjects * 1.2) + 1


def _build(db: Ledgerdb, n: int) -> None:
    """Fill the fresh schema with ``n`` sample events and bring every view up to date."""
    started = time.perf_counter()
    events = _sample(n)
    with psycopg.connect(db.base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{db.schema}"')
    db.subjects = sorted({str(e["subject_id"]) for e in events if e.get("subject_id")})
    db.key_file.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
    db.key_file.chmod(0o600)  # the ledger refuses a key file open to others
    ledger = Ledger.open(Settings(database_url=db.url, master_key_file=db.key_file, batch_size=LOAD_BATCH))
    try:
        result = ledger.ingest_messages([Message("bench", 0, i, event=e) for i, e in enumerate(events)])
        if result.stored != len(events):
            raise SystemExit(f"ledger stored {result.stored} of {len(events)}: not a fair run")
        db.events = result.stored + result.system_events
        loaded = time.perf_counter()
        print(
            f"loaded {db.events} events ({len(db.subjects)} subjects) into schema {db.schema} "
            f"in {loaded - started:.1f}s",
            flush=True,
        )
        Projections(ledger.store, ledger.keys, ledger.codes).catch_up()
        print(f"views brought up to date in {time.perf_counter() - loaded:.1f}s", flush=True)
    finally:
        ledger.close()
    (db.work / "bench.json").write_text(
        json.dumps({"schema": db.schema, "events": db.events, "subjects": db.subjects}, indent=1)
    )


def _reuse(base: str, work: Path) -> Ledgerdb:
    saved = json.loads((work / "bench.json").read_text())
    return Ledgerdb(base, saved["schema"], work, saved["subjects"], saved["events"])


def _prepare(db: Ledgerdb) -> tuple[str, list[tuple[str, int]], str, int]:
    """Views current, a fresh viewer token; (token, raw keys, events table, open queue length)."""
    ledger = Ledger.open(Settings(database_url=db.url, master_key_file=db.key_file))
    try:
        projections = Projections(ledger.store, ledger.keys, ledger.codes)
        projections.catch_up()  # a no-op on a ledger just built
        queue = len(projections.query("requests", as_of=ledger.clock()))
        directory = Directory(ledger.store, ledger.clock, token_max_days=1)
        directory.ensure_tables()
        if USER not in {u.username for u in directory.list_users()}:
            directory.add_user(USER, Role.VIEWER)
        token, _ = directory.create_token(USER, days=1)
        table = ledger.store.events_table
        with ledger.store.read() as cur:
            rows = cur.execute(
                f"SELECT originator_id, originator_version FROM {table} ORDER BY random() LIMIT {RAW_KEYS}"
            ).all()
        keys = [(str(r["originator_id"]), int(r["originator_version"])) for r in rows]
    finally:
        ledger.close()
    return token, keys, table, queue


def _machine_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all cores since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """One ``privacy-ledger serve`` subprocess on a free loopback port."""

    def __init__(self, db: Ledgerdb, index: int, pool_size: int | None) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = db.work / f"serve-{index}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
        env.update(
            {
                "LEDGER_DATABASE_URL": db.url,
                "LEDGER_MASTER_KEY_FILE": str(db.key_file),
                "LEDGER_VAR_DIR": str(db.work / "var"),
                "LEDGER_WEB_ALLOW_HTTP": "1",
            }
        )
        if pool_size is not None:
            env["LEDGER_PG_POOL_SIZE"] = str(pool_size)
        with self.log.open("w") as log:  # a file, not a pipe nobody reads while the bench runs
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ledger.cli", "serve", "--port", str(self.port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"serve stopped (exit {self.proc.returncode}):\n{self.log.read_text()}")
            try:
                with urllib.request.urlopen(f"{self.base}/livez", timeout=5) as answer:
                    if answer.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                time.sleep(0.2)
        raise SystemExit("serve did not answer /livez within 60 s")

    def cpu_seconds(self) -> float:
        """User + system CPU the process has used so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.returncode != 0:
            print(f"serve on port {self.port} ended with exit {self.proc.returncode}; see {self.log}")


@dataclass
class Client:
    """One client's keep-alive HTTP connection (to one serve) and database connection."""

    http: httpx.Client
    sql: psycopg.Connection[Any]
    rng: random.Random


class Bench:
    """The clients and what they ask for."""

    def __init__(
        self, db: Ledgerdb, servers: list[Server], token: str, keys: list[tuple[str, int]], table: str, n: int
    ) -> None:
        self.db, self.servers, self.keys, self.n = db, servers, keys, n
        self.raw_sql = f"SELECT state FROM {table} WHERE originator_id = %s AND originator_version = %s"
        headers = {"Authorization": f"Bearer {token}"}
        self.clients = [
            Client(
                httpx.Client(base_url=servers[i % len(servers)].base, headers=headers, timeout=60),
                psycopg.connect(db.base, autocommit=True),
                random.Random(SEED + i),
            )
            for i in range(n)
        ]

    def close(self) -> None:
        for c in self.clients:
            c.http.close()
            c.sql.close()

    def _call(self, endpoint: str, client: Client) -> Callable[[], str]:
        """The request one client makes, as a function returning its status ("200" when fine)."""
        if endpoint == "raw":
            keys, sql = self.keys, self.raw_sql

            def raw() -> str:
                row = client.sql.execute(sql, client.rng.choice(keys)).fetchone()
                return "200" if row is not None else "no row"

            return raw
        path = "/api/v1/requests" if endpoint == "queue" else "/api/v1/subjects/{}/inventory"
        subjects = self.db.subjects

        def http() -> str:
            url = path.format(client.rng.choice(subjects)) if endpoint == "inventory" else path
            return str(client.http.get(url).status_code)

        return http

    def phase(self, endpoint: str, seconds: float, clients: int | None = None) -> Phase:
        """``clients`` (default all) closed-loop clients asking ``endpoint`` for ``seconds``."""
        used = self.clients[: clients or self.n]
        calls = [self._call(endpoint, c) for c in used]
        results: list[tuple[list[float], Counter[str]]] = [([], Counter()) for _ in used]
        gate = threading.Barrier(len(used) + 1)
        deadline = [0.0]

        def run(i: int) -> None:
            call, (times, errors) = calls[i], results[i]
            gate.wait()
            while True:
                started = time.perf_counter()
                if started >= deadline[0]:
                    return
                try:
                    status = call()
                except Exception as exc:  # counted, never fatal: the run reports it
                    status = type(exc).__name__
                if status == "200":
                    times.append((time.perf_counter() - started) * 1000)
                else:
                    errors[status] += 1

        threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(used))]
        for t in threads:
            t.start()
        cpu, mine, machine = sum(s.cpu_seconds() for s in self.servers), time.process_time(), _machine_ticks()
        started = time.perf_counter()
        deadline[0] = started + seconds
        gate.wait()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        out = Phase(endpoint, len(used), elapsed)
        out.server_cpu_s = sum(s.cpu_seconds() for s in self.servers) - cpu
        out.client_cpu_s = time.process_time() - mine
        busy, total = (now - before for now, before in zip(_machine_ticks(), machine, strict=True))
        out.machine_busy = busy / max(1, total)
        for times, errors in results:
            out.latencies.extend(times)
            out.errors.update(errors)
        return out


def _report(rounds: list[dict[str, Phase]], solo: dict[str, Phase], args: argparse.Namespace) -> bool:
    """Print the summary; True when every phase had no error."""
    print()
    print(
        f"median of {len(rounds)} rounds, {args.clients} clients, {args.seconds:g}s per phase, "
        f"{args.servers} serve process(es)"
    )
    head = (
        f"{'endpoint':<38} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} "
        f"{'serve CPU ms/req':>17} {'1 client p50':>13}"
    )
    print(head)
    med: dict[str, dict[str, float]] = {}
    clean = True
    for endpoint in ENDPOINTS:
        phases = [r[endpoint] for r in rounds]
        errors = sum(sum(p.errors.values()) for p in phases) + sum(solo[endpoint].errors.values())
        clean = clean and errors == 0
        med[endpoint] = {
            "rate": statistics.median(p.rate for p in phases),
            "p50": statistics.median(p.p(50) for p in phases),
            "p99": statistics.median(p.p(99) for p in phases),
        }
        cpu = (
            "-"
            if endpoint == "raw"
            else f"{statistics.median(p.server_cpu_s * 1000 / max(1, len(p.latencies)) for p in phases):.2f}"
        )
        m = med[endpoint]
        print(
            f"{LABELS[endpoint]:<38} {m['rate']:>8,.0f} {m['p50']:>8.2f} {m['p99']:>8.2f} {errors:>7} "
            f"{cpu:>17} {solo[endpoint].p(50):>10.2f} ms"
        )
    print()
    raw = med["raw"]["p99"]
    for endpoint in ("inventory", "queue"):
        ratio = med[endpoint]["p99"] / raw
        verdict = "met" if ratio <= GOAL else "MISSED"
        goal = f"goal <= {GOAL:g}x: {verdict}" if endpoint == "inventory" else f"(inventory's goal {GOAL:g}x)"
        print(f"{endpoint} p99 / raw p99 = {med[endpoint]['p99']:.2f} / {raw:.2f} ms = {ratio:.1f}x  {goal}")
        for name, per_round in (
            ("p99 ratio", [r[endpoint].p(99) / r["raw"].p(99) for r in rounds]),
            ("req/s ratio", [r[endpoint].rate / r["raw"].rate for r in rounds]),
        ):
            print(f"  {endpoint} {name} by round: " + ", ".join(f"{x:.3g}" for x in per_round))
    if not clean:
        print("ERRORS: some requests did not answer 200 (counted above by status): not a fair run")
    return clean


def _drop_schema(base: str, schema: str) -> None:
    try:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    except psycopg.OperationalError as exc:  # e.g. the server was restarted under the run
        print(f"could not drop schema {schema} ({exc}); drop it by hand")


def _measure(db: Ledgerdb, args: argparse.Namespace) -> bool:
    token, keys, table, queue = _prepare(db)
    print(
        f"ledger: {db.events} events, {len(db.subjects)} subjects, open request queue of {queue} rows; "
        f"raw select over {len(keys)} random stored events of {table}",
        flush=True,
    )
    servers = [Server(db, i, args.pool_size) for i in range(args.servers)]
    bench = None
    try:
        for s in servers:
            s.wait_until_up()
        pool = f"LEDGER_PG_POOL_SIZE={args.pool_size}" if args.pool_size else "LEDGER_PG_POOL_SIZE default"
        ports = ", ".join(str(s.port) for s in servers)
        print(f"serve up on 127.0.0.1:{ports} (pid {', '.join(str(s.proc.pid) for s in servers)}; {pool})")
        bench = Bench(db, servers, token, keys, table, args.clients)
        for endpoint in ENDPOINTS:
            warm = bench.phase(endpoint, WARMUP_SECONDS)
            print(f"warm-up   {warm.line()}", flush=True)
        solo = {endpoint: bench.phase(endpoint, SOLO_SECONDS, clients=1) for endpoint in ENDPOINTS}
        for phase in solo.values():
            print(f"1 client  {phase.line()}", flush=True)
        rounds: list[dict[str, Phase]] = []
        for r in range(args.rounds):
            order = ENDPOINTS[r % 3 :] + ENDPOINTS[: r % 3]  # rotated: drift hits every endpoint alike
            done = {endpoint: bench.phase(endpoint, args.seconds) for endpoint in order}
            for endpoint in order:
                print(f"round {r + 1}   {done[endpoint].line()}", flush=True)
            rounds.append(done)
    finally:
        if bench is not None:
            bench.close()
        for s in servers:
            s.stop()
    return _report(rounds, solo, args)


def main() -> None:
    """Run the benchmark and print its figures."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=20_000, help="sample events in the ledger built")
    p.add_argument("--clients", type=int, default=32, help="concurrent clients")
    p.add_argument("--seconds", type=float, default=5.0, help="timed seconds per phase")
    p.add_argument("--rounds", type=int, default=3, help="rounds of the three phases (medians reported)")
    p.add_argument("--servers", type=int, default=1, help="serve processes (the clients split between them)")
    p.add_argument("--pool-size", type=int, help="LEDGER_PG_POOL_SIZE for serve (default: its default)")
    p.add_argument("--keep", action="store_true", help="keep the schema and the folder for --reuse")
    p.add_argument("--reuse", type=Path, metavar="DIR", help="run on the ledger a --keep run left in DIR")
    args = p.parse_args()
    base = os.environ.get("LEDGER_BENCH_DATABASE_URL", DEFAULT_PG)
    started = time.perf_counter()
    if args.reuse:
        db = _reuse(base, args.reuse)
        print(f"reusing schema {db.schema} from {args.reuse}", flush=True)
    else:
        work = Path(tempfile.mkdtemp(prefix="bench-api-"))
        db = Ledgerdb(base, f"bench_{uuid.uuid4().hex[:10]}", work, [], 0)
    clean = False
    try:
        if not args.reuse:
            _build(db, args.events)
        clean = _measure(db, args)
    finally:
        if args.keep or args.reuse:
            print(f"kept schema {db.schema} and {db.work}: run again with --reuse {db.work}")
        else:
            _drop_schema(base, db.schema)  # also after a failed build
            shutil.rmtree(db.work, ignore_errors=True)
    print(f"\ntotal runtime {time.perf_counter() - started:.0f}s")
    if not clean:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
