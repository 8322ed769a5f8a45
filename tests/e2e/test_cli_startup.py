"""Start-up: a command imports only what it needs (no Kafka, PostgreSQL, web, PDF or Avro code for a
query of the embedded SQLite ledger), and the parser it builds for that is the full parser's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli, sqlite_cli_env

from ledger.cli import build_parser

# Packages a query of the SQLite ledger has no use for (the Kafka client, the PostgreSQL driver and
# pool, the web server, PDF and Avro), and the metrics client only long-running services expose.
_NOT_NEEDED = (
    "kafka",
    "psycopg",
    "psycopg_pool",
    "fastapi",
    "starlette",
    "uvicorn",
    "reportlab",
    "fastavro",
    "prometheus_client",
)

_DISPATCH = """
import json, sys
from ledger.cli import main
code = main(sys.argv[1:])
loaded = sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(sys.stdin.read())))
print(json.dumps({"exit": code, "loaded": loaded}), file=sys.stderr)
"""


@pytest.fixture(scope="module")
def sample_ledger(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A SQLite ledger of fictional sample events, made with the real commands."""
    tmp = tmp_path_factory.mktemp("startup")
    env = sqlite_cli_env(tmp)
    sample = tmp / "sample.jsonl"
    made = run_cli(tmp, env, "sample", "--subjects", "5", "--out", str(sample))
    assert made.returncode == 0, made.stderr
    ingested = run_cli(tmp, env, "ingest", str(sample))
    assert ingested.returncode == 0, ingested.stderr
    return tmp, env


def _dispatch(cwd: Path, env: dict[str, str], *args: str) -> dict[str, Any]:
    """Run ``ledger.cli.main(ARGS)`` in a new interpreter; its exit code and the packages it loaded."""
    proc = subprocess.run(
        [sys.executable, "-c", _DISPATCH, *args],
        cwd=cwd,
        env=env,
        input=json.dumps(_NOT_NEEDED),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stderr.strip().splitlines()[-1])
    return result


@pytest.mark.parametrize(
    "args",
    [
        ("query", "requests", "--limit", "5"),
        ("query", "alerts", "--status", "OPEN"),
        ("query", "ropa"),
    ],
)
def test_a_query_of_the_embedded_ledger_imports_no_kafka_postgres_web_pdf_or_avro_code(
    sample_ledger: tuple[Path, dict[str, str]], args: tuple[str, ...]
) -> None:
    tmp, env = sample_ledger
    assert _dispatch(tmp, env, *args) == {"exit": 0, "loaded": []}


def test_a_read_only_query_imports_no_kafka_postgres_web_pdf_or_avro_code(
    sample_ledger: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    tmp, env = sample_ledger
    # A read-only folder: the views are read as they are (the other path of `query`).
    db = tmp / "l.db"
    db.chmod(0o444)
    tmp.chmod(0o555)
    try:
        assert _dispatch(tmp_path, env, "query", "requests") == {"exit": 0, "loaded": []}
    finally:
        tmp.chmod(0o755)
        db.chmod(0o644)


def _options(parser: Any) -> dict[str, Any]:
    """Each subcommand's options and positionals (nested subcommands too), for comparing parsers."""
    out: dict[str, Any] = {}
    for action in parser._actions:
        if action.choices and isinstance(action.choices, dict):
            out.update({name: _options(sub) for name, sub in action.choices.items()})
        else:
            out[",".join(action.option_strings) or action.dest] = (action.nargs, str(action.choices))
    return out


def test_the_parser_built_for_one_command_is_the_full_parser_for_that_command() -> None:
    full = _options(build_parser())
    for command in full:
        if command in {"help", "command"}:
            continue
        assert _options(build_parser(command))[command] == full[command], command
    # An unknown command gets the full parser, so the usage error lists every command.
    assert set(_options(build_parser("no-such-command"))) == set(full)
