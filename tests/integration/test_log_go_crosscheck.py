"""The ledger's transparency log checked by an independent implementation: Go's golang.org/x/mod
``sumdb/note`` and ``sumdb/tlog`` (the same RFC 6962 hashing), through the small Go program in
``tests/go/crosscheck``, and notes signed by Go checked by both Python verifiers. The last tests do the
same for a real ledger: checkpoints, tlog-proof files and consistency proofs written by its CLI.

The Go program is built once per session into ``.cache/go/`` (module and build caches there too).
Without a Go toolchain the tests skip, unless ``LEDGER_REQUIRE_SERVICES=1``, when they fail.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import env_without_ledger_settings, load_standalone_verifier, run_cli

from ledger.canonical import canonical_bytes
from ledger.log.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from ledger.log.merkle import leaf_hash
from ledger.log.note import SignerKey, VerifierKey, open_note, sign_note
from ledger.log.tree import Frontier, MemoryHashSource, consistency_proof, inclusion_proof
from ledger.sample import generate_events, write_jsonl

REPO = Path(__file__).resolve().parents[2]
GO_MODULE = REPO / "tests" / "go" / "crosscheck"
GO_CACHE = REPO / ".cache" / "go"
ORIGIN = "ledger.example.com/log"
GO_KEY_NAME = "go.example.com/crosscheck"
LEAVES = 45
INCLUSION_SIZES = (1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 31, 32, 33, 45)


def _go_toolchain() -> str:
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if go is None:
        message = "no Go toolchain (go on PATH or /usr/local/go/bin/go) for the Go cross-check"
        if os.environ.get("LEDGER_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{message}; LEDGER_REQUIRE_SERVICES=1 forbids skipping", pytrace=False)
        pytest.skip(message)
    return go


@pytest.fixture(scope="session")
def crosscheck_program() -> Path:
    """The Go cross-check program, built (or found up to date in the build cache) once per session."""
    go = _go_toolchain()
    binary = GO_CACHE / "bin" / "crosscheck"
    env = {
        **os.environ,
        "GOMODCACHE": str(GO_CACHE / "mod"),
        "GOCACHE": str(GO_CACHE / "build"),
        "GOPATH": str(GO_CACHE / "path"),
        "GOFLAGS": "-mod=mod -modcacherw -buildvcs=false",
        "GOTOOLCHAIN": "local",
    }
    built = subprocess.run(
        [go, "build", "-o", str(binary), "."],
        cwd=GO_MODULE,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if built.returncode != 0:
        pytest.fail(f"building the Go cross-check failed:\n{built.stderr}", pytrace=False)
    return binary


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


def _flip_first_bit(value: bytes) -> bytes:
    return bytes([value[0] ^ 0x80]) + value[1:]


def _encoded(case: dict[str, Any]) -> dict[str, Any]:
    """A proof case as JSON for Go: hashes in base64."""
    out: dict[str, Any] = {}
    for key, value in case.items():
        if key == "proof":
            out[key] = [_b64(item) for item in value]
        else:
            out[key] = _b64(value) if isinstance(value, bytes) else value
    return out


def _corrupt_signature(signed: str) -> str:
    text, _, line = signed.rstrip("\n").rpartition("\n")
    prefix, _, encoded = line.rpartition(" ")
    raw = base64.b64decode(encoded)
    return f"{text}\n{prefix} {_b64(raw[:4] + _flip_first_bit(raw[4:]))}\n"


@pytest.fixture(scope="module")
def scenario() -> dict[str, Any]:
    """A log of LEAVES fictional records built by ledger.log, its signed checkpoint, and proofs."""
    signer = SignerKey.generate(ORIGIN)
    source, frontier = MemoryHashSource(), Frontier()
    data = [f"fictional record {i} for subject@example.com".encode() for i in range(LEAVES)]
    leaves, appends, roots = [leaf_hash(item) for item in data], [], [frontier.root()]
    for leaf in leaves:
        completed = frontier.append(leaf)
        source.write(completed)
        appends.append([{"level": n.level, "index": n.index, "hash": _b64(h)} for n, h in completed])
        roots.append(frontier.root())
    checkpoint = Checkpoint(ORIGIN, LEAVES, frontier.root())
    signed = sign_checkpoint(checkpoint, signer)
    other = SignerKey.generate(ORIGIN)

    inclusion, inclusion_valid = [], []
    for size in INCLUSION_SIZES:
        for index in range(size):
            proof = inclusion_proof(index, size, source)
            case = {
                "index": index,
                "size": size,
                "leaf_hash": leaves[index],
                "proof": proof,
                "root": roots[size],
            }
            inclusion.append(case)
            inclusion_valid.append(True)
            if index % 5 == 0:  # and a tampered copy: the leaf's sibling altered, or the leaf if alone
                if proof:
                    inclusion.append(dict(case, proof=[_flip_first_bit(proof[0]), *proof[1:]]))
                else:
                    inclusion.append(dict(case, leaf_hash=_flip_first_bit(leaves[index])))
                inclusion_valid.append(False)
    consistency, consistency_valid = [], []
    for size2 in range(1, LEAVES + 1):
        for size1 in range(1, size2 + 1):
            proof = consistency_proof(size1, size2, source)
            case = {
                "size1": size1,
                "size2": size2,
                "proof": proof,
                "root1": roots[size1],
                "root2": roots[size2],
            }
            consistency.append(case)
            consistency_valid.append(True)
            if (size1 + size2) % 7 == 0:  # and a tampered copy: the top hash altered, or the new root
                if proof:
                    consistency.append(dict(case, proof=[*proof[:-1], _flip_first_bit(proof[-1])]))
                else:
                    consistency.append(dict(case, root2=_flip_first_bit(roots[size2])))
                consistency_valid.append(False)

    request = {
        "vkey": signer.verifier_key.text,
        "skey": signer.secret_text(),
        "checkpoint": signed,
        "tampered_checkpoints": [
            signed.replace(f"\n{LEAVES}\n", f"\n{LEAVES + 1}\n", 1),  # a longer tree, same signature
            sign_checkpoint(checkpoint, other),  # same name, another key
            _corrupt_signature(signed),  # the log key's signature with one bit changed
        ],
        "leaves": [_b64(item) for item in data],
        "appends": appends,
        "inclusion": [_encoded(case) for case in inclusion],
        "consistency": [_encoded(case) for case in consistency],
        "go_key_name": GO_KEY_NAME,
        "text_to_sign": checkpoint.to_text(),
    }
    return {
        "request": request,
        "signer": signer,
        "checkpoint": checkpoint,
        "roots": roots,
        "inclusion": inclusion,
        "inclusion_valid": inclusion_valid,
        "consistency": consistency,
        "consistency_valid": consistency_valid,
    }


def _ask_go(program: Path, request: dict[str, Any]) -> dict[str, Any]:
    """Run the Go cross-check program on one request (JSON on stdin) and return its JSON report."""
    result = subprocess.run(
        [str(program)], input=json.dumps(request), capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


@pytest.fixture(scope="module")
def report(crosscheck_program: Path, scenario: dict[str, Any]) -> dict[str, Any]:
    """What Go's note and tlog packages say about the scenario."""
    return _ask_go(crosscheck_program, scenario["request"])


def test_go_opens_the_checkpoint_signed_by_the_ledger(
    scenario: dict[str, Any], report: dict[str, Any]
) -> None:
    checkpoint = scenario["checkpoint"]
    assert report.get("checkpoint_error") is None, report["checkpoint_error"]
    assert report["checkpoint_text"] == checkpoint.to_text()
    assert report["checkpoint_origin"] == ORIGIN
    assert report["checkpoint_size"] == LEAVES
    assert base64.b64decode(report["checkpoint_root"]) == checkpoint.root_hash


def test_go_rejects_an_altered_or_foreign_checkpoint(report: dict[str, Any]) -> None:
    errors = report["tampered_errors"]
    assert len(errors) == 3
    assert all(errors), errors


def test_each_append_stores_exactly_the_hashes_go_tlog_stores(report: dict[str, Any]) -> None:
    assert report["append_mismatches"] == []


def test_go_tree_hash_from_the_stored_hashes_equals_the_ledger_root_at_every_size(
    scenario: dict[str, Any], report: dict[str, Any]
) -> None:
    assert [base64.b64decode(h) for h in report["tree_hashes"]] == scenario["roots"][1:]


def test_go_tlog_accepts_the_ledger_inclusion_proofs_and_rejects_altered_ones(
    scenario: dict[str, Any], report: dict[str, Any]
) -> None:
    verdicts = report["inclusion"]
    assert len(verdicts) == len(scenario["inclusion"])
    wrong = [
        (case["index"], case["size"], verdict.get("error"))
        for case, valid, verdict in zip(
            scenario["inclusion"], scenario["inclusion_valid"], verdicts, strict=True
        )
        if verdict["ok"] != valid
    ]
    assert wrong == []
    assert scenario["inclusion_valid"].count(False) > 40


def test_go_tlog_accepts_the_ledger_consistency_proofs_and_rejects_altered_ones(
    scenario: dict[str, Any], report: dict[str, Any]
) -> None:
    verdicts = report["consistency"]
    assert len(verdicts) == len(scenario["consistency"])
    wrong = [
        (case["size1"], case["size2"], verdict.get("error"))
        for case, valid, verdict in zip(
            scenario["consistency"], scenario["consistency_valid"], verdicts, strict=True
        )
        if verdict["ok"] != valid
    ]
    assert wrong == []
    assert scenario["consistency_valid"].count(False) > 100


def test_ledger_proofs_are_the_proofs_go_tlog_generates(
    scenario: dict[str, Any], report: dict[str, Any]
) -> None:
    for kind in ("inclusion", "consistency"):
        for case, valid, verdict in zip(scenario[kind], scenario[f"{kind}_valid"], report[kind], strict=True):
            if valid:
                assert [base64.b64decode(h) for h in verdict["go_proof"] or []] == case["proof"], case


def test_a_note_go_signs_with_the_ledger_signer_key_verifies_with_the_ledger_verifier_key(
    scenario: dict[str, Any], report: dict[str, Any]
) -> None:
    signer: SignerKey = scenario["signer"]
    signed = report["signed_with_python_key"]
    assert signed == sign_checkpoint(scenario["checkpoint"], signer)  # Ed25519 is deterministic
    assert open_checkpoint(signed, signer.verifier_key, origin=ORIGIN) == scenario["checkpoint"]


def test_a_note_signed_with_a_go_generated_key_verifies_with_both_python_verifiers(
    scenario: dict[str, Any], report: dict[str, Any]
) -> None:
    vkey = VerifierKey.parse(report["go_vkey"])
    assert vkey.name == GO_KEY_NAME
    signed = report["signed_with_go_key"]
    assert open_note(signed, [vkey]).text == scenario["checkpoint"].to_text()
    assert open_checkpoint(signed, vkey) == scenario["checkpoint"]
    tool = load_standalone_verifier()
    text = tool.verify_note(signed.encode(), report["go_vkey"])
    assert tool.parse_checkpoint(text).root == scenario["checkpoint"].root_hash


def test_go_signer_key_text_parses_to_the_go_verifier_key(report: dict[str, Any]) -> None:
    signer = SignerKey.parse(report["go_skey"])
    assert signer.verifier_key.text == report["go_vkey"]
    assert signer.secret_text() == report["go_skey"]
    note = sign_note("signed in Python with a Go key\n", [signer])
    assert open_note(note, [VerifierKey.parse(report["go_vkey"])]).text == "signed in Python with a Go key\n"


# -- a real ledger, through its command line -------------------------------------------------------


def _cli(cwd: Path, *args: str) -> str:
    proc = run_cli(cwd, env_without_ledger_settings(), *args)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _ledger_leaves(db: Path) -> list[bytes]:
    """Every leaf's bytes read from the ledger's database file: JCS of the record, seq and prev_hash."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT c.seq, c.prev_hash, e.state FROM ledger_chain c JOIN stored_events e "
            "ON e.rowid = c.notification_id ORDER BY c.seq"
        ).fetchall()
    return [
        canonical_bytes({**json.loads(state)["record"], "seq": seq, "prev_hash": prev})
        for seq, prev, state in rows
    ]


def _tamper_proof_text(text: str) -> str:
    header, index, first, rest = text.split("\n", 3)
    return "\n".join([header, index, _b64(_flip_first_bit(base64.b64decode(first))), rest])


@pytest.fixture(scope="module")
def real_ledger(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A SQLite ledger built with `privacy-ledger ingest` and `checkpoint` (three checkpoints), with
    proofs written by `proof inclusion` and `proof consistency`."""
    tmp = tmp_path_factory.mktemp("real-ledger")
    events = generate_events(seed=9, subjects=12)
    checkpoints = []
    for number, part in enumerate((events[:70], events[70:71], events[71:])):
        write_jsonl(tmp / f"part{number}.jsonl", part)
        _cli(tmp, "ingest", str(tmp / f"part{number}.jsonl"))
        checkpoints.append(json.loads(_cli(tmp, "checkpoint")))
    sizes = [c["size"] for c in checkpoints]
    proofs, proofs_valid = [], []
    for seq in sorted({1, 2, 3, sizes[0] - 1, sizes[0], sizes[1], sizes[2]}):
        for size in sizes:
            if seq <= size:
                text = _cli(tmp, "proof", "inclusion", str(seq), "--checkpoint", str(size))
                proofs.append({"text": text, "seq": seq})
                proofs_valid.append(True)
    proofs.append({"text": _tamper_proof_text(proofs[-1]["text"]), "seq": proofs[-1]["seq"]})
    proofs_valid.append(False)
    consistency, consistency_valid = [], []
    for i, old in enumerate(checkpoints):
        for new in checkpoints[i + 1 :]:
            lines = _cli(tmp, "proof", "consistency", str(old["size"]), str(new["size"])).split()
            consistency.append({"old": old["note"], "new": new["note"], "proof": lines})
            consistency_valid.append(True)
    tampered = dict(consistency[0])
    tampered["proof"] = [
        _b64(_flip_first_bit(base64.b64decode(tampered["proof"][0]))),
        *tampered["proof"][1:],
    ]
    consistency.append(tampered)
    consistency_valid.append(False)
    leaves = _ledger_leaves(tmp / "var" / "ledger.db")
    assert len(leaves) == sizes[-1]
    request = {
        "ledger": {
            "vkey": checkpoints[-1]["verifier_key"],
            "checkpoints": [c["note"] for c in checkpoints],
            "leaves": [_b64(leaf) for leaf in leaves],
            "tlog_proofs": proofs,
            "consistency": consistency,
        }
    }
    return {
        "request": request,
        "sizes": sizes,
        "proofs_valid": proofs_valid,
        "consistency_valid": consistency_valid,
    }


@pytest.fixture(scope="module")
def ledger_report(crosscheck_program: Path, real_ledger: dict[str, Any]) -> dict[str, Any]:
    """What Go's note and tlog packages say about the real ledger's checkpoints and proofs."""
    return _ask_go(crosscheck_program, real_ledger["request"])


def test_go_opens_a_real_ledgers_checkpoints_and_computes_their_roots_from_its_records(
    real_ledger: dict[str, Any], ledger_report: dict[str, Any]
) -> None:
    assert len(set(real_ledger["sizes"])) == 3
    assert ledger_report["checkpoints"] == [{"ok": True, "go_proof": None}] * 3


def test_go_tlog_accepts_a_real_ledgers_tlog_proof_files_and_rejects_an_altered_one(
    real_ledger: dict[str, Any], ledger_report: dict[str, Any]
) -> None:
    verdicts = ledger_report["tlog_proofs"]
    assert [v["ok"] for v in verdicts] == real_ledger["proofs_valid"], [v.get("error") for v in verdicts]
    assert len(verdicts) > 10


def test_go_tlog_accepts_a_real_ledgers_consistency_proofs_and_rejects_an_altered_one(
    real_ledger: dict[str, Any], ledger_report: dict[str, Any]
) -> None:
    verdicts = ledger_report["consistency"]
    assert [v["ok"] for v in verdicts] == real_ledger["consistency_valid"], [v.get("error") for v in verdicts]
