"""Integrity (spec 3.4): `verify` from the last verified checkpoint, and what it does and does not see.

A recorded verification (``verify --record``) keeps the largest signed checkpoint it matched; the next
verification checks that checkpoint (signature, the stored tree's root against the signed root, its
last record re-hashed and proven in that root, no chain row missing up to it) and every later record
in full. Records before it are not re-hashed: an edit there that leaves the tree and chain hashes alone
shows only to a full verification. Each test edits the real database (SQLite file, real PostgreSQL).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ledger.bootstrap import Ledger
from ledger.log.storage import node_key
from ledger.log.tree import NodeID
from ledger.store.chain import ANCHOR_META, ChainReport, record_anchor
from ledger.store.messages import Message
from ledger.testing import collected, event, new_id


def _messages(events: list[dict[str, Any]]) -> list[Message]:
    return [Message("test", 0, i, event=e, raw=json.dumps(e).encode()) for i, e in enumerate(events)]


def _story(ledger: Ledger) -> dict[str, str]:
    """A (seq 1-2) and B (seq 3-4), a checkpoint of 4 verified and recorded; then A (seq 5), B (seq 6)
    and a new subject C (seq 7), after the last verified checkpoint."""
    a, b, c = new_id(), new_id(), new_id()
    before = [
        event("SubjectRegistered", a, {"roles": ["website_user"], "display_name": "Alex Apple"}),
        collected(a, [("contact_details", "email", "alex.apple@example.com")]),
        event("SubjectRegistered", b, {"roles": ["website_user"], "display_name": "Bo Berry"}),
        collected(b, [("contact_details", "email", "bo.berry@example.com")]),
    ]
    assert (ledger.ingest_messages(_messages(before)).last_seq) == 4
    assert ledger.issue_checkpoint()[0].size == 4
    full = ledger.verify()
    assert full.valid and full.verified_checkpoint == 4
    assert record_anchor(ledger.store, full)
    after = [
        collected(a, [("postal_address", "line1", "1 Apple Row")], occurred_at="2026-10-02T09:00:00Z"),
        collected(b, [("postal_address", "line1", "2 Berry Lane")], occurred_at="2026-10-02T09:00:00Z"),
        event("SubjectRegistered", c, {"roles": ["website_user"], "display_name": "Cy Cherry"}),
    ]
    assert ledger.ingest_messages(_messages(after)).last_seq == 7
    return {"a": a, "b": b, "c": c}


def _tamper(ledger: Ledger, sql: str, params: tuple[Any, ...] = ()) -> None:
    with ledger.store.write(lock=False) as cur:
        cur.execute(sql, params)


def _edit_record(ledger: Ledger, seq: int) -> None:
    """Change the stored event of ``seq`` (its occurred_at), nothing else: chain and tree rows untouched."""
    store = ledger.store
    where = f"{store.notification_column} = (SELECT notification_id FROM {{t:ledger_chain}} WHERE seq = ?)"
    with store.read() as cur:
        state = cur.execute(f"SELECT state FROM {store.events_table} WHERE {where}", (seq,)).scalar()
    stored = json.loads(bytes(state))
    stored["record"]["occurred_at"] = "2020-01-01T00:00:00Z"
    edited = json.dumps(stored).encode()
    _tamper(ledger, f"UPDATE {store.events_table} SET state = ? WHERE {where}", (edited, seq))


def _incremental(ledger: Ledger) -> ChainReport:
    return ledger.verify(incremental=True)


def test_verify_starts_from_the_last_verified_checkpoint_and_reports_its_rate(ledger: Ledger):
    _story(ledger)
    report = _incremental(ledger)
    assert report.valid, report.problems
    assert (report.mode, report.length, report.events_checked) == ("incremental", 7, 3)
    assert report.anchor is not None and report.anchor["size"] == 4
    assert report.events_per_second is not None and report.events_per_second > 0
    assert any("records 5..7" in line for line in report.checked)
    assert any("records 1..3: not re-hashed" in line for line in report.not_checked)
    full = ledger.verify()
    assert (full.valid, full.mode, full.events_checked, full.not_checked) == (True, "full", 7, [])
    assert full.head_hash == report.head_hash and full.root_hash == report.root_hash


EDITS_AFTER = {
    "the stored event": lambda ledger, s: _edit_record(ledger, 5),
    "a chain row's subject": lambda ledger, s: _tamper(
        ledger, "UPDATE {t:ledger_chain} SET subject_id = ? WHERE seq = 5", (s["b"],)
    ),
    # Counted on from the versions stored before the checkpoint (A's third event is version 3).
    "a chain row's stream version": lambda ledger, s: _tamper(
        ledger, "UPDATE {t:ledger_chain} SET stream_version = 9 WHERE seq = 5"
    ),
    "a stored tree leaf": lambda ledger, s: _tamper(
        ledger, "UPDATE {t:ledger_tree} SET hash = ? WHERE node = ?", (b"\x01" * 32, node_key(NodeID(0, 4)))
    ),
}


@pytest.mark.parametrize("edit", sorted(EDITS_AFTER))
def test_incremental_verify_catches_an_edit_after_the_last_verified_checkpoint(ledger: Ledger, edit: str):
    story = _story(ledger)
    EDITS_AFTER[edit](ledger, story)
    report = _incremental(ledger)
    assert (report.valid, report.mode, report.first_invalid_seq) == (False, "incremental", 5)


def test_incremental_verify_catches_an_event_row_added_behind_the_ledgers_back(ledger: Ledger):
    _story(ledger)
    store = ledger.store
    _tamper(
        ledger,
        f"INSERT INTO {store.events_table} (originator_id, originator_version, topic, state) "
        f"SELECT originator_id, originator_version + 100, topic, state FROM {store.events_table} "
        f"WHERE {store.notification_column} = (SELECT notification_id FROM {{t:ledger_chain}} WHERE seq = 7)",
    )
    report = _incremental(ledger)
    assert (report.valid, report.mode, report.first_invalid_seq) == (False, "incremental", 8)


def test_an_edit_before_the_last_verified_checkpoint_shows_only_to_a_full_verify(ledger: Ledger):
    _story(ledger)
    _edit_record(ledger, 2)  # the tree and chain hashes left alone: the signed root still matches
    unseen = _incremental(ledger)
    assert (unseen.valid, unseen.mode) == (True, "incremental")
    assert any("records 1..3: not re-hashed" in line for line in unseen.not_checked)
    full = ledger.verify()
    assert not full.valid and "chain: first invalid seq 2" in full.problems


def _rewrite_subtree(ledger: Ledger, s: dict[str, str]) -> None:
    # The stored subtree over leaves 0-3 (the checkpoint's whole tree): its root no longer the signed one.
    _tamper(
        ledger, "UPDATE {t:ledger_tree} SET hash = ? WHERE node = ?", (b"\x02" * 32, node_key(NodeID(2, 0)))
    )


def _delete_record(ledger: Ledger, s: dict[str, str]) -> None:
    store = ledger.store
    _tamper(
        ledger,
        f"DELETE FROM {store.events_table} WHERE {store.notification_column} = "
        "(SELECT notification_id FROM {t:ledger_chain} WHERE seq = 2)",
    )
    _tamper(ledger, "DELETE FROM {t:ledger_dedup} WHERE seq = 2")
    _tamper(ledger, "DELETE FROM {t:ledger_chain} WHERE seq = 2")


ANCHOR_FAULTS = {
    # edit -> the problem it names
    "its last record edited": (lambda ledger, s: _edit_record(ledger, 4), "record 4 no longer hashes"),
    "the tree under it rewritten": (_rewrite_subtree, "differs from its signed root"),
    "a record before it deleted": (_delete_record, "chain row(s) up to it are missing"),
}


@pytest.mark.parametrize("fault", sorted(ANCHOR_FAULTS))
def test_a_last_verified_checkpoint_that_no_longer_checks_out_makes_the_verification_full(
    ledger: Ledger, fault: str
):
    story = _story(ledger)
    edit, problem = ANCHOR_FAULTS[fault]
    edit(ledger, story)
    report = _incremental(ledger)
    anchor_problems = [p for p in report.problems if p.startswith("verify anchor: checkpoint 4")]
    assert len(anchor_problems) == 1 and problem in anchor_problems[0]
    # ... and the full verification it fell back to locates the fault, as `--full` does.
    full = ledger.verify()
    assert (report.valid, report.mode, report.events_checked) == (False, "full", full.events_checked)
    assert report.first_invalid_seq == full.first_invalid_seq and 1 <= (full.first_invalid_seq or 0) <= 4
    assert [p for p in report.problems if p not in anchor_problems] == full.problems


def test_a_recorded_checkpoint_that_was_never_issued_is_a_problem(ledger: Ledger):
    _story(ledger)
    _tamper(ledger, "UPDATE {t:ledger_meta} SET v = ? WHERE k = ?", (json.dumps({"size": 3}), ANCHOR_META))
    report = _incremental(ledger)
    assert (report.valid, report.mode, report.first_invalid_seq) == (False, "full", None)
    assert "missing from the checkpoints table" in " ".join(report.problems)


def test_a_valid_recorded_verification_moves_the_starting_point_to_its_largest_checkpoint(ledger: Ledger):
    _story(ledger)
    assert ledger.issue_checkpoint()[0].size == 7
    report = _incremental(ledger)
    assert (report.valid, report.verified_checkpoint) == (True, 7)
    assert record_anchor(ledger.store, report)
    again = _incremental(ledger)
    assert again.valid and again.anchor is not None and again.anchor["size"] == 7
    assert (again.length, again.events_checked) == (7, 0)


def test_an_invalid_verification_does_not_move_the_starting_point(ledger: Ledger):
    _story(ledger)
    assert ledger.issue_checkpoint()[0].size == 7
    _edit_record(ledger, 6)
    broken = ledger.verify()
    assert not broken.valid and not record_anchor(ledger.store, broken)
    report = _incremental(ledger)
    assert report.anchor is not None and report.anchor["size"] == 4
    assert not report.valid and report.first_invalid_seq == broken.first_invalid_seq
