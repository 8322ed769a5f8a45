"""Operating the ledger through the real command: health (spec 6.13), parked expiry without new messages,
progress on a terminal only, DEBUG logs without values, help text for every argument, and an Article 30
record that claims only measures the software has."""

from __future__ import annotations

import argparse
import json
import os
import pty
import select
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli, sqlite_cli_env

from ledger.cli import build_parser
from ledger.codelists import load_code_lists
from ledger.domain.catalogue import iter_personal_fields
from ledger.sample import generate_events, write_jsonl
from ledger.testing import collected, event, new_id


def _run(tmp: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return run_cli(tmp, sqlite_cli_env(tmp, extra), *args)


def _json(proc: subprocess.CompletedProcess[str]) -> Any:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _on_terminal(tmp: Path, *args: str) -> tuple[int, str, str]:
    """Run the command with stderr on a pseudo-terminal; returns (exit code, stdout, terminal text)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ledger.cli", *args],
        cwd=tmp,
        env=sqlite_cli_env(tmp),
        stdout=subprocess.PIPE,
        stderr=slave,
        text=True,
    )
    os.close(slave)
    seen = b""
    while True:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the terminal closed: the process ended
                break
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    out, _ = proc.communicate(timeout=300)
    os.close(master)
    return proc.returncode, out, seen.decode()


def _parked_event(at: str = "2026-10-01T10:00:00Z") -> dict[str, Any]:
    return event(
        "IdentityVerificationRequested",
        new_id(),
        {"request_id": new_id(), "kind": "identity"},
        occurred_at=at,
    )


def _write(path: Path, events: list[dict[str, Any]], extra_lines: tuple[str, ...] = ()) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events) + "".join(f"{x}\n" for x in extra_lines))
    return path


# -- health (spec 6.13) ---------------------------------------------------------------------------------


def test_health_prints_the_spec_counters_open_dead_letters_parked_and_projection_lag(tmp_path: Path):
    subject = new_id()
    source = _write(
        tmp_path / "in.jsonl",
        [collected(subject, [("name", "full", "Harper Health")]), _parked_event()],
        ("not json",),
    )
    assert _run(tmp_path, "ingest", str(source)).returncode == 3  # finished with a dead letter
    proc = _run(tmp_path, "health")
    report = _json(proc)
    assert report["counters"] == {
        "consumed": 3,
        "stored_producer_events": 1,
        "duplicates": 0,
        "dead_lettered": 1,
        "parked": 1,
        "system_events": 0,
    }
    assert report["conserved"] is True
    assert report["dead_letters_open"] == {"count": 1, "by_code": {"MALFORMED_JSON": 1}}
    assert report["parked"]["count"] == 1 and report["parked"]["oldest_age_seconds"] >= 0
    # The embedded default brings the views up to date after every ingest.
    assert report["projection_lag"] == dict.fromkeys(
        ["requests", "complaints", "alerts", "disclosures", "ropa", "notices", "retention", "reads"], 0
    )
    assert "Harper Health" not in proc.stdout + proc.stderr


def test_health_reports_projection_lag_of_views_never_projected(backend: dict[str, Any], tmp_path: Path):
    env = {"LEDGER_DATABASE_URL": backend["url"]}
    source = _write(tmp_path / "in.jsonl", [collected(new_id(), [("name", "full", "Lee Lag")])])
    assert _run(tmp_path, "ingest", str(source), **env).returncode == 0
    lag = _json(_run(tmp_path, "health", **env))["projection_lag"]
    # PostgreSQL deployments run `project` as a service: until it runs, every view lags by every event.
    expected = 0 if backend["name"] == "sqlite" else 1
    assert set(lag.values()) == {expected}


# -- parked expiry without new messages (spec 3.5 point 4) --------------------------------------------------


def test_ingest_of_an_empty_file_expires_parked_events_past_the_grace(tmp_path: Path):
    clock = {"LEDGER_ALLOW_CLOCK_OVERRIDE": "1"}
    parked = _parked_event()
    _write(tmp_path / "in.jsonl", [parked])
    empty = _write(tmp_path / "empty.jsonl", [])
    first = _json(_run(tmp_path, "ingest", "in.jsonl", "--clock", "2026-10-01T12:00:00Z", **clock))
    assert first["parked"] == 1
    same_day = _json(_run(tmp_path, "ingest", str(empty), "--clock", "2026-10-02T11:00:00Z", **clock))
    assert (same_day["rejected"], same_day["parked"]) == (0, 0)
    expiring = _run(tmp_path, "ingest", str(empty), "--clock", "2026-10-02T12:00:01Z", **clock)
    assert expiring.returncode == 3, expiring.stderr  # finished, and a message was dead-lettered
    later = json.loads(expiring.stdout)
    assert (later["consumed"], later["rejected"], later["parked"]) == (0, 1, -1)
    letters = _json(_run(tmp_path, "dead-letters"))
    assert [(d["event_id"], d["error_code"]) for d in letters] == [(parked["event_id"], "UNKNOWN_REFERENCE")]


def test_a_project_pass_expires_parked_events_past_the_grace(tmp_path: Path):
    grace = {"LEDGER_PARK_GRACE_SECONDS": "0"}  # past the grace as soon as the next pass looks
    parked = _parked_event()
    _write(tmp_path / "in.jsonl", [parked])
    assert _json(_run(tmp_path, "ingest", "in.jsonl", **grace))["parked"] == 1
    assert _json(_run(tmp_path, "project", "--once", **grace))["applied"] == 0
    health = _json(_run(tmp_path, "health"))
    assert health["parked"]["count"] == 0
    assert health["dead_letters_open"] == {"count": 1, "by_code": {"UNKNOWN_REFERENCE": 1}}


# -- progress on a terminal only ----------------------------------------------------------------------------


@pytest.fixture
def sample_file(tmp_path: Path) -> Path:
    path = tmp_path / "sample.jsonl"
    write_jsonl(path, generate_events(seed=3, subjects=40))
    return path


def test_long_commands_show_progress_on_a_terminal(tmp_path: Path, sample_file: Path):
    lines = sum(1 for _ in sample_file.open())
    code, out, shown = _on_terminal(tmp_path, "ingest", str(sample_file))
    assert code == 0 and json.loads(out)["consumed"] == lines
    assert f"ingest: {lines:,} events (" in shown and "\r" in shown
    assert "views: " in shown
    code, out, shown = _on_terminal(tmp_path, "verify")
    length = json.loads(out)["length"]
    assert code == 0 and f"verify: {length:,} of {length:,} events (" in shown
    code, out, shown = _on_terminal(tmp_path, "project", "--rebuild", "all")
    assert code == 0 and f"project --rebuild all: {length:,} of {length:,} events (" in shown


def test_long_commands_print_no_progress_when_stderr_is_not_a_terminal(tmp_path: Path, sample_file: Path):
    for args in (("ingest", str(sample_file)), ("verify",), ("project", "--rebuild", "all")):
        proc = _run(tmp_path, *args)
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr == "", f"{args[0]} wrote to a non-terminal stderr: {proc.stderr[:200]!r}"


# -- DEBUG logging -----------------------------------------------------------------------------------------


def _personal_strings(events: list[dict[str, Any]]) -> set[str]:
    """Every string leaf (6+ characters) of every personal field of the events."""
    found: set[str] = set()

    def leaves(node: Any) -> None:
        if isinstance(node, str) and len(node) >= 6:
            found.add(node)
        elif isinstance(node, dict):
            for value in node.values():
                leaves(value)
        elif isinstance(node, list):
            for value in node:
                leaves(value)

    for e in events:
        for path, _ in iter_personal_fields(e["event_type"], e["payload"]):
            node: Any = e["payload"]
            for step in path:
                node = node[step]
            leaves(node)
    return found


def test_debug_log_describes_batches_and_commands_and_never_a_value(tmp_path: Path):
    events = generate_events(seed=5, subjects=30)
    source = tmp_path / "sample.jsonl"
    write_jsonl(source, events)
    values = _personal_strings(events)
    assert any("@example.com" in v for v in values) and len(values) > 100
    proc = _run(tmp_path, "ingest", str(source), LEDGER_LOG_LEVEL="DEBUG", LEDGER_BATCH_SIZE="100")
    assert proc.returncode == 0, proc.stderr
    log = proc.stderr
    assert "command ingest started" in log and "command ingest finished: exit 0" in log
    batches = [line for line in log.splitlines() if "ledger.store.ingest: batch of " in line]
    assert len(batches) == -(-len(events) // 100)
    assert all(" ms " in line and "stored " in line for line in batches)
    assert "projections.runner: applied seq 1-" in log
    leaked = sorted(v for v in values if v in log)
    assert leaked == [], f"personal values in the DEBUG log: {leaked[:3]}"
    assert "example.com" not in log


# -- help ----------------------------------------------------------------------------------------------------


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_every_argument_of_every_command_has_help_text():
    parser = build_parser()
    commands = _subparsers(parser)
    assert {"ingest", "erase", "verify", "health", "query", "project", "consume", "publish"} <= set(commands)
    missing = [
        f"{name} {action.dest}"
        for name, sub in [("privacy-ledger", parser), *commands.items()]
        for action in sub._actions
        if not isinstance(action, argparse._HelpAction) and not (action.help or "").strip()
    ]
    assert missing == []


def test_closed_lists_are_shown_in_help(tmp_path: Path):
    codes = load_code_lists()
    erase = _run(tmp_path, "erase", "--help").stdout
    assert all(c in erase for c in codes.codes("category")), "erase --help must list the categories"
    assert all(r in erase for r in codes.codes("erasure_reason"))
    query = _run(tmp_path, "query", "--help").stdout
    for word in ("RETRACTED", "SATISFIED_LATE", "RETAIN", "NO_VALID_CONSENT", "critical", "portability"):
        assert word in query, f"query --help must list {word}"
    assert "ropa" in _run(tmp_path, "project", "--help").stdout
    assert "exit 0" in _run(tmp_path, "health", "--help").stdout.lower().replace("\n", " ")
