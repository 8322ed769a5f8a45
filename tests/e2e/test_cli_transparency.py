"""``privacy-ledger checkpoint``, ``proof inclusion`` and ``proof consistency`` as a user runs them, on the
embedded SQLite default; what they write is checked with the standalone verifier (tools/verify_export.py)
and leaves read straight from the database file."""

from __future__ import annotations

import base64
import json
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from conftest import env_without_ledger_settings, load_standalone_verifier, run_cli

from ledger.canonical import canonical_bytes
from ledger.log.note import SignerKey
from ledger.sample import generate_events, write_jsonl


def _run(tmp: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_cli(tmp, env_without_ledger_settings(env), *args)


def _ok(proc: subprocess.CompletedProcess[str]) -> Any:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _sample(tmp: Path, name: str, events: list[dict[str, Any]]) -> str:
    path = tmp / name
    write_jsonl(path, events)
    return str(path)


def _leaf(db: Path, seq: int) -> bytes:
    """Leaf seq - 1, read from the database file: JCS of the stored record with seq and prev_hash."""
    with sqlite3.connect(db) as conn:
        prev, state = conn.execute(
            "SELECT c.prev_hash, e.state FROM ledger_chain c JOIN stored_events e "
            "ON e.rowid = c.notification_id WHERE c.seq = ?",
            (seq,),
        ).fetchone()
    record = json.loads(state)["record"]
    return canonical_bytes({**record, "seq": seq, "prev_hash": prev})


def test_checkpoint_and_proofs_verify_with_the_standalone_verifier(tmp_path: Path):
    events = generate_events(seed=4, subjects=12)
    first, second = events[:60], events[60:]
    _ok(_run(tmp_path, "ingest", _sample(tmp_path, "a.jsonl", first)))

    early = _run(tmp_path, "proof", "inclusion", "3")
    assert early.returncode == 2
    assert "no issued checkpoint covers seq 3 yet: run `privacy-ledger checkpoint`" in early.stderr

    proc = _run(tmp_path, "checkpoint", "--out", "cp1.txt")
    one = _ok(proc)
    assert one["status"] == "issued" and one["out"] == "cp1.txt"
    assert "DEVELOPMENT checkpoint signing key" in proc.stderr
    assert (tmp_path / "var" / "signing.key").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "cp1.txt").read_text() == one["note"]
    key = one["verifier_key"]
    assert key.startswith("privacy-ledger.example.com/ledger+")
    assert _ok(_run(tmp_path, "checkpoint"))["status"] == "unchanged"

    _ok(_run(tmp_path, "ingest", _sample(tmp_path, "b.jsonl", second)))
    two = _ok(_run(tmp_path, "checkpoint"))
    assert two["status"] == "issued" and two["size"] > one["size"]

    tool = load_standalone_verifier()
    db = tmp_path / "var" / "ledger.db"
    for seq, size in ((1, one["size"]), (5, one["size"]), (5, two["size"]), (two["size"], two["size"])):
        args = ["proof", "inclusion", str(seq), "--checkpoint", str(size)]
        summary = _ok(_run(tmp_path, *args, "--out", "p.txt"))
        text = (tmp_path / "p.txt").read_text()
        assert _run(tmp_path, *args).stdout == text  # the same proof on stdout
        data = _leaf(db, seq)
        assert summary["leaf_hash"] == base64.b64encode(tool.leaf_hash(data)).decode()
        header, index_line, rest = text.split("\n", 2)
        assert header == "c2sp.org/tlog-proof@v1" and index_line == f"index {seq - 1}"
        hashes_text, _, note = rest.partition("\n\n")
        hashes = [base64.b64decode(h) for h in hashes_text.splitlines()]
        checkpoint = tool.parse_checkpoint(tool.verify_note(note.encode(), key))
        assert checkpoint.size == size
        tool.verify_inclusion(seq - 1, size, tool.leaf_hash(data), hashes, checkpoint.root)

    latest = _run(tmp_path, "proof", "inclusion", "5").stdout
    assert latest.endswith(two["note"])  # default: the latest checkpoint

    proc = _run(tmp_path, "proof", "consistency", str(one["size"]), str(two["size"]))
    assert proc.returncode == 0, proc.stderr
    hashes = [base64.b64decode(line) for line in proc.stdout.splitlines()]
    tool.verify_consistency(
        one["size"],
        two["size"],
        hashes,
        base64.b64decode(one["root"]),
        base64.b64decode(two["root"]),
    )
    out = _ok(_run(tmp_path, "proof", "consistency", str(one["size"]), str(two["size"]), "--out", "c.txt"))
    assert out["hashes"] == len(hashes) and (tmp_path / "c.txt").read_text() == proc.stdout

    report = _run(tmp_path, "verify")
    assert report.returncode == 0, report.stdout
    checked = json.loads(report.stdout)
    assert checked["tree_size"] == checked["length"] == two["size"]
    assert checked["checkpoint"] == {
        "size": two["size"],
        "root": two["root"],
        "source": "table",
        "valid": True,
    }
    assert checked["checkpoints_issued"] == 2 and checked["problems"] == []


def test_proofs_outside_the_tree_are_usage_errors(tmp_path: Path):
    _ok(_run(tmp_path, "ingest", _sample(tmp_path, "a.jsonl", generate_events(seed=4, subjects=3))))
    size = _ok(_run(tmp_path, "checkpoint"))["size"]
    for args, message in (
        (("proof", "inclusion", str(size + 1)), f"seq {size + 1} is not in the Merkle tree"),
        (
            ("proof", "inclusion", "1", "--checkpoint", str(size - 1)),
            f"no checkpoint of tree size {size - 1}",
        ),
        (("proof", "consistency", "5", "3"), "1 <= OLD <= NEW"),
        (("proof", "consistency", "1", str(size + 1)), "1 <= OLD <= NEW"),
        (("proof", "inclusion", "0"), "must be a positive integer"),
    ):
        proc = _run(tmp_path, *args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert message in proc.stderr and "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1


def test_proof_commands_read_only_and_create_nothing_where_there_is_no_ledger(tmp_path: Path):
    proc = _run(tmp_path, "proof", "inclusion", "1")
    assert proc.returncode == 2 and "there is no ledger" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_checkpoint_is_refused_with_exit_1_after_the_tail_was_cut(tmp_path: Path):
    _ok(_run(tmp_path, "ingest", _sample(tmp_path, "a.jsonl", generate_events(seed=4, subjects=4))))
    size = _ok(_run(tmp_path, "checkpoint"))["size"]
    db = tmp_path / "var" / "ledger.db"
    with sqlite3.connect(db) as conn:  # delete the last 3 records everywhere, checkpoints included
        keep = size - 3
        conn.execute(
            "DELETE FROM stored_events WHERE rowid IN "
            "(SELECT notification_id FROM ledger_chain WHERE seq > ?)",
            (keep,),
        )
        for table in ("ledger_chain", "ledger_dedup"):
            conn.execute(f"DELETE FROM {table} WHERE seq > ?", (keep,))
        conn.execute("DELETE FROM ledger_tree WHERE ((node / 64) + 1) << (node % 64) > ?", (keep,))
        conn.execute("DELETE FROM ledger_checkpoints")
    refused = _run(tmp_path, "checkpoint")
    assert refused.returncode == 1
    assert refused.stderr.startswith("privacy-ledger: cut tail or restored from an older backup")
    assert "witness" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    report = _run(tmp_path, "verify")
    assert report.returncode == 1
    assert json.loads(report.stdout)["first_invalid_seq"] == keep + 1


def test_a_configured_signing_key_and_origin_sign_the_checkpoint(tmp_path: Path):
    origin = "ledger.example.com/privacy"
    signer = SignerKey.generate(origin)
    key_file = tmp_path / "signing.key"
    key_file.write_text(signer.secret_text() + "\n")
    key_file.chmod(0o644)
    env = {"LEDGER_SIGNING_KEY_FILE": str(key_file), "LEDGER_LOG_ORIGIN": origin}
    _ok(_run(tmp_path, "ingest", _sample(tmp_path, "a.jsonl", generate_events(seed=4, subjects=2))))

    loose = _run(tmp_path, "checkpoint", **env)
    assert loose.returncode == 2
    assert f"run `chmod 600 {key_file}`" in loose.stderr and "PRIVATE" not in loose.stderr
    key_file.chmod(0o600)
    other = _run(tmp_path, "checkpoint", **{**env, "LEDGER_LOG_ORIGIN": "other.example.com/log"})
    assert other.returncode == 2 and "not of LEDGER_LOG_ORIGIN other.example.com/log" in other.stderr

    signed = _ok(_run(tmp_path, "checkpoint", **env))
    assert signed["verifier_key"] == signer.verifier_key.text
    assert signed["note"].startswith(f"{origin}\n{signed['size']}\n")
    assert not (tmp_path / "var" / "signing.key").exists()
    witness = tmp_path / "var" / "witness"
    assert [p.name.split("@")[0] for p in witness.glob("*.checkpoint")] == ["ledger.example.com%2Fprivacy"]


def test_checkpoint_settings_are_listed_and_checked(tmp_path: Path):
    names = {row["env"]: row for row in _ok(_run(tmp_path, "settings"))}
    for name in (
        "LEDGER_SIGNING_KEY_FILE",
        "LEDGER_LOG_ORIGIN",
        "LEDGER_CHECKPOINT_WITNESS_DIR",
        "LEDGER_CHECKPOINT_INTERVAL_SECONDS",
    ):
        assert name in names and names[name]["description"]
    assert names["LEDGER_LOG_ORIGIN"]["value"] == "privacy-ledger.example.com/ledger"
    for name, value in (("LEDGER_LOG_ORIGIN", "my ledger"), ("LEDGER_CHECKPOINT_INTERVAL_SECONDS", "0")):
        proc = _run(tmp_path, "settings", **{name: value})
        assert proc.returncode == 2 and name in proc.stderr and repr(value) in proc.stderr


def test_the_embedded_demo_leaves_a_signed_checkpoint_that_verify_checks(tmp_path: Path):
    first = _ok(_run(tmp_path, "demo", "--subjects", "5"))
    assert first["checkpoint"]["status"] == "issued"
    assert first["checkpoint"]["size"] == first["verify"]["length"] == first["verify"]["tree_size"]
    assert first["verify"]["checkpoint"]["valid"] is True
    again = _ok(_run(tmp_path, "demo", "--subjects", "5"))  # every event a duplicate: nothing new to sign
    assert again["checkpoint"] == {**first["checkpoint"], "status": "unchanged"}
