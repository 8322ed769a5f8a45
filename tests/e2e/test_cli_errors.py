"""User mistakes through the real ``privacy-ledger`` command: exit 2, one line on stderr, never a traceback.

Also the exit codes that are not usage errors: a closed pipe (exit 1, silent), an unknown subject
(exit 1), and that a bad file among several commits nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_cli, sqlite_cli_env

from ledger.testing import collected, new_id

PASSWORD = "secretpw"  # of the unreachable PostgreSQL below: never shown
UNREACHABLE_PG = f"postgresql://ledger:{PASSWORD}@127.0.0.1:1/x"


def _run(tmp: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return run_cli(tmp, sqlite_cli_env(tmp, extra), *args, timeout=120)


CLOCK = {"LEDGER_ALLOW_CLOCK_OVERRIDE": "1"}

# (id, arguments, extra environment, what the one line must say). "GOOD" is replaced by a valid
# JSON-lines file, "DIR" by a folder.
MISTAKES: list[tuple[str, tuple[str, ...], dict[str, str], str]] = [
    # input files, checked before anything is opened or committed
    ("missing file", ("ingest", "GOOD", "missing.jsonl"), {}, "input file missing.jsonl does not exist"),
    ("folder as file", ("ingest", "DIR"), {}, "is a directory"),
    ("device as file", ("ingest", "/dev/null"), {}, "is not a regular file"),
    ("publish missing file", ("publish", "missing.jsonl"), {}, "input file missing.jsonl does not exist"),
    # --clock and --as-of
    ("clock yesterday", ("ingest", "GOOD", "--clock", "yesterday"), CLOCK, "--clock must be an RFC 3339"),
    ("clock month 13", ("ingest", "GOOD", "--clock", "2026-13-01T00:00:00Z"), CLOCK, "--clock must be"),
    ("clock no offset", ("ingest", "GOOD", "--clock", "2026-11-01T12:00:00"), CLOCK, "explicit offset"),
    ("clock year 1", ("ingest", "GOOD", "--clock", "0001-01-01T00:00:00Z"), CLOCK, "between 1900-01-01"),
    ("clock 9999 offset", ("ingest", "GOOD", "--clock", "9999-12-31T23:59:59-01:00"), CLOCK, "--clock must"),
    ("clock not allowed", ("ingest", "GOOD", "--clock", "2026-11-01T12:00:00Z"), {}, "ALLOW_CLOCK_OVERRIDE"),
    ("as-of yesterday", ("query", "alerts", "--as-of", "yesterday"), {}, "--as-of must be an RFC 3339"),
    ("as-of month 13", ("query", "requests", "--as-of", "2026-13-01T00:00:00Z"), {}, "--as-of must be"),
    ("as-of year 1", ("query", "alerts", "--as-of", "0001-01-01T00:00:00Z"), {}, "between 1900-01-01"),
    ("as-of 9999 offset", ("query", "ropa", "--as-of", "9999-12-31T23:59:59-01:00"), {}, "--as-of must"),
    # settings
    ("batch size abc", ("verify",), {"LEDGER_BATCH_SIZE": "abc"}, "LEDGER_BATCH_SIZE must be a positive"),
    ("batch size 0", ("ingest", "GOOD"), {"LEDGER_BATCH_SIZE": "0"}, "LEDGER_BATCH_SIZE must be a positive"),
    ("log level", ("verify",), {"LEDGER_LOG_LEVEL": "LOUD"}, "LEDGER_LOG_LEVEL must be one of DEBUG, INFO"),
    ("clock flag", ("verify",), {"LEDGER_ALLOW_CLOCK_OVERRIDE": "maybe"}, "LEDGER_ALLOW_CLOCK_OVERRIDE must"),
    ("metrics port", ("settings",), {"LEDGER_METRICS_PORT": "70000"}, "LEDGER_METRICS_PORT must be"),
    ("park grace", ("verify",), {"LEDGER_PARK_GRACE_SECONDS": "-1"}, "LEDGER_PARK_GRACE_SECONDS must be"),
    # an unreachable PostgreSQL: where, but never the password
    ("pg down verify", ("verify",), {"LEDGER_DATABASE_URL": UNREACHABLE_PG}, "PostgreSQL at 127.0.0.1:1"),
    (
        "pg down ingest",
        ("ingest", "GOOD"),
        {"LEDGER_DATABASE_URL": UNREACHABLE_PG},
        "PostgreSQL at 127.0.0.1:1",
    ),
    (
        "pg down query",
        ("query", "alerts"),
        {"LEDGER_DATABASE_URL": UNREACHABLE_PG},
        "PostgreSQL at 127.0.0.1:1",
    ),
    # sample
    ("sample 0 subjects", ("sample", "--subjects", "0"), {}, "--subjects: must be a positive integer"),
    ("sample negative", ("sample", "--subjects", "-3"), {}, "--subjects: must be a positive integer"),
    ("sample seed", ("sample", "--seed", "seven"), {}, "--seed: invalid int value"),
    ("sample out", ("sample", "--out", "/dev/null/x.jsonl"), {}, "cannot write --out /dev/null/x.jsonl"),
    # query filters and options
    (
        "status open typo",
        ("query", "alerts", "--status", "opn"),
        {},
        "OPEN, ACKNOWLEDGED, RESOLVED, RETRACTED",
    ),
    ("unknown code", ("query", "alerts", "--code", "NOPE"), {}, "NO_VALID_CONSENT"),
    (
        "unknown severity",
        ("query", "alerts", "--severity", "urgent"),
        {},
        "critical, high, medium, low, info",
    ),
    ("notice status", ("query", "notices", "--status", "OPEN"), {}, "EXEMPT, SATISFIED, SATISFIED_LATE"),
    ("retention status", ("query", "retention", "--status", "OPEN"), {}, "ERASED, HELD, DEFERRED, DUE"),
    ("option not taken", ("query", "ropa", "--status", "OPEN"), {}, "query ropa does not take --status"),
    ("code on requests", ("query", "requests", "--code", "X"), {}, "it takes: --as-of, --subject"),
    ("subject on ropa", ("query", "ropa", "--subject", new_id()), {}, "query ropa does not take --subject"),
    ("limit 0", ("query", "alerts", "--limit", "0"), {}, "--limit: must be a positive integer"),
    ("limit negative", ("query", "alerts", "--limit", "-5"), {}, "--limit: must be a positive integer"),
    ("limit on inventory", ("query", "inventory", "--subject", new_id(), "--limit", "3"), {}, "--limit"),
    (
        "subject not an id",
        ("query", "inventory", "--subject", "someone@example.com"),
        {},
        "must be a subject id",
    ),
    ("dead letters limit", ("dead-letters", "--limit", "0"), {}, "--limit: must be a positive integer"),
    ("consume batch size", ("consume", "--batch-size", "0"), {}, "--batch-size: must be a positive integer"),
    # argparse itself
    ("unknown command", ("bogus",), {}, "invalid choice: 'bogus'"),
    ("no command", (), {}, "the following arguments are required: command"),
    ("unknown view", ("query", "everything"), {}, "invalid choice: 'everything'"),
    # a read-only command where there is no ledger; master key problems
    (
        "no ledger",
        ("verify",),
        {"LEDGER_DATABASE_URL": "sqlite:///nowhere/ledger.db"},
        "there is no ledger at",
    ),
    ("no key file", ("ingest", "GOOD"), {"LEDGER_MASTER_KEY_FILE": "absent.key"}, "master key file"),
]


@pytest.fixture(scope="module")
def good_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("input") / "good.jsonl"
    path.write_text(json.dumps(collected(new_id(), [("name", "full", "Erin Error")])) + "\n")
    return path


@pytest.mark.parametrize(("args", "extra", "says"), [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES])
def test_a_user_mistake_exits_2_with_one_line_and_no_traceback(
    tmp_path: Path, good_file: Path, args: tuple[str, ...], extra: dict[str, str], says: str
):
    (tmp_path / "folder").mkdir()
    argv = [str(good_file) if a == "GOOD" else str(tmp_path / "folder") if a == "DIR" else a for a in args]
    proc = _run(tmp_path, *argv, **extra)
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert says in lines[0]
    assert proc.stdout == ""
    assert PASSWORD not in proc.stderr
    assert "Erin Error" not in proc.stderr


def test_ingest_of_a_good_and_a_missing_file_stores_nothing(tmp_path: Path, good_file: Path):
    proc = _run(tmp_path, "ingest", str(good_file), "missing.jsonl")
    assert proc.returncode == 2
    assert not (tmp_path / "l.db").exists()  # checked before the ledger was even opened
    assert _run(tmp_path, "ingest", str(good_file)).returncode == 0
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps(collected(new_id(), [("name", "full", "Ola Other")])) + "\n")
    assert _run(tmp_path, "ingest", str(other), str(tmp_path)).returncode == 2
    report = json.loads(_run(tmp_path, "verify").stdout)
    assert report["length"] == 1  # the good file of the failed run was not appended


@pytest.mark.parametrize("command", [("settings",), ("verify",), ("query", "alerts")])
def test_a_closed_pipe_ends_the_command_quietly_with_exit_1(
    tmp_path: Path, good_file: Path, command: tuple[str, ...]
):
    assert _run(tmp_path, "ingest", str(good_file)).returncode == 0
    proc = subprocess.Popen(
        [sys.executable, "-m", "ledger.cli", *command],
        cwd=tmp_path,
        env=sqlite_cli_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    proc.stdout.close()  # as `| head -c1` does once it has read enough; here before anything is written
    _, err = proc.communicate(timeout=120)
    assert "Traceback" not in err and "BrokenPipeError" not in err
    assert err == ""
    assert proc.returncode == 1


def test_unknown_subject_is_reported_and_exits_1(tmp_path: Path, good_file: Path):
    assert _run(tmp_path, "ingest", str(good_file)).returncode == 0
    stranger = new_id()
    for view in ("alerts", "requests", "inventory", "consent"):
        reason = ("--reason", "rights_request") if view == "inventory" else ()
        proc = _run(tmp_path, "query", view, "--subject", stranger, *reason)
        assert proc.returncode == 1, proc.stderr
        assert (
            proc.stderr.strip()
            == f"privacy-ledger: unknown subject {stranger}: the ledger holds no event for it"
        )
        assert proc.stdout == ""
