"""Spec 8 on the command line: every command that shows decrypted personal values records the read first.

Each plaintext command (``ledger.read_audit.PLAINTEXT_COMMANDS``) leaves exactly one
``PersonalDataViewed`` per subject it shows (who: ``cli:uid:<uid>`` with the role ``host_operator``;
the view, the ``--reason`` code, interface ``cli``), stored before anything is printed or written: if
it cannot be stored, nothing is shown. Every other command is declared here as showing no plaintext,
so a command added to the parser without being declared one way or the other fails the first test.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
from export_story import KEPT_VALUES, Story, jsonl

from ledger.cli import build_parser
from ledger.read_audit import PLAINTEXT_COMMANDS, READ_REASONS
from ledger.store.database import LedgerStore
from ledger.web.roles import ReadReason, View

# Every other command and `query` view, and why it shows no decrypted personal value.
SHOWS_NO_PLAINTEXT = {
    "ingest": "prints counts",
    "erase": "prints outcomes per category and key versions",
    "verify": "prints the chain report: seqs and hashes",
    "checkpoint": "prints a signed checkpoint",
    "proof inclusion": "prints hashes of the tree",
    "proof consistency": "prints hashes of the tree",
    "health": "prints counters",
    "sample": "writes generated fictional data; reads no ledger",
    "demo": "prints counts, request deadlines and alert codes",
    "dead-letters": "prints error codes, paths and ids, never a value",
    "settings": "prints settings (the database password masked)",
    "keys rotate": "prints counts",
    "consume": "appends; prints nothing of an event",
    "publish": "sends a file's events; prints counts and error codes",
    "project": "prints counts",
    "verify-export": "checks a bundle file; prints check results, never a value",
    "backup": "writes the database (keys wrapped, values encrypted); prints counts and a checkpoint",
    "restore": "replaces the database; prints counts of keys destroyed again",
    "after-restore": "prints counts of keys destroyed again and a checkpoint",
    "serve": "the staff service: its gate records its plaintext reads (interface api)",
    "users add": "prints a staff user's one-time password, no subject's data",
    "users list": "prints staff users",
    "users disable": "prints a staff user",
    "tokens create": "prints a staff token, no subject's data",
    "tokens list": "prints staff tokens (no secret)",
    "tokens revoke": "prints a staff token (no secret)",
    "query requests": "codes, ids and dates (6.4)",
    "query complaints": "codes, ids and dates (6.10)",
    "query alerts": "codes, ids and value-free messages (6.5)",
    "query disclosures": "recipients and categories (6.2)",
    "query ropa": "purposes and categories (6.6)",
    "query notices": "codes, ids and dates (6.9)",
    "query retention": "codes, ids and dates (6.7)",
    "query reads": "the read trail: codes and opaque ids (spec 8)",
    "query consent": "consent states and ids (6.3)",
    "query portability": "categories and fields (6.11)",
}


def _commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every command as typed (``proof inclusion``, ``query inventory``) and its parser."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            out: dict[str, Any] = {}
            for name, sub in action.choices.items():
                out.update(_commands(sub, (*prefix, name)))
            return out
    name = " ".join(prefix)
    if prefix == ("query",):
        view = next(a for a in parser._actions if a.dest == "view")
        return {f"query {v}": parser for v in view.choices}
    return {name: parser}


def test_every_command_is_declared_as_showing_plaintext_or_not():
    commands = _commands(build_parser())
    assert not set(PLAINTEXT_COMMANDS) & set(SHOWS_NO_PLAINTEXT)
    assert set(commands) == set(PLAINTEXT_COMMANDS) | set(SHOWS_NO_PLAINTEXT), {
        "undeclared": sorted(set(commands) - set(PLAINTEXT_COMMANDS) - set(SHOWS_NO_PLAINTEXT)),
        "no such command": sorted((set(PLAINTEXT_COMMANDS) | set(SHOWS_NO_PLAINTEXT)) - set(commands)),
    }
    for name in PLAINTEXT_COMMANDS:
        reason = next((a for a in commands[name]._actions if a.dest == "reason"), None)
        assert reason is not None, f"{name} shows plaintext and has no --reason"
        assert tuple(reason.choices) == READ_REASONS == tuple(r.value for r in ReadReason)


# -- the reads themselves, through the real command ------------------------------------------------------


@dataclass
class Ledgerfolder:
    """A ledger on one backend, driven through the command line, holding the export story."""

    cwd: Path
    env: dict[str, str]
    url: str
    story: Story

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        full = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
        full.update(self.env)
        return subprocess.run(
            [sys.executable, "-m", "ledger.cli", *args],
            cwd=self.cwd,
            env=full,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def trail(self, *args: str) -> list[dict[str, Any]]:
        """``query reads ARGS`` (after ``project --once``: PostgreSQL deployments run it as a service)."""
        assert self.run("project", "--once").returncode == 0
        proc = self.run("query", "reads", *args)
        assert proc.returncode == 0, proc.stderr
        rows: list[dict[str, Any]] = json.loads(proc.stdout)
        return rows

    def audits(self) -> list[dict[str, Any]]:
        """Every stored ``PersonalDataViewed`` (its subject and payload), in seq order."""
        store = LedgerStore(self.url, read_only=True)
        try:
            with store.read() as cur:
                rows = cur.execute(
                    f"SELECT e.state FROM {{t:ledger_chain}} c JOIN {store.events_table} e "
                    f"ON e.{store.notification_column} = c.notification_id "
                    "WHERE c.event_type = 'PersonalDataViewed' ORDER BY c.seq"
                ).all()
        finally:
            store.close()
        records = [json.loads(bytes(r["state"]))["record"] for r in rows]
        return [{"subject_id": r["subject_id"], **r["payload"]} for r in records]


@pytest.fixture
def folder(backend: dict[str, Any], tmp_path: Path) -> Ledgerfolder:
    key = tmp_path / "master.key"
    key.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
    key.chmod(0o600)
    story = Story()
    (tmp_path / "story.jsonl").write_text(jsonl(story.first_batch()))
    env = {"LEDGER_MASTER_KEY_FILE": str(key), "LEDGER_DATABASE_URL": backend["url"]}
    made = Ledgerfolder(tmp_path, env, backend["url"], story)
    proc = made.run("ingest", "story.jsonl")
    assert proc.returncode == 0, proc.stderr
    return made


@dataclass(frozen=True)
class Read:
    """One plaintext read by a command: its arguments, and the audit record it must leave."""

    argv: Callable[[Story], list[str]]
    view: View
    subject: Callable[[Story], str]  # whose stream the record is on
    case: Callable[[Story], str | None] = lambda s: None

    def shown(self, folder: Ledgerfolder, proc: subprocess.CompletedProcess[str]) -> str:
        """What the command showed: its output, and the bundle's export.json for an export."""
        if self.view in (View.SUBJECT_EXPORT, View.REQUEST_EXPORT, View.COMPLAINT_EXPORT, View.ACCESS_PACK):
            bundle = folder.cwd / json.loads(proc.stdout)["bundle"]
            with zipfile.ZipFile(bundle) as z:
                return z.read("export.json").decode()
        return proc.stdout


# Per plaintext command, a read of every view it records (``b`` is merged into the survivor ``a``; their
# values readable are KEPT_VALUES). A plaintext command added to the table needs its reads here.
READS: dict[str, list[Read]] = {
    "subject": [Read(lambda s: ["subject", s.a], View.SUBJECT_EVENTS, lambda s: s.a)],
    "query inventory": [
        # The read is recorded on the subject asked for, even a merged one.
        Read(lambda s: ["query", "inventory", "--subject", s.b], View.INVENTORY, lambda s: s.b)
    ],
    "export": [
        # On the scope's subject: a subject's survivor, a request's or complaint's subject.
        Read(lambda s: ["export", "--subject", s.b, "--out", "x/"], View.SUBJECT_EXPORT, lambda s: s.a),
        Read(
            lambda s: ["export", "--request", s.request, "--out", "x/"],
            View.REQUEST_EXPORT,
            lambda s: s.a,
            lambda s: s.request,
        ),
        Read(
            lambda s: ["export", "--complaint", s.complaint, "--out", "x/"],
            View.COMPLAINT_EXPORT,
            lambda s: s.a,
            lambda s: s.complaint,
        ),
        Read(
            lambda s: ["export", "--access-pack", "--subject", s.a, "--out", "x/"],
            View.ACCESS_PACK,
            lambda s: s.a,
        ),
    ],
}
ALL_READS = [(name, i) for name, reads in READS.items() for i in range(len(reads))]


def test_every_plaintext_command_and_view_has_its_read_tested_here():
    assert set(READS) == set(PLAINTEXT_COMMANDS)
    for name, views in PLAINTEXT_COMMANDS.items():
        assert {r.view for r in READS[name]} == set(views), name


@pytest.mark.parametrize(("command", "index"), ALL_READS, ids=[f"{c}-{i}" for c, i in ALL_READS])
def test_a_plaintext_read_leaves_exactly_one_audit_record_before_it_is_shown(
    folder: Ledgerfolder, command: str, index: int
):
    read, story = READS[command][index], folder.story
    before = folder.audits()
    proc = folder.run(*read.argv(story), "--reason", "rights_request")
    assert proc.returncode == 0, proc.stderr
    shown = read.shown(folder, proc)
    assert any(value in shown for value in KEPT_VALUES)  # it did show plaintext
    after = folder.audits()
    assert after[: len(before)] == before and len(after) == len(before) + 1
    expected = {
        "subject_id": read.subject(story),
        "actor_ref": f"cli:uid:{os.getuid()}",
        "role": "host_operator",
        "view": str(read.view),
        "reason": "rights_request",
        "interface": "cli",
    }
    case = read.case(story)
    if case is not None:
        expected["case_id"] = case
    assert after[-1] == expected
    # The read trail answers "who looked at this person" (any id of the family) and "what did they read".
    for subject in (story.a, story.b):
        trail = folder.trail("--subject", subject)
        assert [(r["view"], r["subject_id"]) for r in trail] == [(str(read.view), read.subject(story))]
    mine = folder.trail("--actor", f"cli:uid:{os.getuid()}")
    assert len(mine) == 1 and mine[0]["reason"] == "rights_request" and mine[0]["role"] == "host_operator"
    assert folder.trail("--actor", "cli:uid:99999") == []


def _refuse_read_audits(folder: Ledgerfolder) -> None:
    """Make the database refuse to store a PersonalDataViewed (a trigger), as a failing write would."""
    store = LedgerStore(folder.url)
    try:
        with store.write(lock=False) as cur:
            if store.dialect.is_postgres:
                function = store.dialect.table("refuse_read_audit")
                cur.execute(
                    f"CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$"
                )
                cur.execute(
                    "CREATE TRIGGER refuse_read_audit BEFORE INSERT ON {t:ledger_chain} FOR EACH ROW "
                    f"WHEN (NEW.event_type = 'PersonalDataViewed') EXECUTE FUNCTION {function}()"
                )
            else:
                cur.execute(
                    "CREATE TRIGGER refuse_read_audit BEFORE INSERT ON ledger_chain "
                    "WHEN NEW.event_type = 'PersonalDataViewed' BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
    finally:
        store.close()


@pytest.mark.parametrize(("command", "index"), ALL_READS, ids=[f"{c}-{i}" for c, i in ALL_READS])
def test_when_the_read_cannot_be_recorded_nothing_is_shown(folder: Ledgerfolder, command: str, index: int):
    read = READS[command][index]
    _refuse_read_audits(folder)
    proc = folder.run(*read.argv(folder.story), "--reason", "data_quality")
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    assert not any(value in proc.stderr for value in KEPT_VALUES)
    # One line (after the warning of a development signing key an export creates for its checkpoint).
    [line] = [x for x in proc.stderr.splitlines() if not x.startswith("WARNING ledger.log.signing")]
    assert line.startswith("privacy-ledger: the read could not be recorded") and "nothing was shown" in line
    assert not (folder.cwd / "x").exists() or list((folder.cwd / "x").iterdir()) == []
    assert folder.audits() == []


@pytest.mark.parametrize(("command", "index"), ALL_READS, ids=[f"{c}-{i}" for c, i in ALL_READS])
def test_a_plaintext_read_without_a_reason_is_refused_naming_the_reasons(
    folder: Ledgerfolder, command: str, index: int
):
    read = READS[command][index]
    for extra, says in (
        ((), "give --reason, one of: " + ", ".join(READ_REASONS)),
        (("--reason", "asked by Ada on the phone"), "invalid choice"),
    ):
        proc = folder.run(*read.argv(folder.story), *extra)
        assert proc.returncode == 2, proc.stderr
        assert proc.stdout == "" and proc.stderr.count("\n") == 1 and says in proc.stderr, proc.stderr
    assert not (folder.cwd / "x").exists()
    assert folder.audits() == []


def test_reason_is_refused_by_a_view_that_shows_no_plaintext(folder: Ledgerfolder):
    proc = folder.run("query", "requests", "--reason", "rights_request")
    assert proc.returncode == 2 and "query requests does not take --reason" in proc.stderr
    proc = folder.run("query", "reads", "--status", "OPEN")
    assert proc.returncode == 2 and "it takes: --as-of, --subject, --actor, --limit" in proc.stderr


def test_a_subject_with_no_event_prints_nothing_and_records_nothing(folder: Ledgerfolder):
    proc = folder.run("subject", "00000000-0000-4000-8000-00000000abcd", "--reason", "data_quality")
    assert (proc.returncode, json.loads(proc.stdout)) == (0, [])
    assert folder.audits() == []


def test_the_trail_of_several_reads_is_newest_first_and_pages_with_limit(folder: Ledgerfolder):
    story = folder.story
    for reason in ("rights_request", "complaint_handling", "legal_claim"):
        assert folder.run("subject", story.a, "--reason", reason).returncode == 0
    trail = folder.trail("--subject", story.b)
    assert [r["reason"] for r in trail] == ["legal_claim", "complaint_handling", "rights_request"]
    assert [r["read_at"] for r in trail] == sorted((r["read_at"] for r in trail), reverse=True)
    assert {r["resolved_subject_id"] for r in trail} == {story.a}
    assert folder.trail("--subject", story.a, "--limit", "1") == trail[:1]
    assert folder.trail("--subject", story.other) == []
