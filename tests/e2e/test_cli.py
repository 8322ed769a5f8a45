"""The ``privacy-ledger`` command as a user runs it, on the embedded SQLite default."""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
from pathlib import Path
from typing import Any

from conftest import env_without_ledger_settings, run_cli

from ledger.testing import collected, event, new_id


def _run(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli(cwd, env_without_ledger_settings(env), *args)


def _json(proc: subprocess.CompletedProcess[str]) -> Any:
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def test_embedded_default_creates_a_private_dev_key_and_warns(tmp_path: Path):
    subject = new_id()
    events = tmp_path / "in.jsonl"
    events.write_text(json.dumps(collected(subject, [("name", "full", "Casey Cli")])) + "\n")
    proc = _run(tmp_path, "ingest", str(events))
    assert _json(proc) == {
        "consumed": 1,
        "stored": 1,
        "duplicates": 0,
        "rejected": 0,
        "system_events": 0,
        "parked": 0,
    }
    key = tmp_path / "var" / "master.key"
    assert key.stat().st_mode & 0o777 == 0o600
    assert "DEVELOPMENT master key" in proc.stderr
    assert (tmp_path / "var" / "ledger.db").exists()
    assert "Casey Cli" not in proc.stderr


def test_ingest_subject_erase_verify_journey(tmp_path: Path):
    key = tmp_path / "kek"
    key.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
    key.chmod(0o600)  # the ledger refuses a key file open to others
    env = {"LEDGER_MASTER_KEY_FILE": str(key), "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path}/l.db"}
    subject = new_id()
    lines = [
        event("SubjectRegistered", subject, {"roles": ["website_user"], "display_name": "Robin Cli"}),
        collected(subject, [("contact_details", "email", "robin.cli@example.com")]),
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in lines) + "\nnot json\n")
    proc = _run(tmp_path, "ingest", str(path), env=env)
    assert proc.returncode == 3, proc.stderr  # finished, but a message was dead-lettered
    summary = json.loads(proc.stdout)
    assert (summary["stored"], summary["rejected"]) == (2, 1)
    shown = _json(_run(tmp_path, "subject", subject, "--reason", "rights_request", env=env))
    assert shown[1]["payload"]["data_items"][0]["value"] == "robin.cli@example.com"
    erased = _json(_run(tmp_path, "erase", subject, env=env))
    assert erased["stored"] == 1 and erased["system_events"] == 2
    shown = _json(_run(tmp_path, "subject", subject, "--reason", "rights_request", env=env))
    assert shown[0]["payload"]["display_name"] == {"redacted": "erased", "category": "name"}
    assert "robin.cli" not in json.dumps(shown)
    report = _json(_run(tmp_path, "verify", env=env))
    assert report["valid"] is True and report["length"] == 7  # and the two reads' audit records
    letters = _json(_run(tmp_path, "dead-letters", env=env))
    assert [(d["error_code"], d["offset"]) for d in letters] == [("MALFORMED_JSON", 3)]


def test_clock_override_is_refused_without_the_test_flag(tmp_path: Path):
    path = tmp_path / "e.jsonl"
    path.write_text("")
    proc = _run(tmp_path, "ingest", str(path), "--clock", "2026-01-01T00:00:00Z")
    assert proc.returncode == 2
    assert "LEDGER_ALLOW_CLOCK_OVERRIDE" in proc.stderr
