"""`privacy-ledger query` filters on a small sample ledger, and `privacy-ledger settings`, as run by a user.

Closed-list filters match case-insensitively (a lower-case ``--status open`` must not read as "no open
alerts"); ``settings`` shows each setting's effective value and where it came from, never a password.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli

AS_OF = "2026-11-01T12:00:00Z"


def _run(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(cwd, env, *args)


@pytest.fixture(scope="module")
def sample_ledger(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict[str, str], Path, list[dict[str, Any]]]:
    tmp = tmp_path_factory.mktemp("sample")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env.update({"LEDGER_VAR_DIR": str(tmp / "var"), "LEDGER_DATABASE_URL": f"sqlite:///{tmp}/var/ledger.db"})
    assert _run(env, tmp, "sample", "--subjects", "30", "--out", str(tmp / "s.jsonl")).returncode == 0
    proc = _run(env, tmp, "ingest", str(tmp / "s.jsonl"))
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in (tmp / "s.jsonl").read_text().splitlines()]
    return env, tmp, events


def _query(ledger: tuple[dict[str, str], Path, Any], *args: str) -> Any:
    env, tmp, _ = ledger
    proc = _run(env, tmp, "query", *args, "--as-of", AS_OF)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_alert_filters_match_in_any_case(sample_ledger: Any):
    open_alerts = _query(sample_ledger, "alerts", "--status", "OPEN")
    assert open_alerts and {a["status"] for a in open_alerts} == {"OPEN"}
    assert _query(sample_ledger, "alerts", "--status", "open") == open_alerts
    assert _query(sample_ledger, "alerts", "--status", "Open") == open_alerts
    first = open_alerts[0]
    by_code = _query(sample_ledger, "alerts", "--code", first["code"].lower())
    assert by_code and {a["code"] for a in by_code} == {first["code"]}
    by_severity = _query(sample_ledger, "alerts", "--severity", first["severity"].upper())
    assert by_severity and {a["severity"] for a in by_severity} == {first["severity"]}


@pytest.mark.parametrize("view", ["notices", "retention"])
def test_status_filters_of_notices_and_retention_match_in_any_case(sample_ledger: Any, view: str):
    rows = _query(sample_ledger, view)
    status = rows[0]["status"]
    wanted = [r for r in rows if r["status"] == status]
    assert _query(sample_ledger, view, "--status", status.lower()) == wanted


def test_limit_keeps_the_first_rows(sample_ledger: Any):
    rows = _query(sample_ledger, "alerts")
    assert len(rows) > 2
    assert _query(sample_ledger, "alerts", "--limit", "2") == rows[:2]


def test_a_known_subject_in_upper_case_is_found(sample_ledger: Any):
    subject = sample_ledger[2][0]["subject_id"]
    answer = _query(sample_ledger, "inventory", "--subject", subject.upper(), "--reason", "data_quality")
    assert answer["known"] is True and answer["resolved_subject_id"] == subject


def test_an_unknown_subject_is_not_an_empty_list(sample_ledger: Any):
    env, tmp, _ = sample_ledger
    stranger = "00000000-0000-4000-8000-000000000000"
    proc = _run(env, tmp, "query", "requests", "--subject", stranger)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert "unknown subject 00000000-0000-4000-8000-000000000000" in proc.stderr


def test_settings_shows_effective_values_and_their_source_without_the_password(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env.update(
        {
            "LEDGER_DATABASE_URL": "postgresql://ledger:hunter2pw@db.example.com:5432/ledger?schema=audit",
            "LEDGER_BATCH_SIZE": "250",
            "LEDGER_LOG_LEVEL": "info",
        }
    )
    proc = _run(env, tmp_path, "settings")
    assert proc.returncode == 0, proc.stderr
    assert "hunter2pw" not in proc.stdout + proc.stderr
    rows = {r["env"]: r for r in json.loads(proc.stdout)}
    assert (
        rows["LEDGER_DATABASE_URL"]["value"]
        == "postgresql://ledger:***@db.example.com:5432/ledger?schema=audit"
    )
    assert rows["LEDGER_DATABASE_URL"]["source"] == "environment"
    assert (rows["LEDGER_BATCH_SIZE"]["value"], rows["LEDGER_BATCH_SIZE"]["source"]) == (250, "environment")
    assert (rows["LEDGER_LOG_LEVEL"]["value"], rows["LEDGER_LOG_LEVEL"]["source"]) == ("INFO", "environment")
    assert (rows["LEDGER_KAFKA_TOPIC"]["value"], rows["LEDGER_KAFKA_TOPIC"]["source"]) == (
        "privacy.events.v1",
        "default",
    )
    assert rows["LEDGER_MASTER_KEY_FILE"] == {
        "env": "LEDGER_MASTER_KEY_FILE",
        "value": None,
        "source": "default",
        "description": rows["LEDGER_MASTER_KEY_FILE"]["description"],
    }
    assert all(r["description"] for r in rows.values())
