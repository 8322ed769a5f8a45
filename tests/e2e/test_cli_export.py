"""``privacy-ledger export`` and the offline verifiers as a regulator runs them, on both backends.

Every tamper case is named by what the verifier reports: records edited, deleted or cut in the database
before an export, and bundles edited after it. The verifiers are ``privacy-ledger verify-export`` and
``python3 tools/verify_export.py`` (the same checks: the command runs that file).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from export_story import ERASED_VALUES, KEPT_VALUES, Story, jsonl

from ledger.canonical import canonical_bytes
from ledger.log.note import SignerKey, sign_note
from ledger.store.database import LedgerStore

REPO = Path(__file__).resolve().parents[2]
VERIFIER = REPO / "tools" / "verify_export.py"
REASON = ("--reason", "regulator_inquiry")  # an export shows plaintext: the read is recorded (spec 8)


@dataclass
class Cli:
    """A ledger reached only through the command line, in its own folder, on one backend."""

    cwd: Path
    env: dict[str, str]
    url: str

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """``privacy-ledger ARGS`` in the ledger's folder."""
        return _run([sys.executable, "-m", "ledger.cli", *args], self.cwd, self.env)

    def export(self, *args: str) -> dict[str, Any]:
        proc = self.run("export", *args, *REASON)
        assert proc.returncode in (0, 1), proc.stderr
        summary: dict[str, Any] = json.loads(proc.stdout)
        return summary

    def tamper(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        """Change the database behind the ledger's back, as someone with write access could."""
        store = LedgerStore(self.url)
        try:
            with store.write(lock=False) as cur:
                cur.execute(sql, params)
        finally:
            store.close()

    def store(self) -> LedgerStore:
        return LedgerStore(self.url)


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    full.update(env)
    return subprocess.run(argv, cwd=cwd, env=full, capture_output=True, text=True, timeout=300)


def _cli(url: str, folder: Path) -> Cli:
    folder.mkdir(parents=True, exist_ok=True)
    key = folder / "master.key"
    key.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
    key.chmod(0o600)
    return Cli(folder, {"LEDGER_MASTER_KEY_FILE": str(key), "LEDGER_DATABASE_URL": url}, url)


def _told(cli: Cli, story: Story, *, complete: bool = True) -> Story:
    events = story.first_batch() + (story.second_batch() if complete else [])
    (cli.cwd / "story.jsonl").write_text(jsonl(events))
    proc = cli.run("ingest", "story.jsonl")
    assert proc.returncode == 0, proc.stderr
    return story


@pytest.fixture
def cli(backend: dict[str, Any], tmp_path: Path) -> Cli:
    """A fresh ledger on the parametrised backend, driven through the command line."""
    return _cli(backend["url"], tmp_path / "ledger")


def verify(cli: Cli, bundle: Path, key: str, *extra: str) -> subprocess.CompletedProcess[str]:
    """Both verifiers on one bundle: they must agree; the standalone file's result is returned."""
    standalone = _run([sys.executable, str(VERIFIER), str(bundle), "--key", key, *extra], cli.cwd, {})
    command = cli.run("verify-export", str(bundle), "--key", key, *extra)
    assert (command.returncode, command.stdout) == (standalone.returncode, standalone.stdout)
    return standalone


def _all_failures(proc: subprocess.CompletedProcess[str]) -> list[str]:
    return [line[6:] for line in proc.stdout.splitlines() if line.startswith("FAIL  ")]


def _failures(proc: subprocess.CompletedProcess[str]) -> list[str]:
    """The failures of the check a test is about. Every edit made to a bundle after the export also fails
    the signed manifest (tested on its own below), so its lines are left out here."""
    return [f for f in _all_failures(proc) if "manifest" not in f]


def _key_file(cli: Cli, summary: dict[str, Any]) -> str:
    """The regulator's own copy of the verifier key (received with the first bundle, kept apart)."""
    path = cli.cwd.parent / "regulator-verifier.key"
    if not path.exists():
        path.write_text(summary["verifier_key"] + "\n")
    return str(path)


# -- a valid export -------------------------------------------------------------------------------------


def test_an_export_verifies_with_both_commands_and_prints_no_value(cli: Cli):
    story = _told(cli, Story())
    summary = cli.export("--subject", story.b, "--out", "bundle.zip")
    assert summary["bundle"] == "bundle.zip" and summary["entries"] == 22 and summary["chain_valid"] is True
    assert summary["disclosure"]["recorded"] is True
    assert not [v for v in (*ERASED_VALUES, *KEPT_VALUES) if v in json.dumps(summary, ensure_ascii=False)]
    proc = verify(cli, cli.cwd / "bundle.zip", _key_file(cli, summary))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "VALID: every check passed" in proc.stdout.splitlines()
    # ... and says what a valid bundle does not prove (README, "What a valid bundle proves").
    assert "cannot prove that no record was left out" in proc.stdout
    assert not [v for v in KEPT_VALUES if v in proc.stdout]  # the verifier prints no value either
    # The export was recorded as read (spec 8) and as disclosed to the regulator, both outside the
    # bundle: the next one shows the two records.
    again = cli.export("--subject", story.a, "--out", "again.zip", "--no-record")
    assert again["entries"] == 24 and again["disclosure"] == {"recorded": False, "reason": "--no-record"}


def test_request_complaint_and_access_pack_exports_verify(cli: Cli):
    story = _told(cli, Story())
    key = None
    for args in (
        ("--request", story.request),
        ("--complaint", story.complaint),
        ("--access-pack", "--subject", story.a),
        ("--subject", story.a, "--from", "2026-02-01T00:00:00Z", "--to", "2026-03-01T00:00:00+01:00"),
    ):
        summary = cli.export(*args, "--no-record")
        key = key or _key_file(cli, summary)
        proc = verify(cli, cli.cwd / summary["bundle"], key)
        assert proc.returncode == 0, (args, proc.stdout)


def test_export_usage_errors_exit_2_and_unknown_ids_exit_1(cli: Cli):
    story = _told(cli, Story())
    for args, words in (
        (("--subject", "ada.exportson@example.com"), "must be an id"),
        (("--access-pack", "--request", story.request), "--access-pack needs --subject"),
        (("--subject", story.a, "--from", "yesterday"), "--from must be an RFC 3339"),
        (("--subject", story.a, "--since-checkpoint", "missing.txt"), "cannot read a checkpoint"),
    ):
        proc = cli.run("export", *args, *REASON)
        assert proc.returncode == 2 and words in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr and "ada.exportson" not in proc.stderr
    proc = cli.run("export", "--request", str(uuid.uuid4()), *REASON)
    assert proc.returncode == 1 and "holds no request" in proc.stderr
    (cli.cwd / "taken.zip").write_text("")
    proc = cli.run("export", "--subject", story.a, "--out", "taken.zip", *REASON)
    assert proc.returncode == 2 and "already exists" in proc.stderr


def test_an_out_path_ending_in_a_slash_is_a_folder_created_private_with_the_bundle_inside(cli: Cli):
    story = _told(cli, Story())
    summary = cli.export("--subject", story.a, "--out", "bundles/", "--no-record")
    folder = cli.cwd / "bundles"
    assert folder.is_dir() and (folder.stat().st_mode & 0o777) == 0o700
    written = list(folder.iterdir())
    assert len(written) == 1 and written[0].suffix == ".zip"
    assert zipfile.is_zipfile(written[0]) and str(written[0].name) in json.dumps(summary)


# -- the database tampered with before an export ---------------------------------------------------------


def _seq_of(cli: Cli, event_id: str) -> int:
    store = cli.store()
    try:
        with store.read() as cur:
            return int(
                cur.execute("SELECT seq FROM {t:ledger_chain} WHERE event_id = ?", (event_id,)).scalar()
            )
    finally:
        store.close()


def _edit_record(cli: Cli, seq: int, edit: Callable[[dict[str, Any]], None]) -> None:
    store = cli.store()
    try:
        with store.write(lock=False) as cur:
            nid = cur.execute("SELECT notification_id FROM {t:ledger_chain} WHERE seq = ?", (seq,)).scalar()
            where = f"{store.events_table} WHERE {store.notification_column} = ?"
            state = json.loads(bytes(cur.execute(f"SELECT state FROM {where}", (nid,)).scalar()))
            edit(state["record"])
            cur.execute(
                f"UPDATE {where.split(' WHERE')[0]} SET state = ? WHERE {store.notification_column} = ?",
                (json.dumps(state).encode(), nid),
            )
    finally:
        store.close()


def _recompute_chain(cli: Cli, start: int) -> None:
    """Recompute every chain hash and link from ``start`` on, as an attacker who edited a record would."""
    store = cli.store()
    try:
        with store.write(lock=False) as cur:
            rows = cur.execute(
                "SELECT c.seq, e.state FROM {t:ledger_chain} c "
                f"JOIN {store.events_table} e ON e.{store.notification_column} = c.notification_id "
                "ORDER BY c.seq"
            ).all()
            prev = "0" * 64
            for row in rows:
                seq, record = int(row["seq"]), json.loads(bytes(row["state"]))["record"]
                digest = hashlib.sha256(
                    canonical_bytes({**record, "seq": seq, "prev_hash": prev})
                ).hexdigest()
                if seq >= start:
                    cur.execute(
                        "UPDATE {t:ledger_chain} SET prev_hash = ?, hash = ? WHERE seq = ?",
                        (prev, digest, seq),
                    )
                else:
                    digest = str(
                        cur.execute("SELECT hash FROM {t:ledger_chain} WHERE seq = ?", (seq,)).scalar()
                    )
                prev = digest
    finally:
        store.close()


def _delete_records(cli: Cli, seqs: list[int]) -> None:
    store = cli.store()
    try:
        with store.write(lock=False) as cur:
            for seq in seqs:
                row = cur.execute(
                    "SELECT notification_id, event_id FROM {t:ledger_chain} WHERE seq = ?", (seq,)
                ).one()
                cur.execute(
                    f"DELETE FROM {store.events_table} WHERE {store.notification_column} = ?",
                    (row["notification_id"],),
                )
                cur.execute("DELETE FROM {t:ledger_chain} WHERE seq = ?", (seq,))
                cur.execute("DELETE FROM {t:ledger_dedup} WHERE seq = ?", (seq,))
    finally:
        store.close()


def test_an_edited_stored_record_is_reported_as_its_hash_and_inclusion_failing(cli: Cli):
    story = _told(cli, Story())
    first = cli.export("--subject", story.a, "--out", "before.zip", "--no-record")
    seq = _seq_of(cli, story.id("collected_a"))
    _edit_record(cli, seq, lambda r: r["payload"]["source"].update(channel="post"))
    summary = cli.export("--subject", story.a, "--out", "after.zip", "--no-record")
    # The ledger's own check fails at or before it (the tree audit names the subtree's first record).
    first_invalid = summary["first_invalid_seq"]
    assert summary["chain_valid"] is False and first_invalid <= seq
    proc = verify(cli, cli.cwd / "after.zip", _key_file(cli, first))
    assert proc.returncode == 1
    failures = _failures(proc)
    assert f"entry seq {seq}: hash does not match its leaf (SHA-256 of the leaf bytes)" in failures
    assert any(f.startswith(f"entry seq {seq}: inclusion proof: ") for f in failures)
    assert (
        f"footer: the ledger's full chain verification failed (first invalid seq {first_invalid})" in failures
    )


def test_a_deleted_record_is_reported_by_the_ledgers_chain_verification_in_the_footer(cli: Cli):
    story = _told(cli, Story())
    first = cli.export("--subject", story.a, "--out", "before.zip", "--no-record")
    seq = _seq_of(cli, story.id("used_on_consent"))
    _delete_records(cli, [seq])
    summary = cli.export("--subject", story.a, "--out", "after.zip", "--no-record")
    # The deleted record is missing; the first export's read record (spec 8) is new.
    assert summary["entries"] == first["entries"] - 1 + 1
    proc = verify(cli, cli.cwd / "after.zip", _key_file(cli, first))
    assert proc.returncode == 1
    assert _failures(proc) == [
        f"footer: the ledger's full chain verification failed (first invalid seq {seq})"
    ]


def test_every_hash_recomputed_after_an_edit_is_reported_as_inclusion_proofs_failing(cli: Cli):
    story = _told(cli, Story())
    first = cli.export("--subject", story.a, "--out", "before.zip", "--no-record")
    seq = _seq_of(cli, story.id("shared"))
    _edit_record(cli, seq, lambda r: r["payload"]["recipient"].update(country="US"))
    _recompute_chain(cli, seq)
    summary = cli.export("--subject", story.a, "--out", "after.zip", "--no-record")
    proc = verify(cli, cli.cwd / "after.zip", _key_file(cli, first))
    assert proc.returncode == 1
    failures = _failures(proc)
    # The chain agrees with itself again, but the signed tree still holds the original record.
    assert not [f for f in failures if "hash does not match its leaf" in f]
    assert any(f.startswith(f"entry seq {seq}: inclusion proof: ") for f in failures)
    assert summary["chain_valid"] is False  # the ledger's own check of the tree against the chain


def test_a_cut_tail_is_refused_while_the_signed_checkpoints_remember_it(cli: Cli):
    story = _told(cli, Story())
    cli.export("--subject", story.a, "--out", "before.zip", "--no-record")
    store = cli.store()
    with store.read() as cur:
        head = int(cur.execute("SELECT MAX(seq) AS m FROM {t:ledger_chain}").scalar())
    store.close()
    _delete_records(cli, [head - 1, head])
    proc = cli.run("export", "--subject", story.a, "--out", "after.zip", "--no-record", *REASON)
    assert proc.returncode == 1 and "cut tail" in proc.stderr, proc.stderr
    assert not (cli.cwd / "after.zip").exists()


def test_a_cut_tail_regrown_past_the_old_checkpoint_is_reported_as_a_consistency_failure(cli: Cli):
    story = _told(cli, Story())
    first = cli.export("--subject", story.a, "--out", "before.zip", "--no-record")
    size = first["tree_size"]
    keep = size - 4
    # Cut the last four records of the checkpoint and the export's read record after them, and every
    # trace of them: tree rows, issued checkpoints, witness copy.
    _delete_records(cli, list(range(keep + 1, size + 2)))
    store = cli.store()
    with store.write(lock=False) as cur:
        for row in cur.execute("SELECT node FROM {t:ledger_tree}").all():
            node = int(row["node"])
            if ((node // 64) + 1) << (node % 64) > keep:
                cur.execute("DELETE FROM {t:ledger_tree} WHERE node = ?", (node,))
        cur.execute("DELETE FROM {t:ledger_checkpoints}")
    store.close()
    shutil.rmtree(cli.cwd / "var" / "witness", ignore_errors=True)
    # The log grows again past the old size, with other records.
    other = Story()
    (cli.cwd / "more.jsonl").write_text(jsonl(other.first_batch()[:6]))
    assert cli.run("ingest", "more.jsonl").returncode == 0
    summary = cli.export(
        "--subject", story.a, "--out", "after.zip", "--since-checkpoint", "before.zip", "--no-record"
    )
    assert summary["tree_size"] > size and summary["consistency_from_tree_size"] == size
    proc = verify(cli, cli.cwd / "after.zip", _key_file(cli, first), "--previous-checkpoint", "before.zip")
    assert proc.returncode == 1
    assert "consistency: consistency proof does not lead to both root hashes" in _failures(proc)


# -- the bundle tampered with after an export ------------------------------------------------------------


@dataclass
class Exported:
    """One export of the story, made once per backend, and the regulator's key."""

    cli: Cli
    story: Story
    bundle: Path
    key: str
    earlier: Path  # a bundle of the same log at a smaller tree size

    @property
    def key_name(self) -> str:
        """The name in the verifier key (the log's origin)."""
        return Path(self.key).read_text().split("+")[0]


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def exported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exported]:
    folder = tmp_path_factory.mktemp(f"exported-{request.param}")
    schema = None
    if request.param == "sqlite":
        url = f"sqlite:///{folder}/ledger.db"
    else:
        base = request.getfixturevalue("pg_url")
        schema = f"t_{uuid.uuid4().hex[:12]}"
        url = f"{base}?schema={schema}"
    cli = _cli(url, folder / "ledger")
    story = Story()
    _told(cli, story, complete=False)
    cli.export("--subject", story.a, "--out", "earlier.zip", "--no-record")
    (cli.cwd / "rest.jsonl").write_text(jsonl(story.second_batch()))
    assert cli.run("ingest", "rest.jsonl").returncode == 0
    summary = cli.export("--subject", story.a, "--out", "bundle.zip", "--no-record")
    key = _key_file(cli, summary)
    yield Exported(cli, story, cli.cwd / "bundle.zip", key, cli.cwd / "earlier.zip")
    if schema is not None:
        import psycopg

        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _rezip(source: Path, target: Path, change: Callable[[dict[str, Any], dict[str, bytes]], None]) -> Path:
    """A copy of a bundle with export.json (and members) changed, its footer hash recomputed as anyone can."""
    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    doc = json.loads(members["export.json"])
    change(doc, members)
    blank = {**doc, "footer": {**doc["footer"], "export_sha256": ""}}
    text = json.dumps(blank, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    doc["footer"]["export_sha256"] = hashlib.sha256(text.encode()).hexdigest()
    members["export.json"] = json.dumps(doc, ensure_ascii=False).encode()
    with zipfile.ZipFile(target, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return target


def _entry(doc: dict[str, Any], event_id: str) -> dict[str, Any]:
    return next(e for e in doc["entries"] if e["event_id"] == event_id)


def _set_checkpoint(doc: dict[str, Any], members: dict[str, bytes], note: str) -> None:
    doc["checkpoint"] = note
    members["checkpoint.txt"] = note.encode()


def test_the_untouched_bundle_and_the_earlier_one_verify(exported: Exported):
    for bundle in (exported.bundle, exported.earlier):
        proc = verify(exported.cli, bundle, exported.key)
        assert proc.returncode == 0, proc.stdout


def test_an_edited_plaintext_value_is_reported_as_not_matching_its_commitment(
    exported: Exported, tmp_path: Path
):
    event_id = exported.story.id("collected_a")

    def edit(doc: dict[str, Any], _: dict[str, bytes]) -> None:
        _entry(doc, event_id)["payload"]["data_items"][1]["value"] = "Head of Quality"

    proc = verify(exported.cli, _rezip(exported.bundle, tmp_path / "t.zip", edit), exported.key)
    seq = _entry(json.loads(zipfile.ZipFile(exported.bundle).read("export.json")), event_id)["seq"]
    assert proc.returncode == 1
    assert _failures(proc) == [
        f"entry seq {seq}: disclosed value at /payload/data_items/1/value does not match its commitment"
    ]


def test_an_erased_value_shown_again_is_reported(exported: Exported, tmp_path: Path):
    event_id = exported.story.id("collected_b")

    def edit(doc: dict[str, Any], _: dict[str, bytes]) -> None:
        entry = _entry(doc, event_id)
        entry["payload"]["data_items"][0]["value"] = "+44 20 7946 0999"
        entry["binding"]["/payload/data_items/0/value"] = {"salt": base64.b64encode(bytes(32)).decode()}

    proc = verify(exported.cli, _rezip(exported.bundle, tmp_path / "t.zip", edit), exported.key)
    assert proc.returncode == 1
    assert [f.split(": ", 1)[1] for f in _failures(proc)] == [
        "disclosed value at /payload/data_items/0/value does not match its commitment"
    ]


def test_a_value_hidden_as_erased_while_its_key_lives_is_reported(exported: Exported, tmp_path: Path):
    event_id = exported.story.id("collected_a")

    def hide(doc: dict[str, Any], _: dict[str, bytes]) -> None:
        entry = _entry(doc, event_id)
        entry["payload"]["data_items"][1]["value"] = {"redacted": "erased", "category": "job_title"}
        entry["binding"]["/payload/data_items/1/value"] = {"state": "erased"}

    proc = verify(exported.cli, _rezip(exported.bundle, tmp_path / "t.zip", hide), exported.key)
    assert proc.returncode == 1
    assert [f.split(": ", 1)[1] for f in _failures(proc)] == [
        "disclosed value at /payload/data_items/1/value is shown erased, but no KeyShredded entry for its "
        "key is in the bundle"
    ]


def test_an_unchecked_field_added_to_an_entry_is_reported(exported: Exported, tmp_path: Path):
    event_id = exported.story.id("shared")

    def add(doc: dict[str, Any], _: dict[str, bytes]) -> None:
        _entry(doc, event_id)["note"] = "shared with consent"

    proc = verify(exported.cli, _rezip(exported.bundle, tmp_path / "t.zip", add), exported.key)
    assert proc.returncode == 1
    assert [f.split(": ", 1)[1] for f in _failures(proc)] == [
        "unexpected field note (nothing in an entry may go unchecked)"
    ]


def test_a_swapped_entry_is_reported_as_not_matching_its_leaf(exported: Exported, tmp_path: Path):
    a, b = exported.story.id("registered_a"), exported.story.id("registered_b")

    def swap(doc: dict[str, Any], _: dict[str, bytes]) -> None:
        first, second = _entry(doc, a), _entry(doc, b)
        for name in ("payload", "binding", "subject_id"):
            first[name], second[name] = second[name], first[name]

    proc = verify(exported.cli, _rezip(exported.bundle, tmp_path / "t.zip", swap), exported.key)
    assert proc.returncode == 1
    failures = _failures(proc)
    seqs = [
        _entry(json.loads(zipfile.ZipFile(exported.bundle).read("export.json")), i)["seq"] for i in (a, b)
    ]
    for seq in seqs:
        assert f"entry seq {seq}: subject_id does not match its leaf" in failures
        assert f"entry seq {seq}: /payload/roles/0 does not match its leaf" in failures
        assert (
            f"entry seq {seq}: disclosed value at /payload/display_name does not match its commitment"
            in failures
        )


def test_a_forged_checkpoint_is_reported_as_its_signature_failing(exported: Exported, tmp_path: Path):
    def forge(doc: dict[str, Any], members: dict[str, bytes]) -> None:
        lines = doc["checkpoint"].split("\n")
        lines[2] = base64.b64encode(hashlib.sha256(b"another tree").digest()).decode()
        _set_checkpoint(doc, members, "\n".join(lines))

    proc = verify(exported.cli, _rezip(exported.bundle, tmp_path / "t.zip", forge), exported.key)
    assert proc.returncode == 1
    failures = _failures(proc)
    assert f"checkpoint: signature by {exported.key_name} does not verify" in failures


def test_a_re_signed_checkpoint_is_reported_as_not_signed_by_the_regulators_key(
    exported: Exported, tmp_path: Path
):
    def resign(doc: dict[str, Any], members: dict[str, bytes]) -> None:
        body = doc["checkpoint"][: doc["checkpoint"].rfind("\n\n") + 1]
        impostor = SignerKey.generate(exported.key_name)
        _set_checkpoint(doc, members, sign_note(body, [impostor]))
        doc["verifier_key"] = impostor.verifier_key.text
        members["verifier.key"] = (impostor.verifier_key.text + "\n").encode()

    proc = verify(exported.cli, _rezip(exported.bundle, tmp_path / "t.zip", resign), exported.key)
    assert proc.returncode == 1
    failures = _failures(proc)
    assert f"checkpoint: note carries no signature by {exported.key_name}" in failures
    assert any(f.startswith("the bundle names the verifier key") for f in failures)


def test_a_proof_for_another_tree_size_is_reported_as_inclusion_proofs_failing(
    exported: Exported, tmp_path: Path
):
    with zipfile.ZipFile(exported.earlier) as archive:
        earlier = archive.read("checkpoint.txt").decode()

    def other_size(doc: dict[str, Any], members: dict[str, bytes]) -> None:
        _set_checkpoint(doc, members, earlier)  # genuine and signed, but of a smaller tree

    proc = verify(exported.cli, _rezip(exported.bundle, tmp_path / "t.zip", other_size), exported.key)
    assert proc.returncode == 1
    failures = _failures(proc)
    size = earlier.split("\n")[1]
    assert failures and all(f.startswith("entry seq ") and f"(tree size {size})" in f for f in failures)
    assert any("does not lead to the root hash" in f for f in failures)
    assert any("is not below tree size" in f for f in failures)


def test_a_truncated_bundle_is_reported_unreadable(exported: Exported, tmp_path: Path):
    data = exported.bundle.read_bytes()
    cut = tmp_path / "cut.zip"
    cut.write_bytes(data[: len(data) // 2])
    proc = verify(exported.cli, cut, exported.key)
    assert proc.returncode == 2 and "not a readable zip (truncated or damaged?)" in proc.stderr
    with zipfile.ZipFile(exported.bundle) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["export.json"] = members["export.json"][:-100]
    with zipfile.ZipFile(tmp_path / "short.zip", "w") as archive:
        for name, body in members.items():
            archive.writestr(name, body)
    proc = verify(exported.cli, tmp_path / "short.zip", exported.key)
    assert proc.returncode == 2 and "export.json is not UTF-8 JSON (truncated or damaged?)" in proc.stderr


def test_an_entry_removed_without_recomputing_the_footer_is_reported_by_the_footer(
    exported: Exported, tmp_path: Path
):
    with zipfile.ZipFile(exported.bundle) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    doc = json.loads(members["export.json"])
    doc["entries"].pop(3)
    members["export.json"] = json.dumps(doc).encode()
    with zipfile.ZipFile(tmp_path / "t.zip", "w") as archive:
        for name, body in members.items():
            archive.writestr(name, body)
    proc = verify(exported.cli, tmp_path / "t.zip", exported.key)
    assert proc.returncode == 1 and _failures(proc) == ["footer: export_sha256 does not match export.json"]


def test_an_edited_section_beside_the_entries_is_reported_by_the_signed_manifest(
    exported: Exported, tmp_path: Path
):
    """Alerts, requests, holdings and the footer's chain verification are no proof's business: only the
    manifest, signed by the log's key, binds them (export_sha256 is recomputed here, as anyone can)."""

    def edit(doc: dict[str, Any], _: dict[str, bytes]) -> None:
        doc["alerts"] = []

    proc = verify(exported.cli, _rezip(exported.bundle, tmp_path / "t.zip", edit), exported.key)
    assert proc.returncode == 1
    assert _all_failures(proc) == [
        "member export.json differs from the signed manifest (edited after the export)"
    ]


def test_an_edited_report_is_reported_by_the_signed_manifest(exported: Exported, tmp_path: Path):
    def edit(_: dict[str, Any], members: dict[str, bytes]) -> None:
        members["report.html"] = members["report.html"].replace(b"Integrity verified", b"Integrity verified!")

    proc = verify(exported.cli, _rezip(exported.bundle, tmp_path / "t.zip", edit), exported.key)
    failures = _all_failures(proc)
    assert proc.returncode == 1 and "member report.html differs from the signed manifest" in " ".join(
        failures
    )
    assert all("manifest" in f for f in failures)


def test_a_bundle_without_its_signed_manifest_or_with_one_signed_by_another_key_is_reported(
    exported: Exported, tmp_path: Path
):
    from ledger.log.note import SignerKey, sign_note

    def drop(_: dict[str, Any], members: dict[str, bytes]) -> None:
        del members["manifest.sig"]

    proc = verify(exported.cli, _rezip(exported.bundle, tmp_path / "a.zip", drop), exported.key)
    assert proc.returncode == 1
    assert "the bundle has no manifest.sig: nothing binds it to the ledger" in _all_failures(proc)

    def forge(_: dict[str, Any], members: dict[str, bytes]) -> None:
        text = members["manifest.sig"].decode().rpartition("\n\n")[0] + "\n"
        name = text and json.loads(members["export.json"])["verifier_key"].split("+")[0]
        members["manifest.sig"] = sign_note(text, [SignerKey.generate(name)]).encode()

    proc = verify(exported.cli, _rezip(exported.bundle, tmp_path / "b.zip", forge), exported.key)
    assert proc.returncode == 1
    assert any(f.startswith("manifest.sig: ") for f in _all_failures(proc))


# -- erasure after an export ----------------------------------------------------------------------------


def test_after_erasure_the_old_export_still_verifies_and_the_new_one_proves_it_extends_it(cli: Cli):
    story = _told(cli, Story())
    first = cli.export("--subject", story.a, "--out", "before.zip")
    key = _key_file(cli, first)
    erased = cli.run("erase", story.a)
    assert erased.returncode == 0, erased.stderr
    summary = cli.export("--subject", story.a, "--out", "after.zip", "--since-checkpoint", "before.zip")
    assert summary["consistency_from_tree_size"] == first["tree_size"] < summary["tree_size"]
    assert "bound" not in summary["personal_values"]  # every value erased now
    assert summary["disclosure"] == {
        "recorded": False,
        "reason": "the bundle shows no personal value in plaintext",
    }
    old = verify(cli, cli.cwd / "before.zip", key)
    new = verify(cli, cli.cwd / "after.zip", key, "--previous-checkpoint", "before.zip")
    assert (old.returncode, new.returncode) == (0, 0), old.stdout + new.stdout
    assert f"extends the earlier one of size {first['tree_size']}" in new.stdout
    # Nothing in the new bundle, nor in either verification, reveals an erased value.
    texts = _bundle_texts(cli.cwd / "after.zip", cli.cwd)
    for value in (*ERASED_VALUES, *KEPT_VALUES):
        assert not [name for name, text in texts.items() if value in text], value
        assert value not in old.stdout + new.stdout + json.dumps(summary, ensure_ascii=False)
    with zipfile.ZipFile(cli.cwd / "after.zip") as archive:
        doc = json.loads(archive.read("export.json"))
    bindings = [b for e in doc["entries"] for b in e["binding"].values()]
    assert bindings and all(b == {"state": "erased"} for b in bindings)  # no salt survives either


def _bundle_texts(path: Path, tmp: Path) -> dict[str, str]:
    texts: dict[str, str] = {}
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            data = archive.read(name)
            texts[name] = data.decode("utf-8", "replace")
            if name == "report.pdf":
                (tmp / "report.pdf").write_bytes(data)
    pdftotext = shutil.which("pdftotext")
    assert pdftotext is not None, "pdftotext (poppler-utils) is needed; scripts/test.sh installs it"
    texts["report.pdf (text)"] = subprocess.run(
        [pdftotext, "-enc", "UTF-8", str(tmp / "report.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    return texts
