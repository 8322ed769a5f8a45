"""A writer remembers keys, stream versions and entities between its batches only while it is the
only writer (issue 3 throughput; spec 3.3 erasure and 3.4 ordering must hold whatever interleaves).

Each test runs on SQLite and on the real PostgreSQL server, with two ledgers on one database standing
for two processes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import ledger.store.ingest as ingest_module
from consumers.prepare import PreparedBatch
from ledger.avro import AvroCodec
from ledger.bootstrap import Ledger
from ledger.domain.validation import FUTURE_SKEW
from ledger.errors import EventRejected
from ledger.store.messages import Message
from ledger.store.writer import BatchWriter, WriterState
from ledger.testing import collected, event, new_id

pytestmark = pytest.mark.usefixtures("backend")


def _msg(event: dict[str, Any]) -> Message:
    return Message("test", 0, 0, event=event)


def _email(ledger: Ledger, subject: str) -> list[Any]:
    return [
        e["payload"]["data_items"][0]["value"]
        for e in ledger.subject_events(subject)
        if e["event_type"] == "DataCollected"
    ]


@pytest.fixture
def carried(monkeypatch: pytest.MonkeyPatch) -> list[WriterState | None]:
    """The state each BatchWriter was started from, in order."""
    seen: list[WriterState | None] = []

    class Spy(BatchWriter):
        def __init__(self, *args: Any, carried: WriterState | None = None, **kwargs: Any) -> None:
            seen.append(carried)
            super().__init__(*args, carried=carried, **kwargs)

    monkeypatch.setattr(ingest_module, "BatchWriter", Spy)
    return seen


def test_consecutive_batches_of_one_writer_start_from_what_the_last_one_learnt(
    open_ledger: Any, carried: list[WriterState | None]
):
    ledger = open_ledger()
    ingestor = ledger.ingestor
    subject = new_id()
    for n in range(3):
        ingestor.ingest_batch([_msg(collected(subject, [("contact_details", "email", f"a{n}@example.com")]))])
    assert carried[0] is None
    assert carried[1] is not None and carried[2] is not None
    assert carried[2].generation == carried[1].generation + 1
    assert subject in carried[2].ring.rows  # its keys needed no query
    assert _email(ledger, subject) == ["a0@example.com", "a1@example.com", "a2@example.com"]


def test_an_erasure_by_another_writer_is_never_missed(open_ledger: Any, carried: list[WriterState | None]):
    """Spec 3.3: after erasure, new data goes under a new key version, never under the destroyed one."""
    mine, theirs = open_ledger(), open_ledger()
    ingestor = mine.ingestor
    subject = new_id()
    ingestor.ingest_batch([_msg(collected(subject, [("contact_details", "email", "old@example.com")]))])
    theirs.erase(subject)
    ingestor.ingest_batch([_msg(collected(subject, [("contact_details", "email", "new@example.com")]))])
    assert carried[-1] is None  # someone else wrote in between: start cold
    assert _email(mine, subject) == [
        {"redacted": "erased", "category": "contact_details"},
        "new@example.com",
    ]


def test_stream_versions_stay_consecutive_when_writers_interleave(open_ledger: Any):
    mine, theirs = open_ledger(), open_ledger()
    ingestor = mine.ingestor
    subject = new_id()
    ingestor.ingest_batch([_msg(collected(subject, [("contact_details", "email", "one@example.com")]))])
    theirs.ingest_messages([_msg(collected(subject, [("contact_details", "email", "two@example.com")]))])
    result = ingestor.ingest_batch(
        [_msg(collected(subject, [("contact_details", "email", "three@example.com")]))]
    )
    assert result.stored == 1 and not result.dead_letters
    assert _email(mine, subject) == ["one@example.com", "two@example.com", "three@example.com"]
    assert mine.verify().valid


def test_a_rolled_back_batch_leaves_nothing_remembered(open_ledger: Any, carried: list[WriterState | None]):
    """A key created in a transaction that rolled back must not be used afterwards."""
    ledger = open_ledger()
    ingestor = ledger.ingestor
    first, second = new_id(), new_id()
    ingestor.ingest_batch([_msg(collected(first, [("contact_details", "email", "first@example.com")]))])
    event = collected(second, [("contact_details", "email", "second@example.com")])

    def fail(_: Any) -> None:
        raise RuntimeError("the batch's last write failed")

    with pytest.raises(RuntimeError):
        ingestor.ingest_batch([_msg(event)], in_transaction=fail)
    result = ingestor.ingest_batch([_msg(event)])
    assert carried[-1] is None  # the failed batch's state was dropped, not carried
    assert result.stored == 1
    assert _email(ledger, second) == ["second@example.com"]
    assert ledger.verify().valid


def _received(subject: str, request: str) -> dict[str, Any]:
    payload = {
        "request_id": request,
        "request_type": "access",
        "channel": "email",
        "via_third_party": False,
        "requester_contact": "requester@example.com",
    }
    return event("RightsRequestReceived", subject, payload, occurred_at="2026-10-01T09:00:00Z")


def _identity(subject: str, request: str) -> dict[str, Any]:
    payload = {"request_id": request, "kind": "identity"}
    return event("IdentityVerificationRequested", subject, payload, occurred_at="2026-10-01T10:00:00Z")


def test_a_remembered_entity_says_what_the_database_says(open_ledger: Any):
    """A request id received again for another subject keeps its first subject, in the table and in what
    the writer carries to its next batch, so the next batch decides as a fresh writer would."""
    remembering, other = open_ledger(), open_ledger()
    ingestor = remembering.ingestor
    first, second, request = new_id(), new_id(), new_id()
    other.ingest_messages([_msg(_received(first, request))])  # not in the remembering writer's memory
    ingestor.ingest_batch([_msg(_received(second, request))])
    follow_up = _identity(first, request)
    carried_outcome = ingestor.ingest_batch([_msg(follow_up)])
    assert carried_outcome.stored == 1 and not carried_outcome.dead_letters
    mismatch = other.ingestor.ingest_batch([_msg(_identity(second, request))])
    assert [d.error_code for d in mismatch.dead_letters] == ["INCONSISTENT_SUBJECT"]


def test_a_poll_time_future_rejection_is_checked_again_at_write_time(open_ledger: Any):
    """Spec 3.6 FUTURE_TIMESTAMP is judged against the event's own recorded_at: the consumer's helper
    validates at poll time, so an event refused then but in the allowed skew when written is stored."""
    ledger = open_ledger()
    polled_at = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    codec = AvroCodec()

    def at(delta: timedelta) -> str:
        return (polled_at + FUTURE_SKEW + delta).strftime("%Y-%m-%dT%H:%M:%SZ")

    subject = new_id()
    email = ("contact_details", "email", "soon@example.com")
    soon = collected(subject, [email], occurred_at=at(timedelta(minutes=1)))  # in the skew when written
    later = collected(subject, [email], occurred_at=at(timedelta(days=1)))
    records = [("t", 0, i, codec.encode(e)) for i, e in enumerate([soon, later])]
    messages, validated = PreparedBatch(records, polled_at, None).messages()
    assert [v.code for v in validated if isinstance(v, EventRejected)] == ["FUTURE_TIMESTAMP"] * 2
    written_at = polled_at + timedelta(minutes=2)
    result = ledger.ingestor.ingest_batch(messages, recorded_at=written_at, validated=validated)
    assert result.stored == 1
    assert [(d.offset, d.error_code) for d in result.dead_letters] == [(1, "FUTURE_TIMESTAMP")]
