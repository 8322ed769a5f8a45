"""Contract suite of the event store: every test runs on SQLite and on the real PostgreSQL server.

Issue 2, acceptance: the suite fails if a backend loses an event, duplicates one, or stores a personal
value in plaintext; erasure destroys keys and leaves the chain valid; dedup survives restarts.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest
from conftest import Clock, LedgerFactory, database_bytes

from ledger.bootstrap import Ledger
from ledger.config import Settings
from ledger.domain.catalogue import EVENT_TYPES, iter_personal_fields, stored_topic
from ledger.sample import generate_events
from ledger.store.messages import Message
from ledger.testing import collected, event, new_id


def _messages(events: list[dict[str, Any]], topic: str = "test") -> list[Message]:
    return [Message(topic, 0, i, event=e, raw=json.dumps(e).encode()) for i, e in enumerate(events)]


def _leaves(value: Any, found: set[str], *, keys: bool = False) -> None:
    if isinstance(value, str) and len(value) >= 6:
        found.add(value)
    elif isinstance(value, dict):
        for key, v in value.items():
            if keys:
                found.add(key)
            _leaves(v, found, keys=keys)
    elif isinstance(value, list):
        for v in value:
            _leaves(v, found, keys=keys)


def _personal_strings(events: list[dict[str, Any]]) -> set[str]:
    """Strings (>= 6 chars) found only inside personal fields of the events, never in the skeleton.

    A personal value that also appears as a non-personal field (an employer's name that is also a
    recipient's organisation name) is stored in clear there by design, so it is left out.
    """
    personal: set[str] = set()
    skeleton: set[str] = set()
    skeleton_text = [stored_topic(t) for t in EVENT_TYPES]
    for e in events:
        stripped = json.loads(json.dumps(e))
        for path, _ in iter_personal_fields(e["event_type"], e["payload"]):
            node: Any = e["payload"]
            holder: Any = stripped["payload"]
            for step in path[:-1]:
                node, holder = node[step], holder[step]
            _leaves(node[path[-1]], personal)
            holder[path[-1]] = None
        _leaves(stripped, skeleton, keys=True)
        skeleton_text.append(json.dumps(stripped))
    # Also drop values that are mere substrings of the skeleton (a feature named "billing" beside
    # a field named "billing_address"): finding them says nothing about a leak.
    text = "\n".join(skeleton_text)
    return {p for p in personal - skeleton if p not in text}


def _chain_rows(ledger: Ledger) -> list[dict[str, Any]]:
    with ledger.store.read() as cur:
        return cur.execute("SELECT seq, event_id, prev_hash, hash FROM {t:ledger_chain} ORDER BY seq").all()


def _event_count(ledger: Ledger) -> int:
    with ledger.store.read() as cur:
        return int(cur.execute(f"SELECT COUNT(*) AS n FROM {ledger.store.events_table}").scalar())


@pytest.fixture(scope="module")
def sample() -> list[dict[str, Any]]:
    """Fictional sample events of 40 subjects (every kind of event the generator makes)."""
    return generate_events(seed=11, subjects=40)


def test_every_sample_event_is_stored_exactly_once(ledger: Ledger, sample: list[dict[str, Any]]):
    result = ledger.ingest_messages(_messages(sample))
    assert result.dead_letters == []
    assert result.stored == len(sample)
    rows = _chain_rows(ledger)
    stored_ids = [r["event_id"] for r in rows]
    assert len(stored_ids) == len(set(stored_ids)), "an event was stored twice"
    assert set(e["event_id"] for e in sample) <= set(stored_ids), "an event was lost"
    assert len(rows) == result.stored + result.system_events == _event_count(ledger)
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1)), "seq is not gap-free"


def test_redelivered_events_are_duplicates_across_a_restart(
    open_ledger: LedgerFactory, sample: list[dict[str, Any]]
):
    first = open_ledger()
    first.ingest_messages(_messages(sample[:300]))
    first.close()
    restarted = open_ledger()
    again = restarted.ingest_messages(_messages(sample[:300]))
    assert again.stored == 0
    assert again.duplicates == 300
    assert again.dead_letters == []
    assert _event_count(restarted) == len(_chain_rows(restarted))


def test_duplicates_inside_one_batch_are_stored_once(ledger: Ledger):
    subject = new_id()
    e = collected(subject, [("contact_details", "email", "dup.person@example.com")])
    result = ledger.ingest_messages(_messages([e, dict(e), dict(e)]))
    assert (result.stored, result.duplicates) == (1, 2)


def test_same_event_id_with_other_content_is_dead_lettered_and_original_kept(ledger: Ledger):
    subject = new_id()
    original = collected(subject, [("contact_details", "email", "first.person@example.com")])
    changed = collected(
        subject,
        [("contact_details", "email", "second.person@example.com")],
        event_id=original["event_id"],
    )
    ledger.ingest_messages(_messages([original]))
    result = ledger.ingest_messages(_messages([changed]))
    assert result.stored == 0
    [letter] = result.dead_letters
    assert (letter.error_code, letter.error_path) == ("DUPLICATE_EVENT_ID_CONFLICT", "/event_id")
    assert letter.event_id == original["event_id"]
    [stored] = ledger.subject_events(subject)
    assert stored["payload"]["data_items"][0]["value"] == "first.person@example.com"
    assert "second.person" not in json.dumps(ledger.dead_letters())


def test_no_personal_value_is_stored_in_plaintext(
    ledger: Ledger, backend: dict[str, Any], sample: list[dict[str, Any]]
):
    ledger.ingest_messages(_messages(sample))
    secrets = _personal_strings(sample)
    assert len(secrets) > 100, "the sample should carry many personal values"
    dump = database_bytes(ledger, backend)
    leaked = sorted(s for s in secrets if s.encode() in dump)
    assert leaked == []


def test_personal_fields_are_stored_as_encrypted_envelopes(ledger: Ledger):
    subject = new_id()
    e = collected(subject, [("contact_details", "email", "sealed.person@example.com")])
    ledger.ingest_messages(_messages([e]))
    with ledger.store.read() as cur:
        row = cur.execute(
            f"SELECT e.state FROM {{t:ledger_chain}} c JOIN {ledger.store.events_table} e "
            f"ON e.{ledger.store.notification_column} = c.notification_id WHERE c.event_id = ?",
            (e["event_id"],),
        ).one()
    assert row is not None
    item = json.loads(bytes(row["state"]))["record"]["payload"]["data_items"][0]
    assert item["category"] == "contact_details" and item["field"] == "email"
    assert set(item["value"]) == {"enc", "kid", "cat", "c"}  # c: the salted commitment (README)
    assert item["value"]["cat"] == "contact_details"
    assert item["value"]["kid"] == f"{subject}/contact_details/v1"


def test_erasure_redacts_every_shredded_field_and_leaves_no_plaintext(
    ledger: Ledger, backend: dict[str, Any]
):
    subject, other = new_id(), new_id()
    mine = [
        event("SubjectRegistered", subject, {"roles": ["employee"], "display_name": "Erin Erased"}),
        collected(
            subject,
            [
                ("contact_details", "email", "erin.erased@example.com"),
                ("postal_address", "line1", "12 Fictional Row"),
            ],
        ),
    ]
    theirs = [collected(other, [("contact_details", "email", "kept.person@example.com")])]
    ledger.ingest_messages(_messages(mine + theirs))
    result = ledger.erase(subject)
    assert result.dead_letters == []
    events = ledger.subject_events(subject)
    display = events[0]["payload"]["display_name"]
    assert display == {"redacted": "erased", "category": "name"}
    values = [i["value"] for i in events[1]["payload"]["data_items"]]
    assert values == [
        {"redacted": "erased", "category": "contact_details"},
        {"redacted": "erased", "category": "postal_address"},
    ]
    shredded = sorted(e["payload"]["category"] for e in events if e["event_type"] == "KeyShredded")
    assert shredded == ["contact_details", "name", "postal_address"]
    assert all(e["producer"]["system"] == "ledger" for e in events if e["event_type"] == "KeyShredded")
    # The other subject is untouched.
    [kept] = ledger.subject_events(other)
    assert kept["payload"]["data_items"][0]["value"] == "kept.person@example.com"
    dump = database_bytes(ledger, backend)
    for secret in ("Erin Erased", "erin.erased@example.com", "12 Fictional Row"):
        assert secret.encode() not in dump


def test_erasure_changes_no_hash_and_the_chain_stays_valid(ledger: Ledger, sample):
    ledger.ingest_messages(_messages(sample[:400]))
    before = _chain_rows(ledger)
    subject = sample[0]["subject_id"]
    ledger.erase(subject)
    after = _chain_rows(ledger)
    assert after[: len(before)] == before
    assert len(after) > len(before)
    report = ledger.verify()
    assert report.valid and report.length == len(after) and report.first_invalid_seq is None
    assert report.head_hash == after[-1]["hash"]


def test_erasure_of_one_category_keeps_the_others(ledger: Ledger):
    subject = new_id()
    ledger.ingest_messages(
        _messages(
            [
                collected(
                    subject,
                    [
                        ("contact_details", "email", "partly.erased@example.com"),
                        ("job_title", "title", "Fictional Engineer"),
                    ],
                )
            ]
        )
    )
    ledger.erase(subject, ["contact_details"])
    items = ledger.subject_events(subject)[0]["payload"]["data_items"]
    assert items[0]["value"] == {"redacted": "erased", "category": "contact_details"}
    assert items[1]["value"] == "Fictional Engineer"


def test_recollection_after_erasure_uses_a_new_key_version(ledger: Ledger):
    subject = new_id()
    ledger.ingest_messages(
        _messages([collected(subject, [("contact_details", "email", "old.address@example.com")])])
    )
    ledger.erase(subject, ["contact_details"])
    ledger.ingest_messages(
        _messages(
            [
                collected(
                    subject,
                    [("contact_details", "email", "new.address@example.com")],
                    occurred_at="2026-10-02T09:00:00Z",
                )
            ]
        )
    )
    events = [e for e in ledger.subject_events(subject) if e["event_type"] == "DataCollected"]
    assert events[0]["payload"]["data_items"][0]["value"]["redacted"] == "erased"
    assert events[1]["payload"]["data_items"][0]["value"] == "new.address@example.com"
    with ledger.store.read() as cur:
        versions = cur.execute(
            "SELECT key_version, wrapped IS NULL AS gone FROM {t:ledger_keys} "
            "WHERE subject_id = ? AND category = 'contact_details' ORDER BY key_version",
            (subject,),
        ).all()
    assert [(v["key_version"], bool(v["gone"])) for v in versions] == [(1, True), (2, False)]


def test_erasure_under_legal_hold_is_deferred_until_release(ledger: Ledger):
    subject, hold = new_id(), new_id()
    ledger.ingest_messages(
        _messages(
            [
                collected(subject, [("financial_details", "iban", "GB00FICT00000000000000")]),
                event(
                    "LegalHoldPlaced",
                    subject,
                    {
                        "hold_id": hold,
                        "categories": ["financial_details"],
                        "reason": "litigation",
                        "matter_ref": "MATTER-2026-001",
                    },
                ),
            ]
        )
    )
    ledger.erase(subject, ["financial_details"])
    events = ledger.subject_events(subject)
    deferred = [e for e in events if e["event_type"] == "ErasureDeferred"]
    assert len(deferred) == 1
    assert deferred[0]["payload"]["categories"] == ["financial_details"]
    assert deferred[0]["payload"]["hold_ids"] == [hold]
    assert events[0]["payload"]["data_items"][0]["value"] == "GB00FICT00000000000000"
    ledger.ingest_messages(
        _messages(
            [
                event(
                    "LegalHoldReleased",
                    subject,
                    {"hold_id": hold},
                    occurred_at="2026-10-03T09:00:00Z",
                )
            ]
        )
    )
    events = ledger.subject_events(subject)
    assert [e["payload"]["category"] for e in events if e["event_type"] == "KeyShredded"] == [
        "financial_details"
    ]
    assert events[0]["payload"]["data_items"][0]["value"]["redacted"] == "erased"


def _hold(subject: str, hold: str, category: str) -> dict[str, Any]:
    payload = {"hold_id": hold, "categories": [category], "reason": "litigation", "matter_ref": "M-1"}
    return event("LegalHoldPlaced", subject, payload)


def _release(subject: str, hold: str) -> dict[str, Any]:
    return event("LegalHoldReleased", subject, {"hold_id": hold}, occurred_at="2026-10-03T09:00:00Z")


def _iban(ledger: Ledger, subject: str) -> Any:
    [collected_event] = [e for e in ledger.subject_events(subject) if e["event_type"] == "DataCollected"]
    return collected_event["payload"]["data_items"][0]["value"]


def test_releasing_a_hold_runs_only_the_erasures_it_blocked(ledger: Ledger):
    """Spec 5.1: a release re-runs deferred erasures of the hold's subject (and its merge family);
    another subject's erasure stays deferred until its own hold goes."""
    first, second, merged = new_id(), new_id(), new_id()
    hold_first, hold_second, hold_merged = new_id(), new_id(), new_id()
    iban = ("financial_details", "iban", "GB00FICT00000000000000")
    ledger.ingest_messages(
        _messages(
            [
                collected(first, [iban]),
                collected(second, [iban]),
                collected(merged, [iban]),
                _hold(first, hold_first, "financial_details"),
                _hold(second, hold_second, "financial_details"),
                # The merged subject's hold also blocks erasing its survivor (the family is erased).
                _hold(merged, hold_merged, "financial_details"),
                event(
                    "SubjectsMerged",
                    second,
                    {
                        "surviving_subject_id": second,
                        "merged_subject_id": merged,
                        "reason": "duplicate_record",
                    },
                ),
            ]
        )
    )
    ledger.erase(first, ["financial_details"])
    ledger.erase(second, ["financial_details"])
    assert _iban(ledger, first) == _iban(ledger, second) == iban[2]

    ledger.ingest_messages(_messages([_release(first, hold_first)]))
    assert _iban(ledger, first) == {"redacted": "erased", "category": "financial_details"}
    assert _iban(ledger, second) == iban[2]  # still held by its own hold and its merged subject's

    ledger.ingest_messages(_messages([_release(second, hold_second)]))
    assert _iban(ledger, second) == iban[2]  # the merged subject's hold still blocks the family
    ledger.ingest_messages(_messages([_release(merged, hold_merged)]))
    assert _iban(ledger, second) == {"redacted": "erased", "category": "financial_details"}
    assert _iban(ledger, merged) == {"redacted": "erased", "category": "financial_details"}


def test_redelivery_after_full_erasure_is_a_duplicate_without_comparison(ledger: Ledger):
    subject = new_id()
    original = collected(subject, [("contact_details", "email", "gone.person@example.com")])
    ledger.ingest_messages(_messages([original]))
    ledger.erase(subject)
    changed = dict(original, payload={**original["payload"], "processing_means": "manual"})
    result = ledger.ingest_messages(_messages([original, changed]))
    assert (result.stored, result.duplicates, result.dead_lettered) == (0, 2, 0)
    assert ledger.dead_letters() == []


def test_merged_subject_erasure_shreds_keys_of_every_merged_subject(ledger: Ledger):
    survivor, merged = new_id(), new_id()
    ledger.ingest_messages(
        _messages(
            [
                collected(merged, [("contact_details", "email", "merged.person@example.com")]),
                event(
                    "SubjectsMerged",
                    survivor,
                    {
                        "surviving_subject_id": survivor,
                        "merged_subject_id": merged,
                        "reason": "duplicate_record",
                    },
                ),
            ]
        )
    )
    ledger.erase(survivor)
    [collected_event] = [e for e in ledger.subject_events(merged) if e["event_type"] == "DataCollected"]
    assert collected_event["payload"]["data_items"][0]["value"]["redacted"] == "erased"


def test_a_failed_batch_stores_nothing_and_a_retry_stores_everything_once(
    ledger: Ledger, sample: list[dict[str, Any]]
):
    batch = _messages(sample[:200])

    def crash(_: object) -> None:
        raise RuntimeError("simulated crash before commit")

    with pytest.raises(RuntimeError):
        ledger.ingestor.ingest_batch(batch, in_transaction=crash)
    assert _chain_rows(ledger) == []
    assert _event_count(ledger) == 0
    result = ledger.ingestor.ingest_batch(batch)
    assert result.stored == 200
    assert len(_chain_rows(ledger)) == _event_count(ledger) == 200 + result.system_events


def test_dead_letters_keep_code_and_path_but_never_values(ledger: Ledger):
    subject = new_id()
    bad = collected(subject, [("contact_details", "email", "leaky.value@example.com")])
    bad["payload"]["data_items"][0]["category"] = "leak.code@example.com"
    result = ledger.ingest_messages(_messages([bad]))
    [letter] = result.dead_letters
    assert (letter.error_code, letter.error_path) == (
        "UNKNOWN_CODE",
        "/payload/data_items/0/category",
    )
    listed = json.dumps(ledger.dead_letters())
    assert "leak.code" not in listed and "leaky.value" not in listed


def test_dead_letter_moves_to_replayed_when_the_fixed_event_is_stored(ledger: Ledger):
    subject = new_id()
    fixed = collected(subject, [("contact_details", "email", "fixed.person@example.com")])
    broken = json.loads(json.dumps(fixed))
    broken["payload"]["processing_means"] = "telepathy"
    ledger.ingest_messages(_messages([broken]))
    assert [d["status"] for d in ledger.dead_letters()] == ["OPEN"]
    ledger.ingest_messages(_messages([fixed]))
    assert [d["status"] for d in ledger.dead_letters()] == ["REPLAYED"]


def test_counters_conserve_every_consumed_message(ledger: Ledger, sample):
    messages = _messages(sample[:100]) + _messages(sample[:50])
    messages.append(Message("test", 0, 999, event={"event_id": "not-a-uuid"}))
    total = ledger.ingest_messages(messages)
    counters = ledger.counts()["counters"]
    assert counters["consumed"] == 151 == total.consumed
    assert counters["stored"] + counters["duplicates"] + counters["dead_lettered"] == 151
    assert (counters["stored"], counters["duplicates"], counters["dead_lettered"]) == (100, 50, 1)


def _tamper(ledger: Ledger, sql: str, params: tuple[Any, ...]) -> None:
    with ledger.store.write(lock=False) as cur:
        cur.execute(sql, params)


def _notification_id(ledger: Ledger, seq: int) -> int:
    with ledger.store.read() as cur:
        return int(cur.execute("SELECT notification_id FROM {t:ledger_chain} WHERE seq = ?", (seq,)).scalar())


def test_verify_reports_the_seq_of_an_edited_stored_record(ledger: Ledger, sample):
    ledger.ingest_messages(_messages(sample[:60]))
    assert ledger.verify().valid
    nid = _notification_id(ledger, 17)
    store = ledger.store
    with store.read() as cur:
        state = bytes(
            cur.execute(
                f"SELECT state FROM {store.events_table} WHERE {store.notification_column} = ?",
                (nid,),
            ).scalar()
        )
    edited = state.replace(b'"schema_version":1', b'"schema_version":2')
    assert edited != state
    _tamper(
        ledger,
        f"UPDATE {store.events_table} SET state = ? WHERE {store.notification_column} = ?",
        (edited, nid),
    )
    report = ledger.verify()
    assert (report.valid, report.first_invalid_seq, report.length) == (False, 17, 60)


def test_verify_reports_the_seq_of_a_deleted_stored_record(ledger: Ledger, sample):
    ledger.ingest_messages(_messages(sample[:60]))
    nid = _notification_id(ledger, 23)
    store = ledger.store
    _tamper(
        ledger,
        f"DELETE FROM {store.events_table} WHERE {store.notification_column} = ?",
        (nid,),
    )
    report = ledger.verify()
    assert (report.valid, report.first_invalid_seq) == (False, 23)


def test_verify_reports_a_deleted_chain_row_and_an_edited_hash(ledger: Ledger, sample):
    ledger.ingest_messages(_messages(sample[:60]))
    _tamper(ledger, "DELETE FROM {t:ledger_chain} WHERE seq = ?", (31,))
    assert ledger.verify().first_invalid_seq == 31
    _tamper(ledger, "UPDATE {t:ledger_chain} SET hash = ? WHERE seq = ?", ("0" * 64, 12))
    assert ledger.verify().first_invalid_seq == 12


def test_seq_continues_gap_free_across_batches_and_restarts(open_ledger: LedgerFactory, sample, clock: Clock):
    first = open_ledger()
    first.ingest_messages(_messages(sample[:150]))
    first.close()
    second = open_ledger()
    second.ingest_messages(_messages(sample[150:320]))
    rows = _chain_rows(second)
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))
    assert all(rows[i]["prev_hash"] == rows[i - 1]["hash"] for i in range(1, len(rows)))
    assert second.verify().valid


def test_jsonl_file_ingest_counts_and_keeps_line_numbers(ledger: Ledger, tmp_path: Path, sample):
    path = tmp_path / "events.jsonl"
    lines = [json.dumps(e) for e in sample[:20]] + ["{not json", json.dumps(sample[0])]
    path.write_text("\n".join(lines) + "\n")
    result = ledger.ingest_files([path])
    assert result.summary()["stored"] == 20
    assert (result.duplicates, result.dead_lettered) == (1, 1)
    [letter] = result.dead_letters
    assert (letter.error_code, letter.offset, letter.topic) == (
        "MALFORMED_JSON",
        21,
        "file:events.jsonl",
    )


def test_avro_container_ingest_matches_json_and_dedups_across_forms(ledger: Ledger, tmp_path: Path, sample):
    from ledger.avro import AvroCodec

    avro_path = tmp_path / "events.avro"
    with avro_path.open("wb") as fh:
        AvroCodec().write_container(fh, sample[:50])
    json_path = tmp_path / "events.jsonl"
    json_path.write_text("\n".join(json.dumps(e) for e in sample[:50]) + "\n")
    from_avro = ledger.ingest_files([avro_path])
    assert (from_avro.stored, from_avro.dead_lettered) == (50, 0)
    from_json = ledger.ingest_files([json_path])
    assert (from_json.stored, from_json.duplicates, from_json.dead_lettered) == (0, 50, 0)


def test_destroyed_key_material_is_gone_from_the_sqlite_files(tmp_path: Path, clock: Clock):
    key_file = tmp_path / "kek"
    key_file.write_text(base64.b64encode(os.urandom(32)).decode())
    key_file.chmod(0o600)  # the ledger refuses a key file open to others
    db = tmp_path / "l.db"
    ledger = Ledger.open(Settings(database_url=f"sqlite:///{db}", master_key_file=key_file), clock=clock)
    try:
        subject = new_id()
        ledger.ingest_messages(
            _messages([collected(subject, [("contact_details", "email", "wiped.key@example.com")])])
        )
        with ledger.store.read() as cur:
            wrapped = [
                bytes(r["wrapped"])
                for r in cur.execute(
                    "SELECT wrapped FROM {t:ledger_keys} WHERE subject_id = ?", (subject,)
                ).all()
            ]
        assert wrapped and all(w in _sqlite_bytes(db) for w in wrapped)
        ledger.erase(subject)
        left = [w for w in wrapped if w in _sqlite_bytes(db)]
        assert left == [], "a destroyed (wrapped) data key can still be read from the files"
    finally:
        ledger.close()


def _sqlite_bytes(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in (db, Path(f"{db}-wal")) if p.exists())


def test_request_event_for_another_subject_is_inconsistent_subject(ledger: Ledger):
    subject, stranger, request = new_id(), new_id(), new_id()
    received = event(
        "RightsRequestReceived",
        subject,
        {"request_id": request, "request_type": "access", "channel": "email", "via_third_party": False},
    )
    wrong = event(
        "IdentityVerificationRequested",
        stranger,
        {"request_id": request, "kind": "identity"},
        occurred_at="2026-10-01T10:00:00Z",
    )
    result = ledger.ingest_messages(_messages([received, wrong]))
    [letter] = result.dead_letters
    assert (letter.error_code, letter.error_path) == ("INCONSISTENT_SUBJECT", "/subject_id")


def test_merge_cycle_and_self_merge_are_invalid_merge(ledger: Ledger):
    a, b = new_id(), new_id()

    def merge(survivor: str, merged: str) -> dict[str, Any]:
        return event(
            "SubjectsMerged",
            survivor,
            {"surviving_subject_id": survivor, "merged_subject_id": merged, "reason": "identity_matched"},
        )

    result = ledger.ingest_messages(_messages([merge(a, b), merge(b, a), merge(a, a)]))
    assert result.stored == 1
    # b -> a would make a cycle (a already absorbed b); a -> a merges a subject with itself.
    assert [(d.error_code, d.error_path) for d in result.dead_letters] == [
        ("INVALID_MERGE", "/payload/surviving_subject_id"),
        ("INVALID_MERGE", "/payload/merged_subject_id"),
    ]
