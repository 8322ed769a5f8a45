"""`privacy-ledger verify`: from the checkpoint the last `verify --record` verified; `--full`: all."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from conftest import run_cli, sqlite_cli_env

from ledger.sample import generate_events


def _ingest(tmp: Path, env: dict[str, str], name: str, seed: int, subjects: int) -> None:
    events = tmp / name
    events.write_text("".join(json.dumps(e) + "\n" for e in generate_events(seed=seed, subjects=subjects)))
    done = run_cli(tmp, env, "ingest", str(events))
    assert done.returncode == 0, done.stderr


def _verify(tmp: Path, env: dict[str, str], *args: str, code: int = 0) -> dict[str, Any]:
    done = run_cli(tmp, env, "verify", *args)
    assert done.returncode == code, done.stdout + done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def test_verify_starts_from_the_checkpoint_verify_record_kept_and_full_checks_everything(tmp_path: Path):
    env = sqlite_cli_env(tmp_path)
    _ingest(tmp_path, env, "a.jsonl", seed=5, subjects=3)
    checkpoint = json.loads(run_cli(tmp_path, env, "checkpoint").stdout)["size"]
    first = _verify(tmp_path, env)
    assert first["mode"] == "full" and "no verified checkpoint recorded yet" in first["checked"][0]
    recorded = _verify(tmp_path, env, "--record")
    assert recorded["verified_checkpoint"] == checkpoint
    _ingest(tmp_path, env, "b.jsonl", seed=6, subjects=2)

    report = _verify(tmp_path, env)
    assert (report["valid"], report["mode"], report["anchor"]["size"]) == (True, "incremental", checkpoint)
    assert report["events_checked"] == report["length"] - checkpoint > 0
    assert report["events_per_second"] > 0 and report["seconds"] > 0
    full = _verify(tmp_path, env, "--full")
    assert (full["mode"], full["events_checked"]) == ("full", full["length"])

    with sqlite3.connect(tmp_path / "l.db") as db:  # record 2's stored event edited, nothing else
        rowid, state = db.execute(
            "SELECT e.rowid, e.state FROM stored_events e JOIN ledger_chain c ON c.notification_id = e.rowid "
            "WHERE c.seq = 2"
        ).fetchone()
        stored = json.loads(state)
        stored["record"]["occurred_at"] = "2020-01-01T00:00:00Z"
        db.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (json.dumps(stored).encode(), rowid))
    # Before the last verified checkpoint: not re-hashed by default (and the report says so) ...
    unseen = _verify(tmp_path, env)
    assert unseen["valid"] is True and any("not re-hashed" in line for line in unseen["not_checked"])
    # ... caught by --full.
    caught = _verify(tmp_path, env, "--full", code=1)
    assert "chain: first invalid seq 2" in caught["problems"]
