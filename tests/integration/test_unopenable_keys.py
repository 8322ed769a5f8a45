"""A data key the master key cannot open (a corrupt or partly restored key row) rejects only the messages
that need it, dead-lettered ``KEY_UNAVAILABLE``; the rest of the batch is stored. Both backends."""

from __future__ import annotations

import json
import secrets
from typing import Any

from conftest import LedgerFactory
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.bootstrap import Ledger
from ledger.store.dead_letters import read_dead_letter_payload
from ledger.store.messages import Message
from ledger.testing import collected, event, new_id

BROKEN_VALUE = "broken.key@example.com"


def _messages(events: list[dict[str, Any]]) -> list[Message]:
    return [Message("test", 0, i, event=e, raw=json.dumps(e).encode()) for i, e in enumerate(events)]


def _break_key(ledger: Ledger, subject: str, category: str, *, truncate: bool = False) -> None:
    """Replace the subject's wrapped key with one another master key wrapped (or a truncated row)."""
    kid = f"{subject}/{category}/v1"
    nonce = secrets.token_bytes(12)
    foreign = nonce + AESGCM(AESGCM.generate_key(bit_length=256)).encrypt(
        nonce, secrets.token_bytes(32), kid.encode()
    )
    with ledger.store.write() as cur:
        cur.execute(
            "UPDATE {t:ledger_keys} SET wrapped = ? "
            "WHERE subject_id = ? AND category = ? AND key_version = 1",
            (foreign[:5] if truncate else foreign, subject, category),
        )


def _rows(ledger: Ledger, sql: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    with ledger.store.read() as cur:
        return list(cur.execute(sql, params).all())


def _conserved(ledger: Ledger) -> bool:
    c = ledger.counters()
    parked = int(_rows(ledger, "SELECT COUNT(*) AS n FROM {t:ledger_parked}")[0]["n"])
    return c["consumed"] == c.get("stored", 0) + c.get("duplicates", 0) + c.get("dead_lettered", 0) + parked


def test_a_message_needing_a_key_that_cannot_be_opened_is_dead_lettered_and_the_rest_stored(
    open_ledger: LedgerFactory,
):
    broken, first, second = new_id(), new_id(), new_id()
    setup = open_ledger()
    setup.ingest_messages(_messages([collected(broken, [("contact_details", "email", "old@example.com")])]))
    _break_key(setup, broken, "contact_details")
    setup.close()

    ledger = open_ledger()  # a restarted process: no key is cached
    needs_broken = collected(broken, [("contact_details", "email", BROKEN_VALUE)])
    # The new job_title key would come first: it must not be created for a rejected message.
    also_broken = collected(
        broken, [("job_title", "title", "Fictional Clerk"), ("contact_details", "phone", "01632 960001")]
    )
    other_category = collected(broken, [("name", "full_name", "Bea Broken")])
    batch = [
        collected(first, [("contact_details", "email", "first@example.com")]),
        needs_broken,
        also_broken,
        other_category,
        collected(second, [("contact_details", "email", "second@example.com")]),
    ]
    result = ledger.ingest_messages(_messages(batch))

    assert (result.consumed, result.stored, result.dead_lettered) == (5, 3, 2)
    letters = [(d.event_id, d.error_code, d.error_path) for d in result.dead_letters]
    assert letters == [
        (needs_broken["event_id"], "KEY_UNAVAILABLE", "/subject_id"),
        (also_broken["event_id"], "KEY_UNAVAILABLE", "/subject_id"),
    ]
    listed = json.dumps(ledger.dead_letters())
    assert BROKEN_VALUE not in listed and "Fictional Clerk" not in listed
    assert _conserved(ledger)
    # Nothing of the rejected messages remains: no event, chain, dedup or key row of theirs.
    rejected = (needs_broken["event_id"], also_broken["event_id"])
    for table in ("ledger_chain", "ledger_dedup"):
        rows = _rows(ledger, f"SELECT event_id FROM {{t:{table}}} WHERE event_id IN (?, ?)", rejected)
        assert rows == [], table
    assert (
        _rows(
            ledger,
            "SELECT 1 AS x FROM {t:ledger_keys} WHERE subject_id = ? AND category = 'job_title'",
            (broken,),
        )
        == []
    )
    assert ledger.subject_events(first)[0]["payload"]["data_items"][0]["value"] == "first@example.com"
    stored = _rows(
        ledger, "SELECT event_id FROM {t:ledger_chain} WHERE subject_id = ? ORDER BY seq", (broken,)
    )
    assert [r["event_id"] for r in stored][1:] == [other_category["event_id"]]
    # The privileged role can still read the rejected message (under the subject's dead-letter key).
    raw = read_dead_letter_payload(ledger.store, ledger.keys, result.dead_letters[0].dlq_id)
    assert raw == json.dumps(needs_broken).encode()
    # The subject can still be erased: its keys, the unopenable one included, are destroyed.
    assert ledger.erase(broken).dead_letters == []
    assert (
        _rows(
            ledger,
            "SELECT 1 AS x FROM {t:ledger_keys} WHERE subject_id = ? AND wrapped IS NOT NULL",
            (broken,),
        )
        == []
    )


def test_a_truncated_key_row_is_key_unavailable_too(open_ledger: LedgerFactory):
    broken, other = new_id(), new_id()
    setup = open_ledger()
    setup.ingest_messages(_messages([collected(broken, [("contact_details", "email", "old@example.com")])]))
    _break_key(setup, broken, "contact_details", truncate=True)
    setup.close()
    ledger = open_ledger()
    result = ledger.ingest_messages(
        _messages(
            [
                collected(broken, [("contact_details", "email", BROKEN_VALUE)]),
                collected(other, [("contact_details", "email", "other@example.com")]),
            ]
        )
    )
    assert (result.stored, [d.error_code for d in result.dead_letters]) == (1, ["KEY_UNAVAILABLE"])


def test_a_redelivery_whose_fingerprint_key_cannot_be_opened_is_key_unavailable(open_ledger: LedgerFactory):
    broken = new_id()
    sent = collected(broken, [("contact_details", "email", BROKEN_VALUE)])
    setup = open_ledger()
    setup.ingest_messages(_messages([sent]))
    _break_key(setup, broken, "@fingerprint")
    setup.close()
    ledger = open_ledger()
    other = collected(new_id(), [("contact_details", "email", "other@example.com")])
    result = ledger.ingest_messages(_messages([sent, other]))
    assert (result.stored, result.duplicates) == (1, 0)
    assert [(d.error_code, d.event_id) for d in result.dead_letters] == [
        ("KEY_UNAVAILABLE", sent["event_id"])
    ]
    assert _conserved(ledger)


def _hold(subject: str, hold: str) -> dict[str, Any]:
    payload = {
        "hold_id": hold,
        "categories": ["financial_details"],
        "reason": "litigation",
        "matter_ref": "M-1",
    }
    return event("LegalHoldPlaced", subject, payload)


def test_a_key_needed_by_a_side_effect_rejects_only_its_message_and_undoes_all_of_it(
    open_ledger: LedgerFactory,
):
    """The release of a hold re-runs a deferred erasure of another subject whose fingerprint key (for
    the KeyShredded event) cannot be opened: the release is rejected with nothing of it kept (the
    key it destroyed is live again, the hold still active); the rest of the batch is stored."""
    held, releaser, hold = new_id(), new_id(), new_id()
    setup = open_ledger()
    setup.ingest_messages(
        _messages(
            [collected(held, [("financial_details", "iban", "GB00FICT00000000000000")]), _hold(held, hold)]
        )
    )
    setup.erase(held, ["financial_details"])  # deferred by the hold
    _break_key(setup, held, "@fingerprint")
    setup.close()

    ledger = open_ledger()
    release = event("LegalHoldReleased", releaser, {"hold_id": hold}, occurred_at="2026-10-03T09:00:00Z")
    before, after = (collected(new_id(), [("name", "full_name", f"Fictional Person {i}")]) for i in range(2))
    result = ledger.ingest_messages(_messages([before, release, after]))

    assert (result.consumed, result.stored, result.system_events) == (3, 2, 0)
    assert [(d.event_id, d.error_code) for d in result.dead_letters] == [
        (release["event_id"], "KEY_UNAVAILABLE")
    ]
    assert _conserved(ledger)
    stored = [r["event_id"] for r in _rows(ledger, "SELECT event_id FROM {t:ledger_chain} ORDER BY seq")]
    assert stored[-2:] == [before["event_id"], after["event_id"]]
    assert _rows(ledger, "SELECT active FROM {t:ledger_holds} WHERE hold_id = ?", (hold,)) == [{"active": 1}]
    live = _rows(
        ledger,
        "SELECT 1 AS x FROM {t:ledger_keys} WHERE subject_id = ? AND category = 'financial_details' "
        "AND wrapped IS NOT NULL",
        (held,),
    )
    assert live == [{"x": 1}]
    assert _rows(ledger, "SELECT done FROM {t:ledger_deferred} WHERE category = 'financial_details'") == [
        {"done": 0}
    ]
