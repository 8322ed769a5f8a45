"""Disclosed plaintext is bound to the committed record: every personal-field envelope carries
``c = base64(SHA-256(salt || JCS(value)))`` with the salt encrypted beside the value (README,
"Disclosed values are bound"). Older envelopes without ``c`` still read, as "not bound"."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.bootstrap import Ledger
from ledger.canonical import canonical_bytes
from ledger.reader import disclose_envelope
from ledger.store.crypto import encrypt_value, open_value
from ledger.store.messages import Message
from ledger.store.writer import personal_aad
from ledger.testing import collected, new_id

EMAIL = "zoe.example@example.com"


def _stored(ledger: Ledger, event_id: str) -> dict[str, Any]:
    with ledger.store.read() as cur:
        row = cur.execute(
            "SELECT e.state FROM {t:ledger_chain} c "
            f"JOIN {ledger.store.events_table} e ON e.{ledger.store.notification_column} = c.notification_id "
            "WHERE c.event_id = ?",
            (event_id,),
        ).one()
    assert row is not None
    record: dict[str, Any] = json.loads(bytes(row["state"]))["record"]
    return record


def _store_one(ledger: Ledger) -> tuple[str, dict[str, Any]]:
    subject = new_id()
    e = collected(subject, [("contact_details", "email", EMAIL)])
    ledger.ingest_messages([Message("test", None, None, event=e)])
    return subject, e


def test_every_personal_field_envelope_carries_a_salted_commitment_to_its_value(ledger: Ledger):
    _, e = _store_one(ledger)
    envelope = _stored(ledger, e["event_id"])["payload"]["data_items"][0]["value"]
    assert set(envelope) == {"enc", "kid", "cat", "c"}
    with ledger.store.read() as cur:
        value, state, salt = disclose_envelope(
            cur, ledger.keys, {}, e["event_id"], "/payload/data_items/0/value", envelope
        )
    assert (value, state) == (EMAIL, "available")
    assert salt is not None and len(base64.b64decode(salt)) == 32
    # What a regulator recomputes, with nothing but the standard library:
    expected = hashlib.sha256(base64.b64decode(salt) + json.dumps(EMAIL).encode()).digest()
    assert envelope["c"] == base64.b64encode(expected).decode()
    # ... and the commitment alone is not a hash of the value (the salt hides it).
    assert envelope["c"] != base64.b64encode(hashlib.sha256(canonical_bytes(EMAIL)).digest()).decode()


def test_two_envelopes_of_the_same_value_have_different_commitments(ledger: Ledger):
    _, first = _store_one(ledger)
    _, second = _store_one(ledger)
    c1 = _stored(ledger, first["event_id"])["payload"]["data_items"][0]["value"]["c"]
    c2 = _stored(ledger, second["event_id"])["payload"]["data_items"][0]["value"]["c"]
    assert c1 != c2


def test_after_erasure_the_envelope_discloses_nothing_and_no_salt(ledger: Ledger):
    subject, e = _store_one(ledger)
    ledger.erase(subject)
    envelope = _stored(ledger, e["event_id"])["payload"]["data_items"][0]["value"]
    with ledger.store.read() as cur:
        assert disclose_envelope(
            cur, ledger.keys, {}, e["event_id"], "/payload/data_items/0/value", envelope
        ) == (None, "erased", None)


def test_an_envelope_written_before_commitments_still_opens_as_not_bound():
    aead = AESGCM(AESGCM.generate_key(bit_length=256))
    aad = personal_aad(new_id(), "/payload/data_items/0/value", "s/contact_details/v1")
    old = {"enc": encrypt_value(aead, EMAIL, aad), "kid": "s/contact_details/v1", "cat": "contact_details"}
    assert open_value(aead, old, aad) == (EMAIL, None)
