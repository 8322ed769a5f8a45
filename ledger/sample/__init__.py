"""Realistic, fictional, deterministic sample events (spec 3.1 JSON form) for demos and benchmarks.

Every value is made up (``example.com`` emails, Ofcom drama phone numbers, ``ZX`` postcodes)
and every random choice, UUIDs included, comes from ``random.Random(seed)``.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from ledger.sample.clients import client_contracting_party, platform_user, prospective_partner
from ledger.sample.hr import employee, job_applicant
from ledger.sample.journey import Journey, Recorder
from ledger.sample.marketing import client_contact, enquirer, website_user
from ledger.sample.people import make_person
from ledger.sample.requests import REQUEST_TYPES, REQUEST_VARIANTS, complaint, rights_request
from ledger.sample.steps import ATS, CRM, DD, DESK, HR, PLATFORM, WEB
from ledger.sample.world import purpose_entry

__all__ = ["DEFAULT_END", "DEFAULT_START", "generate_events", "iter_jsonl", "write_jsonl"]

DEFAULT_START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
DEFAULT_END = datetime(2026, 10, 30, 17, 0, tzinfo=UTC)

# Starting role -> (producer of the registration, display name known?, the rest of the journey).
_ROLE_JOURNEYS: dict[str, tuple[str, bool, Callable[[Journey], None]]] = {
    "employee": (HR, True, employee),
    "job_applicant": (ATS, True, job_applicant),
    "website_user": (WEB, False, website_user),
    "enquirer": (DESK, True, enquirer),
    "client_contact": (CRM, True, client_contact),
    "client_contracting_party": (PLATFORM, True, client_contracting_party),
    "platform_user": (PLATFORM, True, platform_user),
    "prospective_partner": (DD, True, prospective_partner),
}
# Relative frequency of each starting role; related individuals arise inside other journeys.
_ROLE_DECK = (
    ("employee",) * 3
    + ("job_applicant",) * 3
    + ("website_user",) * 4
    + ("enquirer",) * 2
    + ("client_contact",) * 4
    + ("client_contracting_party",) * 3
    + ("platform_user",) * 3
    + ("prospective_partner",) * 2
)
_REQUEST_RATE = 0.4
_MERGES_PER_HUNDRED = 1

T = TypeVar("T")


class _Deck(Generic[T]):
    """Draws without replacement from a reshuffled pile, so every card shows up once per round."""

    def __init__(self, rng: random.Random, cards: Sequence[T]) -> None:
        self._rng = rng
        self._cards = tuple(cards)
        self._pile: list[T] = []

    def draw(self) -> T:
        if not self._pile:
            self._pile = list(self._cards)
            self._rng.shuffle(self._pile)
        return self._pile.pop()


def generate_events(
    seed: int = 7,
    subjects: int = 200,
    start: datetime = DEFAULT_START,
    end: datetime = DEFAULT_END,
) -> list[dict[str, Any]]:
    """Generate events for ``subjects`` people in ``[start, end]``, sorted by occurred_at."""
    if subjects < 0:
        raise ValueError("subjects must be >= 0")
    if start.tzinfo is None or end.tzinfo is None or start >= end:
        raise ValueError("start and end must be aware datetimes with start < end")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    rng = random.Random(seed)
    rec = Recorder(rng, end)
    roles = _Deck(rng, _ROLE_DECK)
    request_types = _Deck(rng, REQUEST_TYPES)
    variants = _Deck(rng, REQUEST_VARIANTS)
    merges = _Deck(rng, (True,) * _MERGES_PER_HUNDRED + (False,) * (100 - _MERGES_PER_HUNDRED))
    # Journeys start in the first 60% of the window so most of them play out before it closes.
    first_day = datetime.combine(start.date(), datetime.min.time(), UTC)
    span_days = max(1, int((end - start).days * 0.6))
    for _ in range(subjects):
        role = roles.draw()
        j = Journey(rec, first_day + timedelta(days=rng.randint(1, span_days)), make_person(rng))
        j.wait_days(0, 0, office=role != "website_user")  # first contact at a plausible hour
        _journey(j, role, merges.draw())
        request_id = None
        if rng.random() < _REQUEST_RATE:
            j.wait_days(5, 60)
            request_id = rights_request(j, request_types.draw(), variants.draw())
        if rng.random() < (0.3 if request_id else 0.04):
            j.wait_days(3, 30)
            complaint(j, request_id)
    return rec.events()


def _journey(j: Journey, role: str, merge: bool) -> None:
    producer, named, body = _ROLE_JOURNEYS[role]
    j.register([role], producer, named=named)
    if merge:
        _merge_duplicate(j)
    body(j)


def _merge_duplicate(j: Journey) -> None:
    """A duplicate record made by the service desk, later matched and merged into this subject."""
    dup = j.fork(j.person)
    dup.register(["enquirer"], "support.zendesk")
    dup.collect(
        "support.zendesk",
        {"type": "data_subject", "channel": "email"},
        [("name", "full_name"), ("contact_details", "email")],
        [purpose_entry("relationship_follow_up")],
        art13=True,
    )
    j.now = dup.now
    j.wait_days(1, 10)
    payload = {
        "surviving_subject_id": j.subject_id,
        "merged_subject_id": dup.subject_id,
        "reason": j.rng.choice(("duplicate_record", "identity_matched")),
    }
    j.emit("SubjectsMerged", payload, "crm.salesforce", actor=j.staff())


def write_jsonl(path: str | os.PathLike[str], events: Sequence[dict[str, Any]]) -> int:
    """Write ``events`` as UTF-8 JSON lines and return how many were written."""
    with open(path, "w", encoding="utf-8", newline="\n") as out:
        for event in events:
            out.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")
    return len(events)


def iter_jsonl(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Yield the events of a JSON-lines file, skipping blank lines."""
    with open(path, encoding="utf-8") as src:
        for line in src:
            if line.strip():
                event: dict[str, Any] = json.loads(line)
                yield event
