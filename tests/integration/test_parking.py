"""Parked forward references (spec 3.5 point 4) and conservation (3.5 point 5), on both backends."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from conftest import Clock

from ledger.bootstrap import Ledger
from ledger.store.messages import Message
from ledger.testing import event, new_id


def _messages(events: list[dict[str, Any]]) -> list[Message]:
    return [Message("test", 0, i, event=e, raw=json.dumps(e).encode()) for i, e in enumerate(events)]


def _received(subject: str, request: str, at: str = "2026-10-01T09:00:00Z") -> dict[str, Any]:
    return event(
        "RightsRequestReceived",
        subject,
        {
            "request_id": request,
            "request_type": "access",
            "channel": "email",
            "via_third_party": False,
            "requester_contact": "parked.person@example.com",
        },
        occurred_at=at,
    )


def _identity(subject: str, request: str, at: str = "2026-10-01T10:00:00Z") -> dict[str, Any]:
    return event(
        "IdentityVerificationRequested", subject, {"request_id": request, "kind": "identity"}, occurred_at=at
    )


def _clarification(subject: str, request: str, at: str) -> dict[str, Any]:
    return event(
        "ClarificationRequested",
        subject,
        {"request_id": request, "question": "Which fictional account did you mean?"},
        occurred_at=at,
    )


def _stored_types(ledger: Ledger) -> list[str]:
    with ledger.store.read() as cur:
        return [
            str(r["event_type"])
            for r in cur.execute("SELECT event_type FROM {t:ledger_chain} ORDER BY seq").all()
        ]


def _conserved(ledger: Ledger) -> bool:
    c = ledger.counts()["counters"]
    with ledger.store.read() as cur:
        parked_now = int(cur.execute("SELECT COUNT(*) AS n FROM {t:ledger_parked}").scalar())
    assert c.get("parked", 0) == parked_now
    return c.get("consumed", 0) == (
        c.get("stored", 0) + c.get("duplicates", 0) + c.get("dead_lettered", 0) + parked_now
    )


def test_event_for_an_unknown_request_is_parked_then_released_right_after_it(ledger: Ledger):
    subject, request = new_id(), new_id()
    early = [
        _identity(subject, request),
        _clarification(subject, request, "2026-10-01T11:00:00Z"),
    ]
    first = ledger.ingest_messages(_messages(early))
    assert (first.stored, first.parked, first.dead_lettered) == (0, 2, 0)
    assert _stored_types(ledger) == []
    assert _conserved(ledger)
    other = event("SubjectRegistered", new_id(), {"roles": ["website_user"]})
    second = ledger.ingest_messages(_messages([_received(subject, request), other]))
    assert (second.stored, second.parked) == (4, -2)
    # Released right after the creating event, in arrival order; then the rest of the batch.
    assert _stored_types(ledger) == [
        "RightsRequestReceived",
        "IdentityVerificationRequested",
        "ClarificationRequested",
        "SubjectRegistered",
    ]
    assert _conserved(ledger)
    released = ledger.subject_events(subject)
    assert released[2]["payload"]["question"] == "Which fictional account did you mean?"


def test_parked_event_expires_as_unknown_reference_after_the_grace(ledger: Ledger, clock: Clock):
    subject, request = new_id(), new_id()
    ledger.ingest_messages(_messages([_identity(subject, request)]))
    clock.now += timedelta(hours=23)
    assert ledger.expire_parked().dead_lettered == 0
    clock.now += timedelta(hours=2)
    result = ledger.expire_parked()
    [letter] = result.dead_letters
    assert (letter.error_code, letter.error_path, letter.offset) == (
        "UNKNOWN_REFERENCE",
        "/payload/request_id",
        0,
    )
    assert result.parked == -1
    assert _conserved(ledger)
    # The request arriving later no longer releases anything.
    late = ledger.ingest_messages(_messages([_received(subject, request)]))
    assert _stored_types(ledger) == ["RightsRequestReceived"]
    assert late.stored == 1


def test_a_redelivered_parked_event_is_a_duplicate_and_a_changed_one_a_conflict(ledger: Ledger):
    subject, request = new_id(), new_id()
    parked = _identity(subject, request)
    changed = dict(parked, payload={"request_id": request, "kind": "third_party_authority"})
    result = ledger.ingest_messages(_messages([parked, dict(parked), changed]))
    assert (result.parked, result.duplicates, result.dead_lettered) == (1, 1, 1)
    assert result.dead_letters[0].error_code == "DUPLICATE_EVENT_ID_CONFLICT"
    assert _conserved(ledger)


def test_parked_event_keeps_no_plaintext(ledger: Ledger):
    subject, request = new_id(), new_id()
    ledger.ingest_messages(_messages([_clarification(subject, request, "2026-10-01T11:00:00Z")]))
    with ledger.store.read() as cur:
        sealed = cur.execute("SELECT sealed FROM {t:ledger_parked}").scalar()
    assert "Which fictional account" not in sealed
    assert json.loads(sealed)["payload"]["question"]["cat"] == "correspondence"


def test_erasure_while_parked_leaves_the_released_event_redacted(ledger: Ledger):
    subject, request = new_id(), new_id()
    ledger.ingest_messages(_messages([_clarification(subject, request, "2026-10-01T11:00:00Z")]))
    ledger.erase(subject)
    ledger.ingest_messages(_messages([_received(subject, request)]))
    clarification = [e for e in ledger.subject_events(subject) if e["event_type"] == "ClarificationRequested"]
    assert clarification[0]["payload"]["question"] == {"redacted": "erased", "category": "correspondence"}


def test_recipient_notified_waits_for_the_event_it_refers_to(ledger: Ledger):
    subject = new_id()
    erased = event("DataErased", subject, {"categories": ["contact_details"], "reason": "erasure_request"})
    notified = event(
        "RecipientNotified",
        subject,
        {
            "recipient_id": "HMRC-GB",
            "notification_type": "erasure",
            "ref_event_id": erased["event_id"],
            "outcome": "sent",
        },
    )
    assert ledger.ingest_messages(_messages([notified])).parked == 1
    result = ledger.ingest_messages(_messages([erased]))
    assert (result.stored, result.parked) == (2, -1)
    assert _stored_types(ledger) == ["DataErased", "RecipientNotified"]


def test_raw_dead_letter_payloads_are_purged_after_30_days_but_the_entry_stays(ledger: Ledger, clock: Clock):
    bad = event("SubjectRegistered", new_id(), {"roles": ["not-a-role"], "display_name": "Pat Purged"})
    ledger.ingest_messages(_messages([bad]))

    def raw_refs() -> list[Any]:
        with ledger.store.read() as cur:
            return [r["raw_ref"] for r in cur.execute("SELECT raw_ref FROM {t:ledger_dead_letters}").all()]

    [raw] = raw_refs()
    assert raw is not None and b"Pat Purged" not in bytes(raw)  # kept, but only encrypted
    clock.now += timedelta(days=29)
    ledger.expire_parked()
    assert raw_refs()[0] is not None
    clock.now += timedelta(days=2)
    ledger.expire_parked()
    assert raw_refs() == [None]
    assert [d["error_code"] for d in ledger.dead_letters()] == ["UNKNOWN_CODE"]
