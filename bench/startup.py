"""Start-up of the real `privacy-ledger query` on the embedded default (SQLite) against bare Python.

Builds a small SQLite ledger in a temporary folder with the real commands (`privacy-ledger sample`, then
`ingest`, then one `query` that brings the views up to date), then runs, in rotation, `--runs` times
each: `python -c pass`, `python -c "import sqlite3, json"` (the baselines, same interpreter) and the
real commands `privacy-ledger query requests --limit 10` and `privacy-ledger query alerts --limit 10`
(each a new process, wall time from spawn to exit, output discarded). Prints each one's median and
minimum, the ratio of the query's median to each baseline, and the goal check (median <= 0.25 s).

Bytecode caches are written as a normal installation has them (PYTHONDONTWRITEBYTECODE is removed
from the commands' environment and one warm-up run of each comes first). Finally one `query` runs
with `-X importtime` to list how many modules it imported and which heavy ones (kafka, psycopg,
fastapi, uvicorn, reportlab, fastavro, prometheus_client) were among them.

`--compare DIR` also runs the same queries with `python -m ledger.cli` from another copy of the code (e.g.
`git archive HEAD | tar -x -C /tmp/before`), on a ledger that code built, interleaved with this
checkout's: before and after in one run. `--source DIR` measures only that other copy.

    .venv/bin/python bench/startup.py [--runs 21] [--subjects 50] [--compare DIR | --source DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
GOAL_SECONDS = 0.25
HEAVY = (
    "kafka",
    "psycopg",
    "psycopg_pool",
    "fastapi",
    "uvicorn",
    "reportlab",
    "fastavro",
    "prometheus_client",
)


def _env(folder: Path, source: Path | None) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("LEDGER_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    env["LEDGER_DATABASE_URL"] = f"sqlite:///{folder / 'ledger.db'}"
    env["LEDGER_VAR_DIR"] = str(folder / "var")
    env["LEDGER_LOG_LEVEL"] = "WARNING"
    if source is not None:
        env["PYTHONPATH"] = str(source)
    return env


def _cli(source: Path | None) -> list[str]:
    if source is None:
        return [str(VENV_BIN / "privacy-ledger")]
    return [sys.executable, "-m", "ledger.cli"]


def _run(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()[-400:]}")
    return elapsed


def _imports(cli: list[str], env: dict[str, str], cwd: Path) -> tuple[int, list[str]]:
    """Modules a query imports (``-X importtime``) and the heavy packages among them."""
    argv = [sys.executable, "-X", "importtime", "-m", "ledger.cli", "query", "requests", "--limit", "10"]
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=True)
    names = [
        line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")
    ][1:]
    heavy = sorted({n.split(".")[0] for n in names if n.split(".")[0] in HEAVY})
    return len(names), heavy


def _build(folder: Path, source: Path | None, subjects: int) -> tuple[list[str], dict[str, str]]:
    """A sample ledger in ``folder`` made by the code of ``source`` (None: this checkout)."""
    folder.mkdir()
    env = _env(folder, source)
    cli = _cli(source)
    sample = folder / "sample.jsonl"
    _run([*cli, "sample", "--subjects", str(subjects), "--out", str(sample)], env, folder)
    _run([*cli, "ingest", str(sample)], env, folder)
    return cli, env


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=21, help="runs of each command (default %(default)s)")
    parser.add_argument("--subjects", type=int, default=50, help="sample subjects (default %(default)s)")
    parser.add_argument("--source", type=Path, help="run `python -m ledger.cli` from this copy of the code")
    parser.add_argument(
        "--compare",
        type=Path,
        metavar="DIR",
        help="also run the queries of the code in DIR (e.g. `git archive HEAD`), interleaved: before/after",
    )
    args = parser.parse_args()
    python = sys.executable
    variants: dict[str, Path | None] = {"": args.source}
    if args.compare is not None:
        variants["before: "] = args.compare
    with tempfile.TemporaryDirectory(prefix="ledger-startup-") as tmp:
        commands: dict[str, tuple[list[str], dict[str, str], Path]] = {}
        built: dict[str, tuple[list[str], dict[str, str]]] = {}
        for n, (label, source) in enumerate(variants.items()):
            folder = Path(tmp) / f"v{n}"
            cli, env = built[label] = _build(folder, source, args.subjects)
            if n == 0:
                commands["python -c pass"] = ([python, "-c", "pass"], env, folder)
                commands["python -c 'import sqlite3, json'"] = (
                    [python, "-c", "import sqlite3, json"],
                    env,
                    folder,
                )
            for view in ("requests", "alerts"):
                argv = [*cli, "query", view, "--limit", "10"]
                commands[f"{label}query {view} --limit 10"] = (argv, env, folder)
        for argv, env, folder in commands.values():  # warm-up: views caught up, bytecode cached
            _run(argv, env, folder)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for i in range(args.runs):
            names = list(commands)
            for name in names[i % len(names) :] + names[: i % len(names)]:  # rotated order
                times[name].append(_run(*commands[name]))
        imported = {
            label: _imports(cli, env, commands[f"{label}query requests --limit 10"][2])
            for label, (cli, env) in built.items()
        }
    load = os.getloadavg()[0]
    where = f"code from {args.source}" if args.source else "this checkout"
    if args.compare is not None:
        where += f", before: code from {args.compare}"
    print(f"{args.runs} runs each, {args.subjects} sample subjects, SQLite, {where}; load average {load:.1f}")
    print(f"{'command':44} {'median s':>9} {'min s':>7}")
    medians = {}
    for name, values in times.items():
        medians[name] = statistics.median(values)
        print(f"{name:44} {medians[name]:9.3f} {min(values):7.3f}")
    bare, stdlib = medians["python -c pass"], medians["python -c 'import sqlite3, json'"]
    for label in variants:
        for view in ("requests", "alerts"):
            name = f"{label}query {view} --limit 10"
            m = medians[name]
            verdict = "met" if m <= GOAL_SECONDS else "MISSED"
            print(
                f"{name}: {m:.3f} s = {m / bare:.1f}x `python -c pass`, {m / stdlib:.1f}x "
                f"`import sqlite3, json`, {m - bare:.3f} s above bare Python; "
                f"goal <= {GOAL_SECONDS} s: {verdict}"
            )
            if label:
                print(f"  after / before: {medians[name.removeprefix(label)] / m:.2f}")
        modules, heavy = imported[label]
        print(f"{label}query requests imports {modules} modules; heavy ones: {', '.join(heavy) or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
