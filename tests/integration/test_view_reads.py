"""The read trail (spec 8): "who looked at this person's data" and "what did this user look at".

A view over the ``PersonalDataViewed`` records (``projections.reads``): one row per plaintext read,
newest first, filtered by subject (the whole merge family, whichever id was read) or by actor, at any
``as_of``; a staff user's name comes from the staff directory. Rebuilt from zero, or kept by runners
taking turns, it is the same, on both backends. The reads are also in the subject's timeline export
(spec 6.8).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import Clock, on_both_backends

from ledger.bootstrap import Ledger
from ledger.store.messages import Message
from ledger.testing import collected, event, new_id
from ledger.web.identity import Directory
from ledger.web.roles import Role
from projections.query_options import QueryUsageError, UnknownSubjectError
from projections.service import Projections

T0 = datetime(2026, 10, 20, 9, 0, tzinfo=UTC)
EMAIL = "rowan.reads@example.com"


def _story(ledger: Ledger) -> dict[str, str]:
    """Subjects ``a`` (``b`` merged into it) and ``c``, each holding a fictional value."""
    a, b, c = new_id(), new_id(), new_id()
    events = [
        collected(a, [("contact_details", "email", EMAIL)], occurred_at="2026-10-01T09:00:00Z"),
        collected(b, [("name", "full", "Rowan Reads")], occurred_at="2026-10-02T09:00:00Z"),
        collected(c, [("name", "full", "Casey Other")], occurred_at="2026-10-03T09:00:00Z"),
        event(
            "SubjectsMerged",
            a,
            {"surviving_subject_id": a, "merged_subject_id": b, "reason": "duplicate_record"},
            occurred_at="2026-10-04T09:00:00Z",
        ),
    ]
    result = ledger.ingest_messages([Message("test", 0, i, event=e) for i, e in enumerate(events)])
    assert result.stored == len(events)
    return {"a": a, "b": b, "c": c}


def _read(ledger: Ledger, clock: Clock, at: datetime, subject: str, actor: str, **extra: Any) -> None:
    clock.now = at
    fields: dict[str, Any] = {
        "role": "officer",
        "view": "inventory",
        "reason": "rights_request",
        "interface": "api",
    }
    fields.update(extra)
    ledger.record_read(subject, actor_ref=actor, **fields)


def _reads(ledger: Ledger, clock: Clock) -> dict[str, str]:
    """Four reads by a staff user and the command line, an hour apart (the last one the newest)."""
    ids = _story(ledger)
    request = new_id()
    ann, _ = _directory(ledger).add_user("ann-reads", Role.OFFICER)
    ids["ann"] = ann.user_id
    _read(ledger, clock, T0, ids["a"], ann.user_id, case_id=request)
    _read(
        ledger,
        clock,
        T0 + timedelta(hours=1),
        ids["b"],
        "cli:uid:1000",
        role="host_operator",
        interface="cli",
    )
    _read(ledger, clock, T0 + timedelta(hours=2), ids["c"], ann.user_id, reason="complaint_handling")
    _read(
        ledger,
        clock,
        T0 + timedelta(hours=3),
        ids["a"],
        "cli:uid:1000",
        role="host_operator",
        view="subject_events",
        interface="cli",
    )
    ids["request"] = request
    return ids


def _directory(ledger: Ledger) -> Directory:
    directory = Directory(ledger.store, ledger.clock)
    directory.ensure_tables()
    return directory


def _query(projections: Projections, **filters: Any) -> Any:
    return projections.query("reads", as_of=T0 + timedelta(days=1), **filters)


def test_the_trail_answers_who_read_a_person_and_what_an_actor_read(ledger: Ledger, clock: Clock):
    ids = _reads(ledger, clock)
    projections = Projections(ledger.store, ledger.keys, ledger.codes)
    projections.catch_up()
    everything = _query(projections)
    assert [(r["subject_id"], r["actor_ref"], r["view"]) for r in everything] == [
        (ids["a"], "cli:uid:1000", "subject_events"),
        (ids["c"], ids["ann"], "inventory"),
        (ids["b"], "cli:uid:1000", "inventory"),
        (ids["a"], ids["ann"], "inventory"),
    ]
    first = everything[-1]
    assert first == {
        "event_id": first["event_id"],
        "read_at": "2026-10-20T09:00:00.000000Z",
        "subject_id": ids["a"],
        "resolved_subject_id": ids["a"],
        "actor_ref": ids["ann"],
        "username": "ann-reads",  # from the staff directory
        "role": "officer",
        "view": "inventory",
        "reason": "rights_request",
        "interface": "api",
        "case_id": ids["request"],
    }
    # Who looked at this person: the merge family, whichever of its ids is asked.
    family = [r for r in everything if r["subject_id"] in (ids["a"], ids["b"])]
    assert _query(projections, subject=ids["a"]) == family == _query(projections, subject=ids["b"].upper())
    assert {r["resolved_subject_id"] for r in family} == {ids["a"]}
    assert _query(projections, subject=ids["c"]) == [everything[1]]
    # What did this user look at.
    assert _query(projections, actor=ids["ann"]) == [everything[1], everything[3]]
    assert [r["username"] for r in _query(projections, actor="cli:uid:1000")] == [None, None]
    assert _query(projections, actor="cli:uid:4242") == []
    # As of an earlier instant, the later reads are not there yet.
    earlier = projections.query("reads", as_of=T0 + timedelta(minutes=90))
    assert earlier == everything[2:]
    assert EMAIL not in json.dumps(everything) and "Rowan" not in json.dumps(everything)


def test_the_trail_refuses_an_unknown_subject_and_an_actor_that_is_no_reference(ledger: Ledger, clock: Clock):
    _reads(ledger, clock)
    projections = Projections(ledger.store, ledger.keys, ledger.codes)
    with pytest.raises(UnknownSubjectError):
        _query(projections, subject=new_id())
    with pytest.raises(QueryUsageError) as info:
        _query(projections, actor="ann@example.com")
    assert "ann@example.com" not in str(info.value)
    with pytest.raises(QueryUsageError):
        _query(projections, status="OPEN")


def _rows(ledger: Ledger, projections: Projections) -> list[str]:
    with ledger.store.read() as cur:
        rows = cur.execute("SELECT * FROM {t:view_reads}").all()
    return sorted(json.dumps(r, sort_keys=True, default=str) for r in rows)


def test_a_rebuild_from_zero_and_runners_taking_turns_give_the_same_trail(ledger: Ledger, clock: Clock):
    ids = _story(ledger)
    mine = Projections(ledger.store, ledger.keys, ledger.codes)
    theirs = Projections(ledger.store, ledger.keys, ledger.codes)
    _read(ledger, clock, T0, ids["a"], "cli:uid:1000", role="host_operator", interface="cli")
    mine.catch_up()
    _read(
        ledger,
        clock,
        T0 + timedelta(hours=1),
        ids["b"],
        "cli:uid:1001",
        role="host_operator",
        interface="cli",
    )
    theirs.catch_up()
    _read(
        ledger,
        clock,
        T0 + timedelta(hours=2),
        ids["c"],
        "cli:uid:1000",
        role="host_operator",
        interface="cli",
    )
    mine.catch_up()
    taking_turns, answer = _rows(ledger, mine), _query(mine)
    assert len(answer) == 3
    fresh = Projections(ledger.store, ledger.keys, ledger.codes)
    fresh.rebuild("reads")
    assert _rows(ledger, fresh) == taking_turns and _query(fresh) == answer
    fresh.rebuild("all")
    assert _rows(ledger, fresh) == taking_turns and _query(fresh) == answer


@pytest.mark.postgres
def test_sqlite_and_postgres_give_the_same_trail(pg_url: str, tmp_path: Path):
    def run(ledger: Ledger) -> list[dict[str, Any]]:
        assert isinstance(ledger.clock, Clock)
        ids = _reads(ledger, ledger.clock)
        projections = Projections(ledger.store, ledger.keys, ledger.codes)
        projections.catch_up()
        names = {v: k for k, v in ids.items()}
        # Ids are random per run: compare them by the role they play in the story.
        return [
            {k: names.get(v, v) for k, v in row.items() if k != "event_id"} for row in _query(projections)
        ]

    on_sqlite, on_postgres = on_both_backends(pg_url, tmp_path, run)
    assert on_sqlite == on_postgres and len(on_sqlite) == 4


def test_a_read_is_in_the_subject_timeline_export(ledger: Ledger, clock: Clock):
    from ledger.export.bundle import build_export

    ids = _story(ledger)
    _read(
        ledger,
        clock,
        T0,
        ids["b"],
        "cli:uid:1000",
        role="host_operator",
        interface="cli",
        reason="legal_claim",
    )
    doc = build_export(ledger, "subject", ids["a"], record_disclosure=False)
    reads = [e for e in doc["entries"] if e["event_type"] == "PersonalDataViewed"]
    assert len(reads) == 1
    assert reads[0]["subject_id"] == ids["b"]
    assert reads[0]["payload"] == {
        "actor_ref": "cli:uid:1000",
        "role": "host_operator",
        "view": "inventory",
        "reason": "legal_claim",
        "interface": "cli",
    }
