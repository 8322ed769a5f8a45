"""Erasure (spec 5.1) reports its outcome per category, and refuses a subject the ledger never saw.

Both backends through :meth:`Ledger.erase`; the command's output and exit codes through the real CLI.
"""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import env_without_ledger_settings, run_cli

from ledger.bootstrap import Ledger, UnknownSubject
from ledger.store.messages import Message
from ledger.testing import collected, event, new_id

IBAN = ("financial_details", "iban", "GB00FICT00000000000000")


def _messages(events: list[dict[str, Any]]) -> list[Message]:
    return [Message("test", 0, i, event=e, raw=json.dumps(e).encode()) for i, e in enumerate(events)]


def _hold(subject: str, hold: str, category: str) -> dict[str, Any]:
    payload = {"hold_id": hold, "categories": [category], "reason": "litigation", "matter_ref": "M-1"}
    return event("LegalHoldPlaced", subject, payload)


def _merge(survivor: str, merged: str) -> dict[str, Any]:
    payload = {"surviving_subject_id": survivor, "merged_subject_id": merged, "reason": "duplicate_record"}
    return event("SubjectsMerged", survivor, payload)


def _event_count(ledger: Ledger) -> int:
    with ledger.store.read() as cur:
        return int(cur.execute(f"SELECT COUNT(*) AS n FROM {ledger.store.events_table}").scalar())


def test_erasure_reports_each_category_erased_deferred_or_nothing_held(ledger: Ledger):
    subject, hold = new_id(), new_id()
    result = ledger.ingest_messages(
        _messages(
            [
                collected(subject, [("contact_details", "email", "cat.outcome@example.com"), IBAN]),
                _hold(subject, hold, "financial_details"),
            ]
        )
    )
    assert result.dead_letters == []
    erased = ledger.erase(subject, ["contact_details", "financial_details", "health"])
    assert erased.dead_letters == []
    [outcome] = erased.erasures
    assert outcome.report() == {
        "subject_id": subject,
        "merged_subject_ids": [],
        "categories": {
            "contact_details": {"outcome": "erased", "key_versions": {subject: [1]}},
            "financial_details": {"outcome": "deferred", "hold_ids": [hold]},
            "health": {"outcome": "nothing_held"},
        },
    }


def test_full_erasure_of_a_merged_family_reports_every_subject_it_covered(ledger: Ledger):
    survivor, merged = new_id(), new_id()
    ledger.ingest_messages(
        _messages(
            [
                collected(survivor, [("contact_details", "email", "sur.vivor@example.com")]),
                collected(merged, [("contact_details", "email", "mer.ged@example.com"), IBAN]),
                _merge(survivor, merged),
            ]
        )
    )
    [outcome] = ledger.erase(survivor).erasures
    assert outcome.report() == {
        "subject_id": survivor,
        "merged_subject_ids": [merged],
        "categories": {
            "contact_details": {"outcome": "erased", "key_versions": {survivor: [1], merged: [1]}},
            "financial_details": {"outcome": "erased", "key_versions": {merged: [1]}},
        },
    }
    # Nothing is left to destroy: a second full erasure says so.
    [again] = ledger.erase(survivor).erasures
    assert again.report()["categories"] == {"*": {"outcome": "nothing_held"}}


def test_erasing_a_subject_the_ledger_never_saw_stores_nothing(ledger: Ledger):
    ledger.ingest_messages(
        _messages([collected(new_id(), [("contact_details", "email", "x.y@example.com")])])
    )
    before = _event_count(ledger)
    with pytest.raises(UnknownSubject):
        ledger.erase(new_id())
    assert _event_count(ledger) == before
    assert ledger.verify().valid


def test_erasing_a_subject_known_only_by_a_parked_event_is_allowed(ledger: Ledger):
    """Its parked event is already sealed under its keys: those keys are what erasure destroys."""
    subject = new_id()
    waiting = event(
        "ClarificationRequested",
        subject,
        {"request_id": new_id(), "question": "Which fictional account did you mean?"},
        occurred_at="2026-10-01T11:00:00Z",
    )
    result = ledger.ingest_messages(_messages([waiting]))
    assert (result.parked, result.dead_letters) == (1, [])
    [outcome] = ledger.erase(subject).erasures
    assert outcome.report()["categories"]["correspondence"]["outcome"] == "erased"


# -- the command ------------------------------------------------------------------------------------


def _cli(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(cwd, env_without_ledger_settings(env), *args)


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    key = tmp_path / "kek"
    key.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
    key.chmod(0o600)
    return {"LEDGER_MASTER_KEY_FILE": str(key), "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path}/l.db"}


def test_erase_command_prints_the_outcome_of_each_category(tmp_path: Path, cli_env: dict[str, str]):
    subject, merged, hold = new_id(), new_id(), new_id()
    events = [
        collected(subject, [("contact_details", "email", "cli.outcome@example.com"), IBAN]),
        collected(merged, [("postal_address", "line1", "3 Fictional Close")]),
        _merge(subject, merged),
        _hold(subject, hold, "financial_details"),
    ]
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    assert _cli(tmp_path, cli_env, "ingest", str(path)).returncode == 0
    proc = _cli(
        tmp_path,
        cli_env,
        "erase",
        subject,
        "--category",
        "contact_details",
        "--category",
        "financial_details",
        "--category",
        "postal_address",
        "--category",
        "health",
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["subject_id"] == subject and out["merged_subject_ids"] == [merged]
    assert out["categories"] == {
        "contact_details": {"outcome": "erased", "key_versions": {subject: [1]}},
        "financial_details": {"outcome": "deferred", "hold_ids": [hold]},
        "health": {"outcome": "nothing_held"},
        "postal_address": {"outcome": "erased", "key_versions": {merged: [1]}},
    }
    assert "cli.outcome" not in proc.stdout + proc.stderr


def test_erase_command_refuses_a_subject_the_ledger_never_saw(tmp_path: Path, cli_env: dict[str, str]):
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(collected(new_id(), [("contact_details", "email", "k.n@example.com")])) + "\n")
    assert _cli(tmp_path, cli_env, "ingest", str(path)).returncode == 0
    before = json.loads(_cli(tmp_path, cli_env, "verify").stdout)
    proc = _cli(tmp_path, cli_env, "erase", new_id())
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "never seen this subject" in proc.stderr and "Traceback" not in proc.stderr
    after = json.loads(_cli(tmp_path, cli_env, "verify").stdout)
    timing = ("seconds", "events_per_second")  # how long verify took differs between runs
    assert {k: v for k, v in after.items() if k not in timing} == {
        k: v for k, v in before.items() if k not in timing
    }
    assert after["valid"] is True
