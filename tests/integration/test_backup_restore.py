"""Backup and restore never bring an erased person back (``backup``, ``restore``, ``after-restore``).

Through the real command on both backends (a fresh SQLite file; a fresh schema on the real PostgreSQL
server, dumped with pg_dump and restored with pg_restore and psql): a backup taken before an erasure
holds the erased keys; the destruction journal kept outside the database lets the restore destroy them
again before anything is read, and the restored log extends the last issued checkpoint when no
checkpoint was signed after the backup (and says precisely that it cannot when one was).
"""

from __future__ import annotations

import base64
import json
import secrets
import zipfile
from pathlib import Path
from typing import Any

import pytest
from conftest import env_without_ledger_settings, run_cli

from ledger.bootstrap import Ledger
from ledger.config import Settings
from ledger.testing import collected, new_id

A_EMAIL, A_STREET = "alex.restore@example.com", "1 Restore Lane"
B_EMAIL, B_STREET = "blair.restore@example.com", "2 Backup Road"
C_EMAIL = "casey.restore@example.com"
ERASED = (A_EMAIL, A_STREET, B_EMAIL)


@pytest.fixture
def env(backend: dict[str, Any], tmp_path: Path) -> dict[str, str]:
    key = tmp_path / "kek"
    key.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
    key.chmod(0o600)
    return env_without_ledger_settings(
        {
            "LEDGER_MASTER_KEY_FILE": str(key),
            "LEDGER_DATABASE_URL": backend["url"],
            "LEDGER_VAR_DIR": str(tmp_path / "var"),
            "LEDGER_CHECKPOINT_WITNESS_DIR": str(tmp_path / "witness"),
        }
    )


class Story:
    """Three fictional subjects among the generated sample, ingested into the test's ledger."""

    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.tmp, self.env = tmp, env
        self.a, self.b, self.c = new_id(), new_id(), new_id()
        sample = tmp / "sample.jsonl"
        self.ok("sample", "--subjects", "20", "--out", str(sample))
        mine = tmp / "mine.jsonl"
        events = [
            collected(self.a, [("contact_details", "email", A_EMAIL), ("postal_address", "line1", A_STREET)]),
            collected(self.b, [("contact_details", "email", B_EMAIL), ("postal_address", "line1", B_STREET)]),
            collected(self.c, [("contact_details", "email", C_EMAIL)]),
        ]
        mine.write_text("".join(json.dumps(e) + "\n" for e in events))
        self.ok("ingest", str(sample), str(mine))

    def run(self, *args: str) -> Any:
        return run_cli(self.tmp, self.env, *args)

    def ok(self, *args: str) -> Any:
        proc = self.run(*args)
        assert proc.returncode == 0, (args, proc.stdout[-2000:], proc.stderr[-2000:])
        return json.loads(proc.stdout) if proc.stdout.strip().startswith(("{", "[")) else proc.stdout

    def erase_a_and_bs_contact_details(self) -> None:
        self.ok("erase", self.a)
        self.ok("erase", self.b, "--category", "contact_details")

    def everything_readable_about(self, subject: str) -> str:
        """What every read path shows of ``subject``: its events, its inventory, its export bundle."""
        shown = [
            self.ok("subject", subject, "--reason", "data_quality"),
            self.ok("query", "inventory", "--subject", subject, "--reason", "data_quality"),
        ]
        out = self.tmp / f"export-{new_id()}"
        self.ok(
            "export", "--subject", subject, "--reason", "regulator_inquiry", "--no-record", "--out", str(out)
        )
        texts = [json.dumps(s) for s in shown]
        for bundle in out.rglob("*.zip"):
            with zipfile.ZipFile(bundle) as z:
                texts += [
                    z.read(n).decode("utf-8", "replace") for n in z.namelist() if not n.endswith(".pdf")
                ]
        return "\n".join(texts)


def _live_keys(env: dict[str, str], subject: str) -> list[str]:
    """The subject's key rows that still hold key material, read straight from the database."""
    ledger = Ledger.open(Settings.from_env(env), read_only=True, restoring=True)  # also before after-restore
    try:
        with ledger.store.read() as cur:
            rows = cur.execute(
                "SELECT category, key_version FROM {t:ledger_keys} WHERE subject_id = ? "
                "AND wrapped IS NOT NULL ORDER BY category",
                (subject,),
            ).all()
    finally:
        ledger.close()
    return [f"{r['category']}/v{r['key_version']}" for r in rows]


def test_a_restored_backup_brings_back_no_erased_person_and_extends_the_last_checkpoint(
    backend: dict[str, Any], env: dict[str, str], tmp_path: Path
):
    story = Story(tmp_path, env)
    before = story.everything_readable_about(story.a)
    assert A_EMAIL in before and A_STREET in before  # the read paths do show plaintext
    backup = story.ok("backup", "--out", str(tmp_path / "ledger.backup"))
    assert backup["checkpoint"]["status"] == "issued"
    story.erase_a_and_bs_contact_details()  # no checkpoint signed after the backup

    restored = story.ok("restore", str(tmp_path / "ledger.backup"))

    # A's data keys, its fingerprint key, B's contact_details key: destroyed again, and recorded.
    assert restored["keys_destroyed_again"] >= 4 and restored["subjects"] == 2
    assert restored["key_shredded_events"] == 3  # A: contact_details, postal_address; B: contact_details
    assert restored["checkpoint"] == {
        "status": "issued",
        "size": restored["records"],
        "extends_last_issued": True,
    }
    assert _live_keys(env, story.a) == []
    assert "contact_details/v1" not in _live_keys(env, story.b)
    a_now, b_now, c_now = (story.everything_readable_about(s) for s in (story.a, story.b, story.c))
    for value in ERASED:
        assert value not in a_now + b_now + c_now
    assert B_STREET in b_now and C_EMAIL in c_now  # the others read as before
    assert story.ok("verify")["valid"] is True
    assert story.run("checkpoint").returncode == 0


def test_a_restored_database_refuses_every_read_until_after_restore_ran(
    backend: dict[str, Any], env: dict[str, str], tmp_path: Path
):
    from ledger.backup import restore_database

    story = Story(tmp_path, env)
    story.ok("backup", "--out", str(tmp_path / "ledger.backup"))
    story.ok("erase", story.a)
    # The database alone restored, as by hand (pg_restore, a file copy): no after-restore yet.
    restore_database(Settings.from_env(env), tmp_path / "ledger.backup")
    assert _live_keys(env, story.a)  # the backup holds the erased keys

    for args in (
        ["subject", story.a, "--reason", "data_quality"],
        ["query", "inventory", "--subject", story.a, "--reason", "data_quality"],
        ["export", "--subject", story.a, "--reason", "regulator_inquiry", "--out", str(tmp_path / "x")],
        ["verify"],
        ["erase", story.c],
    ):
        proc = story.run(*args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert "`privacy-ledger after-restore`" in proc.stderr and "Traceback" not in proc.stderr
        assert A_EMAIL not in proc.stdout + proc.stderr

    done = story.ok("after-restore")
    assert done["keys_destroyed_again"] >= 3 and done["checkpoint"]["extends_last_issued"] is True
    assert A_EMAIL not in story.everything_readable_about(story.a)
    assert C_EMAIL in story.everything_readable_about(story.c)
    again = story.ok("after-restore")  # idempotent: nothing left to destroy
    assert again["keys_destroyed_again"] == 0 and again["key_shredded_events"] == 0
    assert again["checkpoint"]["extends_last_issued"] is True


def test_a_checkpoint_signed_after_the_backup_cannot_be_extended_and_the_restore_says_so(
    backend: dict[str, Any], env: dict[str, str], tmp_path: Path
):
    story = Story(tmp_path, env)
    backup = story.ok("backup", "--out", str(tmp_path / "ledger.backup"))
    story.erase_a_and_bs_contact_details()
    signed = story.ok("checkpoint")  # covers the erasures, which the backup lacks
    assert signed["size"] > backup["records"]

    proc = story.run("restore", str(tmp_path / "ledger.backup"))

    assert proc.returncode == 1, proc.stderr
    out = json.loads(proc.stdout)
    assert out["checkpoint"]["extends_last_issued"] is False
    assert "restored from an older backup" in out["checkpoint"]["reason"]
    assert f"covers {signed['size']}" in out["checkpoint"]["reason"]
    # The erased stay erased even so.
    assert _live_keys(env, story.a) == []
    shown = story.ok("subject", story.a, "--reason", "data_quality")
    assert A_EMAIL not in json.dumps(shown) and A_STREET not in json.dumps(shown)
    assert story.run("checkpoint").returncode == 1  # still refused: detected, never signed over


def test_backup_and_restore_refuse_bad_files_with_a_usage_error(
    backend: dict[str, Any], env: dict[str, str], tmp_path: Path
):
    story = Story(tmp_path, env)
    existing = tmp_path / "exists.backup"
    existing.write_text("keep me")
    proc = story.run("backup", "--out", str(existing))
    assert proc.returncode == 2 and "exists" in proc.stderr and existing.read_text() == "keep me"
    proc = story.run("restore", str(existing))
    assert proc.returncode == 2 and "not a" in proc.stderr and "Traceback" not in proc.stderr
    proc = story.run("restore", str(tmp_path / "missing.backup"))
    assert proc.returncode == 2 and "cannot read backup" in proc.stderr
    assert C_EMAIL in json.dumps(story.ok("subject", story.c, "--reason", "data_quality"))


def test_a_key_made_again_after_the_restore_is_not_destroyed_by_an_old_journal_entry(
    backend: dict[str, Any], env: dict[str, str], tmp_path: Path
):
    story = Story(tmp_path, env)
    story.ok("backup", "--out", str(tmp_path / "ledger.backup"))
    late, first, again = new_id(), "first.late@example.com", "again.late@example.com"
    (tmp_path / "late.jsonl").write_text(json.dumps(collected(late, [("contact_details", "email", first)])))
    story.ok("ingest", str(tmp_path / "late.jsonl"))
    story.ok("erase", late)  # journal: its contact_details key version 1, made after the backup
    story.ok("restore", str(tmp_path / "ledger.backup"))  # the backup never held that key
    # The producer sends the subject's data again: version 1 of its key is made anew.
    (tmp_path / "again.jsonl").write_text(json.dumps(collected(late, [("contact_details", "email", again)])))
    story.ok("ingest", str(tmp_path / "again.jsonl"))
    assert "contact_details/v1" in _live_keys(env, late)

    rerun = story.ok("after-restore")

    assert rerun["keys_destroyed_again"] == 0
    assert "contact_details/v1" in _live_keys(env, late)
    assert again in json.dumps(story.ok("subject", late, "--reason", "data_quality"))
