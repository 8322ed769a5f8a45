"""Integrity (design: Integrity): the Merkle log over the records, signed checkpoints, proofs, and what
``verify`` and the checkpoint issuer report when the database is tampered with behind the ledger's back.

Every test runs on a SQLite file and on the real PostgreSQL server. Leaves are recomputed here from the
stored records (``seq``, ``prev_hash`` and the stored event, as the chain hashes them) and the tree from
RFC 9162's definition, independently of the ledger's incremental integration.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from typing import Any

import pytest
from conftest import load_standalone_verifier

from ledger.bootstrap import Ledger
from ledger.canonical import canonical_bytes
from ledger.log.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from ledger.log.checkpoints import issued_checkpoints, tree_size
from ledger.log.issue import CheckpointRefused
from ledger.log.merkle import leaf_hash, merkle_tree_hash, verify_consistency
from ledger.log.note import SignerKey
from ledger.log.prove import NoProof
from ledger.log.signing import SigningKeyError
from ledger.log.storage import DbHashSource, node_key, store_nodes
from ledger.log.tlog_proof import TlogProof, verify_tlog_proof
from ledger.log.tree import Frontier, tree_root
from ledger.log.witness import note_size
from ledger.sample import generate_events
from ledger.store.messages import Message

pytestmark = pytest.mark.usefixtures("backend")


def _messages(events: list[dict[str, Any]]) -> list[Message]:
    return [Message("test", 0, i, event=e) for i, e in enumerate(events)]


def _ingest(ledger: Ledger, events: list[dict[str, Any]], batch_size: int = 37) -> None:
    result = ledger.ingestor.ingest(_messages(events), batch_size=batch_size)
    assert result.dead_lettered == 0, result.dead_letters[:3]


def _records(ledger: Ledger) -> list[dict[str, Any]]:
    """Every chain row with its stored record, in seq order."""
    store = ledger.store
    with store.read() as cur:
        rows = cur.execute(
            "SELECT c.seq, c.prev_hash, c.hash, c.notification_id, e.state FROM {t:ledger_chain} c "
            f"JOIN {store.events_table} e ON e.{store.notification_column} = c.notification_id "
            "ORDER BY c.seq"
        ).all()
    return [{**r, "record": json.loads(bytes(r["state"]))["record"]} for r in rows]


def _leaf_bytes(row: dict[str, Any]) -> bytes:
    """Leaf seq - 1: JCS of the stored record with seq and prev_hash, as the chain hashes it."""
    return canonical_bytes({**row["record"], "seq": row["seq"], "prev_hash": row["prev_hash"]})


def _leaf_hashes(ledger: Ledger) -> list[bytes]:
    return [leaf_hash(_leaf_bytes(r)) for r in _records(ledger)]


def _stored_root(ledger: Ledger, size: int) -> bytes:
    with ledger.store.read() as cur:
        return tree_root(size, DbHashSource(cur))


def _size(ledger: Ledger) -> int:
    with ledger.store.read() as cur:
        return tree_size(cur)


def _story(ledger: Ledger, subjects: int = 12) -> list[dict[str, Any]]:
    events = generate_events(seed=11, subjects=subjects)
    _ingest(ledger, events)
    return events


# -- the tree -------------------------------------------------------------------------------------


def test_tree_roots_are_the_rfc9162_hash_of_the_leaves_recomputed_from_the_records(ledger: Ledger):
    events = generate_events(seed=11, subjects=12)
    half = len(events) // 2
    _ingest(ledger, events[:half], batch_size=1)  # every batch boundary, frontier carried between
    _ingest(ledger, events[half:], batch_size=50)
    records = _records(ledger)
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    leaves = [leaf_hash(_leaf_bytes(r)) for r in records]
    assert _size(ledger) == len(records)
    for size in (1, 2, 3, 7, 8, 9, half, len(records) - 1, len(records)):
        assert _stored_root(ledger, size) == merkle_tree_hash(leaves[:size]), size


def test_the_chain_hash_is_sha256_of_the_leaf_bytes_and_every_stored_node_is_the_reference_one(
    ledger: Ledger,
):
    _story(ledger, subjects=6)
    records = _records(ledger)
    expected = Frontier()
    reference: dict[int, bytes] = {}
    for row in records:
        data = _leaf_bytes(row)
        assert hashlib.sha256(data).hexdigest() == row["hash"]
        for node, value in expected.append(leaf_hash(data)):
            reference[node_key(node)] = value
    with ledger.store.read() as cur:
        stored = {
            int(r["node"]): bytes(r["hash"])
            for r in cur.execute("SELECT node, hash FROM {t:ledger_tree}").all()
        }
    assert stored == reference


def test_a_ledger_from_before_the_tree_gets_the_same_tree_when_next_opened_for_writing(
    open_ledger: Any,
):
    ledger = open_ledger()
    _story(ledger, subjects=8)
    size = _size(ledger)
    root = _stored_root(ledger, size)
    with ledger.store.write(lock=False) as cur:  # as a ledger of the previous release has it
        cur.execute("DROP TABLE {t:ledger_tree}")
        cur.execute("DROP TABLE {t:ledger_checkpoints}")
    reader = Ledger.open(ledger.settings, read_only=True)  # reading creates nothing, and says so
    try:
        report = reader.verify()
        assert report.valid and report.tree_size == 0
        assert report.warnings == ["tree: this ledger predates the Merkle tree (a write command builds it)"]
        with pytest.raises(NoProof, match="no Merkle tree yet"):
            reader.inclusion_proof(1)
    finally:
        reader.close()
    reopened = open_ledger()
    assert _size(reopened) == size
    assert _stored_root(reopened, size) == root
    assert reopened.verify().valid


def test_records_appended_without_the_tree_are_integrated_by_the_next_batch(ledger: Ledger):
    events = generate_events(seed=11, subjects=10)
    _ingest(ledger, events[:40])
    with ledger.store.write(lock=False) as cur:  # rows lost, or written by a writer of the previous release
        cur.execute("DELETE FROM {t:ledger_tree}")
    _ingest(ledger, events[40:])
    assert _stored_root(ledger, _size(ledger)) == merkle_tree_hash(_leaf_hashes(ledger))
    assert ledger.verify().valid


def test_erasure_changes_no_leaf(ledger: Ledger):
    events = _story(ledger, subjects=8)
    size = _size(ledger)
    before_leaves, before_root = _leaf_hashes(ledger), _stored_root(ledger, size)
    before = ledger.checkpoint()
    subject = next(e["subject_id"] for e in events if e["event_type"] == "DataCollected")
    result = ledger.erase(subject)
    assert result.system_events >= 1
    after_leaves = _leaf_hashes(ledger)
    assert after_leaves[:size] == before_leaves
    assert len(after_leaves) > size
    assert _stored_root(ledger, size) == before_root
    after = ledger.checkpoint()
    proof = ledger.consistency_proof(before.size, after.size)
    verify_consistency(before.size, after.size, proof, before.root, after.root)
    assert ledger.verify().valid


# -- checkpoints ----------------------------------------------------------------------------------


def test_every_issued_checkpoint_is_kept_and_an_unchanged_log_gets_none(ledger: Ledger):
    events = generate_events(seed=11, subjects=10)
    sizes = []
    for part in (events[:30], events[30:70], events[70:]):
        _ingest(ledger, part)
        issued, fresh = ledger.issue_checkpoint()
        assert fresh
        sizes.append(issued.size)
        again, fresh_again = ledger.issue_checkpoint()
        assert (again, fresh_again) == (issued, False)
    with ledger.store.read() as cur:
        kept = issued_checkpoints(cur)
    assert [c.size for c in kept] == sizes
    key = ledger.verifier_key
    for checkpoint in kept:
        body = open_checkpoint(checkpoint.note, key, origin=ledger.settings.log_origin)
        assert (body.size, body.root_hash) == (checkpoint.size, checkpoint.root)
        assert checkpoint.root == _stored_root(ledger, checkpoint.size)
    assert ledger.witness.read() == kept[-1].note
    assert ledger.witness.path.parent.stat().st_mode & 0o777 == 0o700
    assert ledger.settings.dev_signing_key.stat().st_mode & 0o777 == 0o600


def test_inclusion_and_consistency_proofs_verify_with_the_ledger_and_the_standalone_verifier(
    ledger: Ledger,
):
    events = generate_events(seed=11, subjects=10)
    _ingest(ledger, events[:45])
    first = ledger.checkpoint()
    _ingest(ledger, events[45:])
    second = ledger.checkpoint()
    records = _records(ledger)
    tool = load_standalone_verifier()
    key = ledger.verifier_key
    for seq in (1, 2, 17, first.size, first.size + 1, second.size):
        for size in (first.size, second.size):
            if seq > size:
                continue
            proof, leaf = ledger.inclusion_proof(seq, size)
            data = _leaf_bytes(records[seq - 1])
            assert leaf == leaf_hash(data)
            parsed = TlogProof.parse(proof.to_text())
            assert verify_tlog_proof(parsed, leaf_hash(data), key).size == size
            text = tool.verify_note(parsed.checkpoint.encode(), key.text)
            checkpoint = tool.parse_checkpoint(text)
            tool.verify_inclusion(
                parsed.index, checkpoint.size, tool.leaf_hash(data), list(parsed.proof), checkpoint.root
            )
    proof, _ = ledger.inclusion_proof(3)  # default: the latest checkpoint
    assert proof.checkpoint == second.note
    hashes = ledger.consistency_proof(first.size, second.size)
    verify_consistency(first.size, second.size, hashes, first.root, second.root)
    tool.verify_consistency(first.size, second.size, hashes, first.root, second.root)


# -- tampering behind the ledger's back -----------------------------------------------------------


def _exec(ledger: Ledger, sql: str, params: tuple[Any, ...] = ()) -> None:
    with ledger.store.write(lock=False) as cur:
        cur.execute(sql, params)


def _cut_tail(ledger: Ledger, keep: int, *, checkpoints_too: bool = False) -> None:
    """Delete every record after ``keep`` (events, chain, dedup and their tree rows)."""
    store = ledger.store
    with store.write(lock=False) as cur:
        ids = [
            int(r["n"])
            for r in cur.execute(
                "SELECT notification_id AS n FROM {t:ledger_chain} WHERE seq > ?", (keep,)
            ).all()
        ]
        for nid in ids:
            cur.execute(f"DELETE FROM {store.events_table} WHERE {store.notification_column} = ?", (nid,))
        cur.execute("DELETE FROM {t:ledger_chain} WHERE seq > ?", (keep,))
        cur.execute("DELETE FROM {t:ledger_dedup} WHERE seq > ?", (keep,))
        for row in cur.execute("SELECT node FROM {t:ledger_tree}").all():
            node = int(row["node"])
            level, index = node % 64, node // 64
            if (index + 1) << level > keep:
                cur.execute("DELETE FROM {t:ledger_tree} WHERE node = ?", (node,))
        if checkpoints_too:
            cur.execute("DELETE FROM {t:ledger_checkpoints} WHERE tree_size > ?", (keep,))


def _rewrite_history(ledger: Ledger, seq: int) -> None:
    """Edit record ``seq``, then recompute every chain hash after it and the whole tree, as an attacker
    with write access to the database would."""
    store = ledger.store
    records = _records(ledger)
    prev = records[seq - 2]["hash"] if seq > 1 else "0" * 64
    tree = Frontier()
    nodes = []
    with store.write(lock=False) as cur:
        for row in records:
            data = _leaf_bytes(row)
            if row["seq"] >= seq:
                record = row["record"]
                if row["seq"] == seq:
                    record = {**record, "producer": {"system": "forged.example.com"}}
                    state = json.loads(bytes(row["state"]))
                    state["record"] = record
                    cur.execute(
                        f"UPDATE {store.events_table} SET state = ? WHERE {store.notification_column} = ?",
                        (json.dumps(state).encode(), row["notification_id"]),
                    )
                data = canonical_bytes({**record, "seq": row["seq"], "prev_hash": prev})
                digest = hashlib.sha256(data).hexdigest()
                cur.execute(
                    "UPDATE {t:ledger_chain} SET prev_hash = ?, hash = ? WHERE seq = ?",
                    (prev, digest, row["seq"]),
                )
                prev = digest
            nodes.extend(tree.append(leaf_hash(data)))
        cur.execute("DELETE FROM {t:ledger_tree}")
        store_nodes(cur, nodes)


def _problems(ledger: Ledger) -> tuple[bool, int | None, list[str]]:
    report = ledger.verify()
    return report.valid, report.first_invalid_seq, report.problems


def test_verify_reports_a_cut_tail_against_the_issued_checkpoint(ledger: Ledger):
    _story(ledger, subjects=8)
    size = ledger.checkpoint().size
    _cut_tail(ledger, size - 5)
    valid, first, problems = _problems(ledger)
    assert not valid and first == size - 4
    assert any(f"checkpoint {size}: covers more records" in p and "cut tail" in p for p in problems), problems


def test_verify_reports_a_cut_tail_against_the_witness_copy_when_the_checkpoints_are_deleted_too(
    ledger: Ledger,
):
    _story(ledger, subjects=8)
    size = ledger.checkpoint().size
    _cut_tail(ledger, size - 5, checkpoints_too=True)
    valid, first, problems = _problems(ledger)
    assert not valid and first == size - 4
    assert any(f"witness checkpoint {size}: covers more records" in p for p in problems), problems


def test_verify_reports_rewritten_history_when_every_hash_was_recomputed_after_an_edit(ledger: Ledger):
    events = generate_events(seed=11, subjects=10)
    _ingest(ledger, events[:30])
    early = ledger.checkpoint().size
    _ingest(ledger, events[30:])
    size = ledger.checkpoint().size
    _rewrite_history(ledger, early + 3)
    report = ledger.verify()
    assert report.tree_size == report.length == size  # chain and tree agree with themselves
    assert not any(p.startswith(("chain", "tree")) for p in report.problems), report.problems
    assert not report.valid
    assert report.first_invalid_seq == early + 1  # after the last checkpoint that still agrees
    assert any(f"checkpoint {size}: another root" in p and "history rewritten" in p for p in report.problems)
    assert not any(f"checkpoint {early}:" in p for p in report.problems)


def test_verify_reports_rewritten_history_against_the_witness_when_the_checkpoints_are_deleted(
    ledger: Ledger,
):
    _story(ledger, subjects=8)
    size = ledger.checkpoint().size
    _rewrite_history(ledger, 4)
    _exec(ledger, "DELETE FROM {t:ledger_checkpoints}")
    valid, first, problems = _problems(ledger)
    assert not valid and first == 1
    assert problems == [f"witness checkpoint {size}: another root than the log's (history rewritten)"]


def test_verify_reports_a_checkpoint_signed_by_another_key(ledger: Ledger):
    events = generate_events(seed=11, subjects=10)
    _ingest(ledger, events[:40])
    genuine = ledger.checkpoint()
    _ingest(ledger, events[40:])
    size = _size(ledger)
    origin = ledger.settings.log_origin
    forger = SignerKey.generate(origin)  # same name, another key
    forged = sign_checkpoint(Checkpoint(origin, size, _stored_root(ledger, size)), forger)
    _exec(
        ledger,
        "INSERT INTO {t:ledger_checkpoints} (tree_size, root_hash, note, issued_at) VALUES (?, ?, ?, ?)",
        (size, base64.b64encode(_stored_root(ledger, size)).decode(), forged, "2026-11-01T12:00:00Z"),
    )
    valid, first, problems = _problems(ledger)
    assert not valid and first is None
    assert problems == [f"checkpoint {size}: not signed by the ledger's key (forged or re-signed)"]
    with pytest.raises(CheckpointRefused, match=r"not a checkpoint of .* signed by the ledger's key"):
        ledger.issue_checkpoint()
    # The genuine one re-signed by another key is reported too.
    resigned = sign_checkpoint(Checkpoint(origin, genuine.size, genuine.root), forger)
    _exec(ledger, "UPDATE {t:ledger_checkpoints} SET note = ? WHERE tree_size = ?", (resigned, genuine.size))
    assert (
        f"checkpoint {genuine.size}: not signed by the ledger's key (forged or re-signed)"
        in _problems(ledger)[2]
    )


def test_verify_reports_a_deleted_record(ledger: Ledger):
    _story(ledger, subjects=8)
    ledger.checkpoint()
    records = _records(ledger)
    victim = records[9]
    store = ledger.store
    _exec(
        ledger,
        f"DELETE FROM {store.events_table} WHERE {store.notification_column} = ?",
        (victim["notification_id"],),
    )
    _exec(ledger, "DELETE FROM {t:ledger_chain} WHERE seq = ?", (10,))
    valid, first, problems = _problems(ledger)
    assert not valid and first == 10
    assert "chain: first invalid seq 10" in problems


def test_verify_reports_a_stored_tree_hash_that_differs_from_the_records(ledger: Ledger):
    _story(ledger, subjects=8)
    _exec(ledger, "UPDATE {t:ledger_tree} SET hash = ? WHERE node = ?", (b"\x01" * 32, node_key_of_leaf(12)))
    valid, first, problems = _problems(ledger)
    assert not valid and first == 13
    assert any(p.startswith("tree: a stored leaf or subtree hash differs") for p in problems), problems


def node_key_of_leaf(index: int) -> int:
    return index * 64


# -- refusing to sign -----------------------------------------------------------------------------


def test_no_checkpoint_is_signed_after_a_cut_tail(ledger: Ledger):
    _story(ledger, subjects=8)
    size = ledger.checkpoint().size
    _cut_tail(ledger, size - 5)
    with pytest.raises(CheckpointRefused, match=r"^cut tail or restored from an older backup"):
        ledger.issue_checkpoint()
    with ledger.store.read() as cur:
        assert [c.size for c in issued_checkpoints(cur)] == [size]


def test_no_checkpoint_is_signed_after_history_was_rewritten(ledger: Ledger):
    _story(ledger, subjects=8)
    ledger.checkpoint()
    _rewrite_history(ledger, 5)
    _exec(ledger, "DELETE FROM {t:ledger_checkpoints}")  # the attacker hides the table's evidence too
    with pytest.raises(CheckpointRefused, match=r"^history rewritten: .* the checkpoint kept in"):
        ledger.issue_checkpoint()
    with ledger.store.read() as cur:
        assert issued_checkpoints(cur) == []


def test_no_checkpoint_is_signed_when_an_older_backup_was_restored(ledger: Ledger):
    events = generate_events(seed=11, subjects=10)
    _ingest(ledger, events[:40])
    backup = ledger.checkpoint().size  # the state the backup holds
    _ingest(ledger, events[40:])
    newest = ledger.checkpoint().size
    _cut_tail(ledger, backup, checkpoints_too=True)  # the database is now exactly the backup
    _ingest(ledger, events[40:70])  # and grows again, differently
    with pytest.raises(CheckpointRefused) as refused:
        ledger.issue_checkpoint()
    message = str(refused.value)
    assert message.startswith("cut tail or restored from an older backup") or message.startswith(
        "history rewritten"
    ), message
    assert str(ledger.witness.path) in message
    with ledger.store.read() as cur:
        assert [c.size for c in issued_checkpoints(cur)] == [backup]
    assert note_size(ledger.witness.read() or "") == newest


def test_a_witness_copy_replaced_by_a_larger_tree_of_this_log_blocks_signing(ledger: Ledger):
    _story(ledger, subjects=6)
    ledger.checkpoint()
    size = _size(ledger)
    # A checkpoint this log signed for a longer tree than the database holds (a newer state elsewhere).
    signer = ledger.signing_key(create=False)
    newer = sign_checkpoint(Checkpoint(ledger.settings.log_origin, size + 10, b"\x02" * 32), signer)
    ledger.witness.path.write_text(newer)
    with pytest.raises(CheckpointRefused, match=f"covers {size + 10}"):
        ledger.issue_checkpoint()
    assert any("witness checkpoint" in p for p in ledger.verify().problems)


# -- signing keys and periodic issuance -----------------------------------------------------------


def test_no_new_development_key_is_made_for_a_ledger_that_has_issued_checkpoints(ledger: Ledger):
    _story(ledger, subjects=4)
    ledger.checkpoint()
    ledger.settings.dev_signing_key.unlink()
    ledger._signer = None  # a new process, without the key file
    with pytest.raises(SigningKeyError, match="this ledger has issued checkpoints, so no new key is made"):
        ledger.issue_checkpoint()
    assert not ledger.settings.dev_signing_key.exists()
    report = ledger.verify()  # without the key the signatures cannot be checked: said, not hidden
    assert report.checkpoint is not None and report.checkpoint["valid"] is None
    assert any("signatures not checked" in w for w in report.warnings)


def test_the_projection_service_signs_a_checkpoint_while_the_log_grows(open_ledger: Any):
    from projections.service import Projections

    ledger = open_ledger()
    projections = Projections(ledger.store, ledger.keys, ledger.codes)
    stop = threading.Event()
    runner = threading.Thread(
        target=projections.runner.run_forever,
        kwargs={
            "stop": stop,
            "poll_seconds": 0.1,
            "checkpoint": ledger.checkpoint_if_grown,
            "checkpoint_every_s": 0.5,
        },
    )
    runner.start()
    try:
        writer = open_ledger()  # another process appending
        events = generate_events(seed=11, subjects=6)
        for part in (events[:20], events[20:]):
            _ingest(writer, part)
            head = _size(writer)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with writer.store.read() as cur:
                    sizes = [c.size for c in issued_checkpoints(cur)]
                if sizes and sizes[-1] == head:
                    break
                time.sleep(0.1)
            assert sizes and sizes[-1] == head, (sizes, head)
    finally:
        stop.set()
        runner.join(30)
    assert len(sizes) == 2 and writer.verify().valid
