"""The operations options of the command line: the operations port of `consume`, `project` and `serve`
is checked like every option, and `verify --record` keeps its outcome for the monitoring metrics."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from conftest import run_cli, sqlite_cli_env

from ledger.bootstrap import Ledger
from ledger.config import Settings
from ledger.ops import exposition_registry
from ledger.sample import generate_events


@pytest.mark.parametrize(
    ("command", "port"), [("consume", "0"), ("consume", "65536"), ("project", "-1"), ("serve", "nine")]
)
def test_a_metrics_port_outside_1_to_65535_is_refused_in_one_line(tmp_path: Path, command: str, port: str):
    done = run_cli(tmp_path, sqlite_cli_env(tmp_path), command, "--metrics-port", port, timeout=60)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"--metrics-port: must be a port from 1 to 65535, got '{port}'" in lines[0]
    assert not (tmp_path / "l.db").exists()  # refused before anything was opened


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        (
            "LEDGER_READY_MAX_LAG_SECONDS",
            "0",
            "LEDGER_READY_MAX_LAG_SECONDS must be a positive integer, got '0'",
        ),
        (
            "LEDGER_METRICS_PORT",
            "65536",
            "LEDGER_METRICS_PORT must be an integer from 0 to 65535, got '65536'",
        ),
    ],
)
def test_operations_settings_are_checked_when_a_command_starts(
    tmp_path: Path, variable: str, value: str, says: str
):
    done = run_cli(tmp_path, sqlite_cli_env(tmp_path, {variable: value}), "settings")
    assert done.returncode == 2
    assert done.stderr.strip() == f"privacy-ledger: {says}"


def _metrics(tmp_path: Path) -> dict[str, float]:
    env = sqlite_cli_env(tmp_path)
    settings = Settings.from_env(env)
    ledger = Ledger.open(
        Settings(
            database_url=f"sqlite:///{tmp_path / 'l.db'}",
            master_key_file=settings.master_key_file,
            var_dir=tmp_path / "var",
        ),
        read_only=True,
    )
    try:
        registry = exposition_registry(ledger)
        return {s.name: s.value for family in registry.collect() for s in family.samples if not s.labels}
    finally:
        ledger.close()


def test_verify_record_keeps_the_outcome_for_the_metrics_and_plain_verify_writes_nothing(tmp_path: Path):
    env = sqlite_cli_env(tmp_path)
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in generate_events(seed=31, subjects=2)))
    assert run_cli(tmp_path, env, "ingest", str(events)).returncode == 0
    assert run_cli(tmp_path, env, "verify").returncode == 0
    assert "ledger_verify_last_run_valid" not in _metrics(tmp_path)

    done = run_cli(tmp_path, env, "verify", "--record")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["valid"] is True
    first = _metrics(tmp_path)
    assert first["ledger_verify_last_run_valid"] == 1
    assert (
        first["ledger_verify_last_success_timestamp_seconds"]
        == first["ledger_verify_last_run_timestamp_seconds"]
    )

    with sqlite3.connect(tmp_path / "l.db") as db:  # an edited record
        db.execute("UPDATE ledger_chain SET event_type = 'DataErased' WHERE seq = 2")
    broken = run_cli(tmp_path, env, "verify", "--record")
    assert broken.returncode == 1
    after = _metrics(tmp_path)
    assert after["ledger_verify_last_run_valid"] == 0
    assert (
        after["ledger_verify_last_run_timestamp_seconds"] >= first["ledger_verify_last_run_timestamp_seconds"]
    )
    assert (
        after["ledger_verify_last_success_timestamp_seconds"]
        == first["ledger_verify_last_success_timestamp_seconds"]
    )
