"""A stored record read as a fact: its instants are those the strict timestamp parser gives (spec 3.1)."""

from __future__ import annotations

import pytest

from ledger.domain.facts import Fact
from ledger.domain.timeutil import canonical_timestamp

FORMS = [
    "2026-01-13T10:27:22.503123Z",  # what the ledger writes
    "2026-01-13T10:27:22.503Z",
    "2026-01-13T10:27:22Z",
    "2026-01-13T10:27:22.5Z",
    "2026-01-13T10:27:22.503123456Z",  # nanoseconds: truncated
    "2026-01-13T10:27:22.503+01:00",
    "2026-03-29T01:30:00-00:30",
    "2026-01-13t10:27:22.503z",
    "2024-02-29T23:59:59.999999Z",
]


@pytest.mark.parametrize("text", FORMS)
def test_stored_fact_instants_equal_the_strict_parse_in_utc(text: str) -> None:
    record = {
        "recorded_at": text,
        "occurred_at": text,
        "event_id": "00000000-0000-4000-8000-000000000001",
        "event_type": "DataUsed",
        "subject_id": "00000000-0000-4000-8000-000000000002",
        "payload": {},
    }
    fact = Fact.from_record(record, 1)
    expected = canonical_timestamp(text)
    for instant in (fact.recorded_at, fact.occurred_at):
        assert instant == expected
        assert instant.tzinfo is expected.tzinfo  # UTC, whichever way it was read
        assert instant.isoformat() == expected.isoformat()


def test_stored_fact_with_an_unreadable_instant_is_refused() -> None:
    record = {"recorded_at": "2026-02-30T10:27:22.503Z", "occurred_at": "2026-01-13T10:27:22Z"}
    with pytest.raises(ValueError):
        Fact.from_record({**record, "event_id": "e", "event_type": "DataUsed"}, 1)
