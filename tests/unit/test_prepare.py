"""The consumer's decoding helper gives exactly what decoding in-process gives (issue 3, point 2)."""

from __future__ import annotations

import pickle
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from consumers.decoding import record_to_message
from consumers.prepare import PreparedBatch, prepare_records
from ledger.avro import AvroCodec
from ledger.codelists import load_code_lists
from ledger.domain.validation import MAX_MESSAGE_BYTES, validate_event
from ledger.errors import EventRejected
from ledger.store.ingest import Ingestor
from ledger.store.messages import Message
from ledger.testing import collected, new_id

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _records() -> list[tuple[str, int, int, bytes | None]]:
    codec = AvroCodec()
    subject = new_id()
    valid = collected(subject, [("job_title", "title", "Fictional Role")], occurred_at="2026-11-01T09:00:00Z")
    unknown_code = collected(subject, [("shoe_size", "size", "42")], occurred_at="2026-11-01T09:00:00Z")
    future = collected(subject, [("job_title", "title", "Later Role")], occurred_at="2026-11-28T14:00:00Z")
    good = codec.encode(valid)
    values: list[bytes | None] = [
        good,
        b"\x00not avro at all",
        good[:2] + bytes(8) + good[10:],  # unknown writer fingerprint
        codec.encode(unknown_code),
        codec.encode(future),
        b"",
        b"\xc3\x01" + bytes(MAX_MESSAGE_BYTES),  # over the size limit
    ]
    return [("t", 0, offset, value) for offset, value in enumerate(values)]


class _Record:
    def __init__(self, raw: tuple[str, int, int, bytes | None]) -> None:
        self.topic, self.partition, self.offset, self.value = raw


def _in_process(raw: tuple[str, int, int, bytes | None]) -> tuple[str, str, str] | dict[str, object]:
    message = record_to_message(_Record(raw), AvroCodec())
    if message.error is not None:
        return (message.error.code, message.error.path, message.error.message)
    assert message.event is not None
    try:
        return validate_event(message.event, load_code_lists(), NOW)
    except EventRejected as exc:
        return (exc.code, exc.path, exc.message)


def _plain(outcome: tuple) -> tuple:  # type: ignore[type-arg]
    event, error, decoded, keep_raw = outcome
    return (event, None if error is None else (error.code, error.path, error.message), decoded, keep_raw)


def test_helper_outcomes_equal_in_process_decoding_and_validation():
    records = _records()
    outcomes = prepare_records(records, NOW)
    got = [
        event if error is None else (error.code, error.path, error.message) for event, error, *_ in outcomes
    ]
    assert got == [_in_process(r) for r in records]
    codes = [None if e is None else e.code for _, e, *_ in outcomes]
    assert codes == [
        None,
        "UNKNOWN_SCHEMA",
        "UNKNOWN_SCHEMA",
        "UNKNOWN_CODE",
        "FUTURE_TIMESTAMP",
        "MALFORMED_JSON",
        "PAYLOAD_TOO_LARGE",
    ]


def test_helper_outcomes_cross_the_process_boundary_intact():
    """What the helper returns is pickled: errors keep code, path, message and the decoded envelope."""
    records = _records()
    outcomes = prepare_records(records, NOW)
    assert [_plain(o) for o in pickle.loads(pickle.dumps(outcomes))] == [_plain(o) for o in outcomes]
    messages, validated = PreparedBatch(records, NOW, None).messages()
    assert [m.offset for m in messages] == [0, 1, 2, 3, 4, 5, 6]
    # Raw bytes are kept for dead letters, as in-process decoding keeps them: never an empty value or
    # one over the size limit (that one is not stored at all, even encrypted).
    assert [m.raw for m in messages] == [r[3] for r in records[:5]] + [None, None]
    assert [m.raw for m in messages] == [record_to_message(_Record(r), AvroCodec()).raw for r in records]
    # A decoded but rejected event keeps its envelope, so its dead letter can name the event_id.
    decoded = outcomes[3][2]
    assert messages[3].event is not None and decoded is not None
    assert messages[3].event["event_id"] == decoded["event_id"]
    assert isinstance(validated[0], dict) and all(isinstance(v, EventRejected) for v in validated[1:])


def test_a_rejection_after_decoding_stays_later_valid_as_time_moves_on():
    """The helper validates at poll time; the batch is written later. Only 'not in the future' depends
    on the clock, and it can only get easier, so a poll-time verdict holds at write time."""
    records = _records()
    at_poll = prepare_records(records, NOW)
    later = prepare_records(records, NOW + timedelta(hours=3))
    for before, after in zip(at_poll, later, strict=True):
        if before[1] is None:
            assert after[1] is None


def test_ingest_batch_refuses_outcomes_without_their_clock():
    ingestor = Ingestor.__new__(Ingestor)
    with pytest.raises(ValueError, match="recorded_at"):
        ingestor.ingest_batch([Message("t", 0, 0)], validated=[EventRejected("X", "", "m")])


def test_a_hung_helper_is_given_up_and_the_batch_decoded_in_process():
    """A helper that neither answers nor dies must not stall the consumer (and its group membership)."""
    records = _records()
    never: Future[list[Any]] = Future()  # no result, ever
    failures: list[bool] = []
    batch = PreparedBatch(records, NOW, never, on_failure=lambda: failures.append(True), timeout_s=0.05)
    messages, validated = batch.messages()
    assert failures == [True]
    assert [_plain(o)[0] if o[1] is None else _plain(o)[1] for o in prepare_records(records, NOW)] == [
        v if isinstance(v, dict) else (v.code, v.path, v.message) for v in validated
    ]
    assert len(messages) == len(records)
