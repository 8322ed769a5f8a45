"""Parked events expire past their grace (spec 3.5 point 4) even when no new message arrives: on every
``ingest`` (an empty file too) and every ``project`` pass, on both backends."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from conftest import Clock

from ledger.bootstrap import Ledger
from ledger.errors import ErrorCode, EventRejected
from ledger.store.messages import Message
from ledger.testing import event, new_id
from projections.service import Projections


def _park_one(ledger: Ledger) -> str:
    """Park an event that refers to a request never received; returns its event id."""
    waiting = event(
        "IdentityVerificationRequested",
        new_id(),
        {"request_id": new_id(), "kind": "identity"},
        occurred_at="2026-10-01T10:00:00Z",
    )
    result = ledger.ingest_messages([Message("test", 0, 0, event=waiting, raw=json.dumps(waiting).encode())])
    assert result.parked == 1
    return str(waiting["event_id"])


def _open_dead_letters(ledger: Ledger) -> list[tuple[Any, Any]]:
    return [(d["event_id"], d["error_code"]) for d in ledger.dead_letters() if d["status"] == "OPEN"]


def _writes(ledger: Ledger) -> int:
    with ledger.store.read() as cur:
        return int(cur.execute("SELECT v FROM {t:ledger_meta} WHERE k = 'writer'").scalar())


def test_ingest_of_an_empty_file_expires_parked_events_past_the_grace(
    ledger: Ledger, clock: Clock, tmp_path: Path
):
    parked = _park_one(ledger)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    clock.now += timedelta(hours=23)
    assert ledger.ingest_files([empty]).dead_lettered == 0
    clock.now += timedelta(hours=2)
    result = ledger.ingest_files([empty])
    assert (result.consumed, result.dead_lettered, result.parked) == (0, 1, -1)
    assert _open_dead_letters(ledger) == [(parked, "UNKNOWN_REFERENCE")]
    assert ledger.health()["parked"] == {"count": 0, "oldest_age_seconds": None}


def test_a_project_pass_expires_parked_events_past_the_grace(ledger: Ledger, clock: Clock):
    parked = _park_one(ledger)
    projections = Projections(ledger.store, ledger.keys, ledger.codes, maintenance=ledger.expire_due)
    projections.catch_up()
    assert _open_dead_letters(ledger) == []
    clock.now += timedelta(hours=25)
    projections.catch_up()  # nothing new to apply: the pass still expires
    assert _open_dead_letters(ledger) == [(parked, "UNKNOWN_REFERENCE")]


def test_expiry_with_nothing_due_is_a_read_and_writes_nothing(ledger: Ledger, clock: Clock):
    _park_one(ledger)
    before = _writes(ledger)
    clock.now += timedelta(hours=1)
    assert ledger.expire_due().dead_lettered == 0
    assert _writes(ledger) == before
    clock.now += timedelta(hours=24)
    assert ledger.expire_due().dead_lettered == 1
    assert _writes(ledger) == before + 1


def test_health_reports_spec_counters_open_dead_letters_and_the_oldest_parked_age(
    ledger: Ledger, clock: Clock
):
    _park_one(ledger)
    bad = Message("test", 0, 1, error=EventRejected(ErrorCode.MALFORMED_JSON, "", "not JSON"), raw=b"{")
    ledger.ingest_messages([bad])
    clock.now += timedelta(seconds=90)
    health = ledger.health()
    assert health == {
        "counters": {
            "consumed": 2,
            "stored_producer_events": 0,
            "duplicates": 0,
            "dead_lettered": 1,
            "parked": 1,
            "system_events": 0,
        },
        "conserved": True,
        "dead_letters_open": {"count": 1, "by_code": {"MALFORMED_JSON": 1}},
        "parked": {"count": 1, "oldest_age_seconds": 90},
    }
