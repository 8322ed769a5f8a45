"""Sharding by subject, on this machine: two ledgers (two PostgreSQL schemas, two logs with their own
origin, key and checkpoints) fed by the subject router of ``ledger.sharding``, against one ledger fed
the same events. The fleet-wide views merged from the shards equal the single ledger's, and each shard's
log verifies on its own (deploy/SCALING.md)."""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from ledger.bootstrap import Ledger
from ledger.config import Settings
from ledger.sample import generate_events
from ledger.sharding import CROSS_SHARD_MERGE, merge_answers, route, shard_of
from ledger.store.messages import Message
from projections.service import Projections

pytestmark = pytest.mark.postgres

AS_OF = datetime(2026, 12, 1, tzinfo=UTC)


def _open(pg_url: str, tmp: Path, name: str, schemas: list[str]) -> Ledger:
    folder = tmp / name
    folder.mkdir()
    key = folder / "master.key"
    key.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
    key.chmod(0o600)
    schema = f"s_{uuid.uuid4().hex[:10]}"
    schemas.append(schema)
    return Ledger.open(
        Settings(
            database_url=f"{pg_url}?schema={schema}",
            master_key_file=key,
            var_dir=folder / "var",
            log_origin=f"privacy-ledger.example.com/{name}",
        )
    )


@pytest.fixture
def fleet(pg_url: str, tmp_path: Path) -> Iterator[dict[str, Ledger]]:
    schemas: list[str] = []
    ledgers = {name: _open(pg_url, tmp_path, name, schemas) for name in ("single", "shard-0", "shard-1")}
    yield ledgers
    for ledger in ledgers.values():
        ledger.close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for schema in schemas:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _ingest(ledger: Ledger, events: list[dict[str, Any]]) -> None:
    ledger.ingest_messages([Message("events", 0, i, event=e) for i, e in enumerate(events)])


def test_a_merge_across_shards_is_refused_and_one_within_a_shard_is_routed():
    subjects = [str(uuid.UUID(int=n)) for n in range(1, 40)]
    by_shard: dict[int, list[str]] = {}
    for s in subjects:
        by_shard.setdefault(shard_of(s, 2), []).append(s)
    a0, b0 = by_shard[0][:2]
    a1 = by_shard[1][0]

    def merge(survivor: str, merged: str) -> dict[str, Any]:
        payload = {
            "surviving_subject_id": survivor,
            "merged_subject_id": merged,
            "reason": "duplicate_record",
        }
        return {"event_type": "SubjectsMerged", "subject_id": survivor, "payload": payload}

    routed = route([merge(a0, b0), merge(a0, a1)], 2)
    assert [e["payload"]["merged_subject_id"] for e in routed.by_shard[0]] == [b0]
    assert routed.by_shard[1] == []
    assert [(e["payload"]["merged_subject_id"], code) for e, code in routed.refused] == [
        (a1, CROSS_SHARD_MERGE)
    ]
    assert shard_of(a0, 2) == shard_of(a0, 2) and {shard_of(s, 2) for s in subjects} == {0, 1}


def test_two_shards_give_the_fleet_wide_views_of_one_ledger_and_verify_on_their_own(
    fleet: dict[str, Ledger],
):
    routed = route(generate_events(seed=44, subjects=150), 2)
    assert all(len(events) > 100 for events in routed.by_shard)  # both shards hold a real share
    _ingest(fleet["single"], routed.accepted())
    for shard, events in enumerate(routed.by_shard):
        _ingest(fleet[f"shard-{shard}"], events)

    answers: dict[str, dict[str, Any]] = {}
    for name, ledger in fleet.items():
        projections = Projections(ledger.store, ledger.keys, ledger.codes)
        projections.catch_up()
        answers[name] = {
            "requests": projections.query("requests", as_of=AS_OF, include_closed=True),
            "disclosures": projections.query("disclosures", as_of=AS_OF),
            "complaints": projections.query("complaints", as_of=AS_OF),
        }
    for view in ("requests", "disclosures", "complaints"):
        single = answers["single"][view]
        assert single, view
        merged = merge_answers(view, [answers["shard-0"][view], answers["shard-1"][view]])
        assert merged == single, view

    # Each shard is a log of its own: its chain, tree and checkpoint verify without the other shard.
    notes = []
    for name in ("shard-0", "shard-1"):
        ledger = fleet[name]
        issued = ledger.checkpoint()
        assert issued.size == ledger.head_seq()
        report = ledger.verify()
        assert report.valid and not report.problems, (name, report.problems)
        assert issued.note.startswith(f"privacy-ledger.example.com/{name}\n")
        notes.append(issued.note)
    assert fleet["shard-0"].verifier_key != fleet["shard-1"].verifier_key
    assert fleet["shard-0"].head_seq() + fleet["shard-1"].head_seq() == fleet["single"].head_seq()
