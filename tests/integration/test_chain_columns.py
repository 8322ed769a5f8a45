"""Integrity (spec 3.4): every column a read or a view trusts is covered by the hash or re-checked.

Each test edits one column in the real database (SQLite file, real PostgreSQL) behind the ledger's
back: ``verify`` must name the seq it belongs to, and a read must not show the event under another
subject.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from ledger.bootstrap import Ledger
from ledger.store.messages import Message
from ledger.testing import collected, event, new_id
from projections.base import ProjectionError
from projections.service import Projections

ALEX_ADDRESS = "1 Apple Row"
MERGED_EMAIL = "mo.merged@example.com"


def _messages(events: list[dict[str, Any]]) -> list[Message]:
    return [Message("test", 0, i, event=e, raw=json.dumps(e).encode()) for i, e in enumerate(events)]


def _story(ledger: Ledger) -> dict[str, Any]:
    """A (seq 1-2), B (seq 3-4), M (seq 5) merged into B (seq 6); views brought up to date."""
    a, b, m = new_id(), new_id(), new_id()
    events = [
        event("SubjectRegistered", a, {"roles": ["website_user"], "display_name": "Alex Apple"}),
        collected(a, [("postal_address", "line1", ALEX_ADDRESS)]),
        event("SubjectRegistered", b, {"roles": ["website_user"], "display_name": "Bo Berry"}),
        collected(b, [("contact_details", "email", "bo.berry@example.com")]),
        collected(m, [("contact_details", "work_email", MERGED_EMAIL)]),
        event(
            "SubjectsMerged",
            b,
            {"surviving_subject_id": b, "merged_subject_id": m, "reason": "duplicate_record"},
        ),
    ]
    result = ledger.ingest_messages(_messages(events))
    assert result.dead_letters == [] and (result.first_seq, result.last_seq) == (1, 6)
    projections = Projections(ledger.store, ledger.keys, ledger.codes)
    projections.catch_up()
    assert ledger.verify().valid
    return {"a": a, "b": b, "m": m, "ids": [e["event_id"] for e in events], "projections": projections}


def _tamper(ledger: Ledger, sql: str, params: tuple[Any, ...] = ()) -> None:
    with ledger.store.write(lock=False) as cur:
        cur.execute(sql, params)


def _notification_id(ledger: Ledger, seq: int) -> int:
    with ledger.store.read() as cur:
        return int(cur.execute("SELECT notification_id FROM {t:ledger_chain} WHERE seq = ?", (seq,)).scalar())


def _inventory(story: dict[str, Any], subject: str) -> str:
    answer = story["projections"].query(
        "inventory", as_of=datetime.fromisoformat("2026-11-01T00:00:00+00:00"), subject=subject
    )
    return json.dumps(answer)


def _assert_invalid_at(ledger: Ledger, seq: int) -> None:
    report = ledger.verify()
    assert (report.valid, report.first_invalid_seq, report.length) == (False, seq, 6)


CHAIN_EDITS = {
    "subject_id": lambda s: s["b"],
    "event_type": lambda s: "SubjectRegistered",
    "event_id": lambda s: s["ids"][3],
    "recorded_at": lambda s: "2026-01-01T00:00:00Z",
    "stream_id": lambda s: "00000000-0000-4000-8000-000000000000",
    "stream_version": lambda s: 9,
}


@pytest.mark.parametrize("column", sorted(CHAIN_EDITS))
def test_verify_names_the_seq_whose_chain_column_was_edited(ledger: Ledger, column: str):
    story = _story(ledger)
    _tamper(
        ledger, f"UPDATE {{t:ledger_chain}} SET {column} = ? WHERE seq = 2", (CHAIN_EDITS[column](story),)
    )
    _assert_invalid_at(ledger, 2)


def test_an_event_moved_to_another_subject_is_not_shown_under_it(ledger: Ledger):
    story = _story(ledger)
    assert ALEX_ADDRESS in json.dumps(ledger.subject_events(story["a"]))
    _tamper(ledger, "UPDATE {t:ledger_chain} SET subject_id = ? WHERE seq = 2", (story["b"],))
    _assert_invalid_at(ledger, 2)
    shown = ledger.subject_events(story["b"])
    assert ALEX_ADDRESS not in json.dumps(shown)
    assert [e["seq"] for e in shown] == [3, 4, 6]
    assert ALEX_ADDRESS not in _inventory(story, story["b"])


def test_verify_names_the_seqs_whose_notification_ids_were_swapped(ledger: Ledger):
    _story(ledger)
    two, four = _notification_id(ledger, 2), _notification_id(ledger, 4)
    _tamper(ledger, "UPDATE {t:ledger_chain} SET notification_id = ? WHERE seq = 2", (-1,))
    _tamper(ledger, "UPDATE {t:ledger_chain} SET notification_id = ? WHERE seq = 4", (two,))
    _tamper(ledger, "UPDATE {t:ledger_chain} SET notification_id = ? WHERE seq = 2", (four,))
    _assert_invalid_at(ledger, 2)


def test_verify_names_the_seq_whose_event_row_topic_was_edited(ledger: Ledger):
    _story(ledger)
    store = ledger.store
    _tamper(
        ledger,
        f"UPDATE {store.events_table} SET topic = ? WHERE {store.notification_column} = ?",
        ("privacy.subject_registered.v1", _notification_id(ledger, 2)),
    )
    _assert_invalid_at(ledger, 2)


def test_verify_names_the_seq_whose_event_row_stream_was_edited(ledger: Ledger):
    _story(ledger)
    store = ledger.store
    # Onto the merged subject's stream (one version so far): no clash with the unique (stream, version).
    _tamper(
        ledger,
        f"UPDATE {store.events_table} SET originator_id = (SELECT originator_id FROM {store.events_table} "
        f"WHERE {store.notification_column} = ?) WHERE {store.notification_column} = ?",
        (_notification_id(ledger, 5), _notification_id(ledger, 2)),
    )
    _assert_invalid_at(ledger, 2)


def test_verify_names_the_seq_whose_event_row_version_was_edited(ledger: Ledger):
    _story(ledger)
    store = ledger.store
    _tamper(
        ledger,
        f"UPDATE {store.events_table} SET originator_version = 9 WHERE {store.notification_column} = ?",
        (_notification_id(ledger, 2),),
    )
    _assert_invalid_at(ledger, 2)


def test_verify_names_the_seq_whose_dedup_row_points_elsewhere(ledger: Ledger):
    story = _story(ledger)
    _tamper(ledger, "UPDATE {t:ledger_dedup} SET seq = 4 WHERE event_id = ?", (story["ids"][1],))
    _assert_invalid_at(ledger, 2)
    # Values are looked up through the dedup index: B's email must not be read as A's address.
    with pytest.raises(ProjectionError, match="missing"):
        _inventory(story, story["a"])


def test_verify_names_a_dedup_row_for_an_event_never_stored(ledger: Ledger):
    _story(ledger)
    _tamper(
        ledger,
        "INSERT INTO {t:ledger_dedup} (event_id, fp_kid, fingerprint, seq) VALUES (?, 'x', 'x', 3)",
        (new_id(),),
    )
    _assert_invalid_at(ledger, 3)


def test_an_edited_merge_row_fails_verify_and_joins_no_one_to_the_wrong_subject(ledger: Ledger):
    story = _story(ledger)
    assert MERGED_EMAIL in _inventory(story, story["b"])
    _tamper(
        ledger,
        "UPDATE {t:ledger_merges} SET surviving_subject_id = ? WHERE merged_subject_id = ?",
        (story["a"], story["m"]),
    )
    _assert_invalid_at(ledger, 6)
    fresh = Projections(ledger.store, ledger.keys, ledger.codes)
    story["projections"] = fresh
    assert MERGED_EMAIL not in _inventory(story, story["a"])


def test_a_merge_row_no_event_made_fails_verify_and_joins_no_one(ledger: Ledger):
    story = _story(ledger)
    # A's registration (seq 1) presented as the event that merged A into B.
    _tamper(
        ledger,
        "INSERT INTO {t:ledger_merges} (merged_subject_id, surviving_subject_id, event_id) VALUES (?, ?, ?)",
        (story["a"], story["b"], story["ids"][0]),
    )
    _assert_invalid_at(ledger, 1)
    story["projections"] = Projections(ledger.store, ledger.keys, ledger.codes)
    assert ALEX_ADDRESS not in _inventory(story, story["b"])
