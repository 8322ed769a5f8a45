"""Several ``privacy-ledger`` processes on one embedded SQLite ledger wait for the lock, never fail.

Real processes, started together: two ingests both complete with every event stored once, and
``verify`` and ``query`` runs during an ingest all succeed.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    key = tmp_path / "kek"
    key.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
    key.chmod(0o600)
    base = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    return {**base, "LEDGER_MASTER_KEY_FILE": str(key), "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path}/l.db"}


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "ledger.cli", *args]


def _run(cwd: Path, env: dict[str, str], *args: str) -> Any:
    proc = subprocess.run(_command(*args), cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _sample(cwd: Path, env: dict[str, str], seed: int, subjects: int) -> tuple[Path, int]:
    out = cwd / f"sample-{seed}.jsonl"
    written = _run(cwd, env, "sample", "--seed", str(seed), "--subjects", str(subjects), "--out", str(out))
    return out, int(written["written"])


def _start(cwd: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        _command(*args), cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _finish(proc: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert "database is locked" not in err
    result: dict[str, Any] = json.loads(out)
    return result


def test_two_ingests_started_together_both_complete_and_store_every_event_once(
    tmp_path: Path, env: dict[str, str]
):
    first, first_lines = _sample(tmp_path, env, 1, 60)
    second, second_lines = _sample(tmp_path, env, 2, 60)
    procs = [_start(tmp_path, env, "ingest", str(first)), _start(tmp_path, env, "ingest", str(second))]
    one, two = (_finish(p) for p in procs)
    assert (one["stored"], one["duplicates"], one["rejected"]) == (first_lines, 0, 0)
    assert (two["stored"], two["duplicates"], two["rejected"]) == (second_lines, 0, 0)
    report = _run(tmp_path, env, "verify")
    assert report["valid"] is True
    total = one["stored"] + one["system_events"] + two["stored"] + two["system_events"]
    assert report["length"] == total
    with sqlite3.connect(tmp_path / "l.db") as db:
        ids = [r[0] for r in db.execute("SELECT event_id FROM ledger_chain")]
    assert len(ids) == len(set(ids)) == total


def _has_events(db: Path) -> bool:
    if not db.exists():
        return False
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            return conn.execute("SELECT COUNT(*) FROM ledger_chain").fetchone()[0] > 0
    except sqlite3.OperationalError:
        return False  # the tables are not created yet


def test_verify_and_query_during_an_ingest_all_succeed(tmp_path: Path, env: dict[str, str]):
    big, lines = _sample(tmp_path, env, 3, 400)
    ingest = _start(tmp_path, env, "ingest", str(big))
    while ingest.poll() is None and not _has_events(tmp_path / "l.db"):
        time.sleep(0.05)
    runs = 0
    while True:
        running = ingest.poll() is None
        report = _run(tmp_path, env, "verify")
        assert report["valid"] is True
        assert isinstance(_run(tmp_path, env, "query", "requests"), list)
        runs += 1
        if not running:
            break
    result = _finish(ingest)
    assert (result["stored"], result["rejected"]) == (lines, 0)
    final = _run(tmp_path, env, "verify")
    assert final["valid"] is True and final["length"] == lines + result["system_events"]
    assert runs >= 1
