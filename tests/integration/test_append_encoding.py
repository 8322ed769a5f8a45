"""The append path encodes a stored record once (its JCS text is both the stored state's record and, with
``seq`` and ``prev_hash``, the chained bytes); a record it cannot cut so goes through eventsourcing's
mapper and the general JCS writer. Both must store and chain alike, on both backends."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

import ledger.store.writer as writer_module
from ledger.bootstrap import Ledger
from ledger.sample import generate_events
from ledger.store.chain import record_hash
from ledger.store.messages import Message


def _messages(events: list[dict[str, Any]]) -> list[Message]:
    return [Message("test", 0, i, event=e, raw=json.dumps(e).encode()) for i, e in enumerate(events)]


def test_records_encoded_once_and_through_the_mapper_are_stored_and_chained_alike(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
):
    real = writer_module.canonical_members
    turns = itertools.cycle([True, False])  # every other record goes through the mapper instead

    def alternate(value: dict[str, Any], *, around: tuple[str, ...] = ()) -> list[str] | None:
        return real(value, around=around) if next(turns) else None

    monkeypatch.setattr(writer_module, "canonical_members", alternate)
    events = generate_events(seed=11, subjects=20)
    result = ledger.ingest_messages(_messages(events))
    assert result.stored == len(events) and result.dead_letters == []
    report = ledger.verify()
    assert report.valid and report.problems == [] and report.length == result.stored + result.system_events

    store = ledger.store
    with store.read() as cur:
        rows = cur.execute(
            "SELECT c.seq, c.prev_hash, c.hash, e.topic, e.state, e.originator_id, e.originator_version "
            f"FROM {{t:ledger_chain}} c JOIN {store.events_table} e "
            f"ON e.{store.notification_column} = c.notification_id ORDER BY c.seq"
        ).all()
    assert len(rows) == report.length
    for row in rows:
        # Read back through the library's mapper, as the ledger's reads do: the record is the hashed one
        # and the event's timestamp is its recording time.
        event = store.to_event(
            row["topic"], row["state"], row["originator_id"], int(row["originator_version"])
        )
        assert record_hash(event.record, int(row["seq"]), row["prev_hash"]) == row["hash"]
        assert event.timestamp.isoformat().replace("+00:00", "") in event.record["recorded_at"].replace(
            "Z", ""
        )
