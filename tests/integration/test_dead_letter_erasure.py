"""Spec 3.6 ``raw_ref`` and 5.1: the raw bytes of a dead letter whose ``subject_id`` can be read are
encrypted under that subject's keys, so erasing the subject makes them unreadable at once; parked
messages of an erased subject never come back readable. Both backends."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from conftest import Clock

from ledger.bootstrap import Ledger
from ledger.errors import ErrorCode, EventRejected
from ledger.store.dead_letters import read_dead_letter_payload
from ledger.store.messages import Message
from ledger.testing import collected, event, new_id

ERASED_VALUES = ("erin.erased@example.com", "Erin Erased", "01632 960002", "12 Fictional Row")


def _message(e: dict[str, Any], offset: int = 0) -> Message:
    return Message("test", 0, offset, event=e, raw=json.dumps(e).encode())


def _payloads(ledger: Ledger) -> dict[str, bytes | None]:
    """Every dead letter's raw payload, decrypted as the privileged role would (None: unreadable)."""
    with ledger.store.read() as cur:
        ids = [str(r["dlq_id"]) for r in cur.execute("SELECT dlq_id FROM {t:ledger_dead_letters}").all()]
    return {dlq_id: read_dead_letter_payload(ledger.store, ledger.keys, dlq_id) for dlq_id in ids}


def _by_event(ledger: Ledger) -> dict[str, str]:
    with ledger.store.read() as cur:
        rows = cur.execute("SELECT dlq_id, event_id FROM {t:ledger_dead_letters}").all()
    return {str(r["event_id"]): str(r["dlq_id"]) for r in rows if r["event_id"] is not None}


def _rejected_for(subject: str) -> list[dict[str, Any]]:
    """Messages naming ``subject`` and carrying its (fictional) values, each rejected for another reason."""
    unknown_code = collected(subject, [("contact_details", "email", "erin.erased@example.com")])
    unknown_code["payload"]["data_items"][0]["category"] = "shoe_size"
    bad_role = event("SubjectRegistered", subject, {"roles": ["not-a-role"], "display_name": "Erin Erased"})
    future = collected(
        subject, [("contact_details", "phone", "01632 960002")], occurred_at="2027-01-01T00:00:00Z"
    )
    # A non-canonical spelling of the subject id is still the subject (INVALID_UUID, but readable).
    upper = collected(subject.upper(), [("postal_address", "line1", "12 Fictional Row")])
    return [unknown_code, bad_role, future, upper]


def test_erasure_makes_every_raw_dead_letter_payload_of_the_subject_unreadable(ledger: Ledger):
    erased, merged, kept = new_id(), new_id(), new_id()
    stored = collected(erased, [("contact_details", "email", "erin.erased@example.com")])
    conflict = collected(erased, [("contact_details", "email", "erin.erased@example.com")])
    conflict["event_id"] = stored["event_id"]
    conflict["payload"]["data_items"][0]["field"] = "work_email"
    merge = event(
        "SubjectsMerged",
        erased,
        {"surviving_subject_id": erased, "merged_subject_id": merged, "reason": "duplicate_record"},
    )
    for_merged = event("SubjectRegistered", merged, {"roles": ["nope"], "display_name": "Erin Erased"})
    for_kept = event("SubjectRegistered", kept, {"roles": ["nope"], "display_name": "Kim Kept"})
    sent = [stored, merge, *_rejected_for(erased), for_merged, for_kept]
    messages = [_message(e, i) for i, e in enumerate(sent)]
    messages.append(_message(conflict, len(messages)))
    malformed = EventRejected(ErrorCode.MALFORMED_JSON, "", "message is not valid UTF-8 JSON")
    messages.append(Message("test", 0, len(messages), error=malformed, raw=b"{not json: Kim Kept"))
    result = ledger.ingest_messages(messages)
    assert (result.stored, result.dead_lettered) == (2, 8)

    before = _payloads(ledger)
    assert len(before) == 8 and all(raw is not None for raw in before.values())
    assert sum(any(v.encode() in raw for v in ERASED_VALUES) for raw in before.values() if raw) == 6

    ledger.erase(erased)  # the survivor: its merged subject's dead letters go too

    after = _payloads(ledger)
    readable = {dlq_id: raw for dlq_id, raw in after.items() if raw is not None}
    for raw in readable.values():
        assert not any(v.encode() in raw for v in ERASED_VALUES), raw
    by_event = _by_event(ledger)
    [unparsed] = [dlq_id for dlq_id in after if dlq_id not in by_event.values()]
    assert readable == {
        by_event[for_kept["event_id"]]: json.dumps(for_kept).encode(),
        # No readable subject_id: under the ledger's key (spec 3.6), untouched by any erasure.
        unparsed: b"{not json: Kim Kept",
    }
    # A dead letter after the erasure goes under a new key version and is readable.
    late = event("SubjectRegistered", erased, {"roles": ["nope"], "display_name": "Erin Again"})
    ledger.ingest_messages([_message(late)])
    assert read_dead_letter_payload(ledger.store, ledger.keys, _by_event(ledger)[late["event_id"]]) == (
        json.dumps(late).encode()
    )


def test_erasure_of_some_categories_also_makes_the_subjects_raw_dead_letters_unreadable(ledger: Ledger):
    """The raw bytes of a rejected message may hold any category, so any erasure destroys their key."""
    subject = new_id()
    ledger.ingest_messages([_message(collected(subject, [("contact_details", "email", "a@example.com")]))])
    ledger.ingest_messages([_message(e, i) for i, e in enumerate(_rejected_for(subject))])
    assert all(raw is not None for raw in _payloads(ledger).values())
    ledger.erase(subject, ["contact_details"])
    assert list(_payloads(ledger).values()) == [None] * 4


def test_erasure_deferred_by_a_legal_hold_still_makes_raw_dead_letters_unreadable_at_once(ledger: Ledger):
    """A hold keeps the record's data, not the raw bytes of rejected messages (purged after 30 days
    anyway): their key goes at the DataErased, and again when the deferred erasure runs."""
    subject, hold = new_id(), new_id()
    placed = event(
        "LegalHoldPlaced",
        subject,
        {"hold_id": hold, "categories": ["*"], "reason": "litigation", "matter_ref": "M-1"},
    )
    ledger.ingest_messages(
        [_message(collected(subject, [("financial_details", "iban", "GB00FICT0")])), _message(placed)]
    )
    ledger.ingest_messages([_message(_rejected_for(subject)[0])])
    ledger.erase(subject)
    assert [e["event_type"] for e in ledger.subject_events(subject)][-1] == "ErasureDeferred"
    assert list(_payloads(ledger).values()) == [None]
    ledger.ingest_messages([_message(_rejected_for(subject)[1])])  # while the erasure waits
    assert sorted(raw is not None for raw in _payloads(ledger).values()) == [False, True]
    release = event("LegalHoldReleased", subject, {"hold_id": hold}, occurred_at="2026-10-03T09:00:00Z")
    ledger.ingest_messages([_message(release)])
    assert list(_payloads(ledger).values()) == [None, None]


def _clarification(subject: str, request: str) -> dict[str, Any]:
    return event(
        "ClarificationRequested",
        subject,
        {"request_id": request, "question": "Which fictional account, Erin Erased?"},
        occurred_at="2026-10-01T11:00:00Z",
    )


def test_a_parked_event_of_an_erased_subject_expires_with_no_readable_raw_bytes(ledger: Ledger, clock: Clock):
    erased, kept = new_id(), new_id()
    of_erased, of_kept = _clarification(erased, new_id()), _clarification(kept, new_id())
    ledger.ingest_messages([_message(of_erased), _message(of_kept)])
    ledger.erase(erased)
    clock.now += timedelta(hours=25)
    expired = ledger.expire_parked()
    assert [d.error_code for d in expired.dead_letters] == ["UNKNOWN_REFERENCE"] * 2
    by_event = _by_event(ledger)
    # Sealed under keys erasure destroyed: nothing of it is encrypted again under a live key.
    assert read_dead_letter_payload(ledger.store, ledger.keys, by_event[of_erased["event_id"]]) is None
    # The other subject's parked event keeps its sealed form: readable skeleton, still no plaintext.
    kept_raw = read_dead_letter_payload(ledger.store, ledger.keys, by_event[of_kept["event_id"]])
    assert kept_raw is not None and b"Erin Erased" not in kept_raw
    sealed = json.loads(kept_raw)
    assert (sealed["event_id"], sealed["payload"]["question"]["cat"]) == (
        of_kept["event_id"],
        "correspondence",
    )
    # Its subject erased later: unreadable at once.
    ledger.erase(kept)
    assert list(_payloads(ledger).values()) == [None, None]
