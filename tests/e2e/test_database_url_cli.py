"""``LEDGER_DATABASE_URL`` as a user sets it: a relative SQLite URL, and an in-memory one refused."""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
from pathlib import Path

from conftest import env_without_ledger_settings, run_cli

from ledger.testing import collected, new_id


def _run(cwd: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    key = cwd / "kek"
    if not key.exists():
        key.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
        key.chmod(0o600)
    env = env_without_ledger_settings({"LEDGER_MASTER_KEY_FILE": str(key), "LEDGER_DATABASE_URL": url})
    return run_cli(cwd, env, *args)


def test_a_relative_sqlite_url_puts_the_database_in_the_working_directory(tmp_path: Path):
    events = tmp_path / "in.jsonl"
    events.write_text(
        json.dumps(collected(new_id(), [("contact_details", "email", "rel.path@example.com")])) + "\n"
    )
    relative = f"rel-{new_id()[:8]}"
    proc = _run(tmp_path, f"sqlite:///{relative}/ledger.db", "ingest", str(events))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / relative / "ledger.db").exists()
    assert not Path("/", relative).exists()


def test_an_in_memory_sqlite_url_is_a_configuration_error(tmp_path: Path):
    for url in ("sqlite:///:memory:", "sqlite://"):
        proc = _run(tmp_path, url, "verify")
        assert proc.returncode == 2, (url, proc.stderr)
        assert proc.stderr.startswith("privacy-ledger: ") and "in-memory" in proc.stderr
        assert "Traceback" not in proc.stderr and proc.stdout == ""
