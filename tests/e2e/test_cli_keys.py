"""The master key, key rotation and read-only commands through the real ``privacy-ledger`` command."""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.testing import collected, new_id

READ_ONLY_COMMANDS: list[tuple[str, ...]] = [
    ("verify",),
    ("dead-letters",),
    ("query", "requests"),
    ("query", "consent", "--subject", "SUBJECT"),
    ("health",),
]
# Plaintext reads record themselves in the ledger first (spec 8): they need a ledger they can write to.
PLAINTEXT_READS: list[tuple[str, ...]] = [
    ("subject", "SUBJECT", "--reason", "rights_request"),
    ("query", "inventory", "--subject", "SUBJECT", "--reason", "rights_request"),
]


REASON = ("--reason", "rights_request")


def _run(
    cwd: Path,
    *args: str,
    env: dict[str, str] | None = None,
    umask: int | None = None,
    user: int | None = None,
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    full_env.update(env or {})
    command = [sys.executable, "-m", "ledger.cli", *args]
    if user is not None:
        command = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *command]
    return subprocess.run(
        command,
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=None if umask is None else (lambda: os.umask(umask)),
    )


def _ok(proc: subprocess.CompletedProcess[str]) -> Any:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _refused(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("privacy-ledger: ") and proc.stderr.count("\n") == 1, proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr


def _key(path: Path, mode: int = 0o600) -> Path:
    path.write_text(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
    path.chmod(mode)
    return path


def _events(tmp: Path, subject: str, name: str = "Casey Keys") -> str:
    path = tmp / f"events-{subject[:8]}.jsonl"
    path.write_text(
        json.dumps(
            collected(subject, [("name", "full", name), ("contact_details", "email", "c@example.com")])
        )
        + "\n"
    )
    return str(path)


def _with_subject(command: tuple[str, ...], subject: str) -> list[str]:
    return [subject if part == "SUBJECT" else part for part in command]


@pytest.fixture
def ledger_dir(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A SQLite ledger with one subject, and its key."""
    key = _key(tmp_path / "ledger.key")
    db = tmp_path / "data" / "ledger.db"
    env = {"LEDGER_MASTER_KEY_FILE": str(key), "LEDGER_DATABASE_URL": f"sqlite:///{db}"}
    subject = new_id()
    assert _ok(_run(tmp_path, "ingest", _events(tmp_path, subject), env=env))["stored"] == 1
    yield {"tmp": tmp_path, "key": key, "db": db, "env": env, "subject": subject}
    for folder in (db.parent, tmp_path):
        folder.chmod(0o755)


def test_every_command_refuses_a_master_key_that_does_not_match_the_ledger(ledger_dir: dict[str, Any]):
    tmp, subject = ledger_dir["tmp"], ledger_dir["subject"]
    other = _key(tmp / "other.key")
    env = {**ledger_dir["env"], "LEDGER_MASTER_KEY_FILE": str(other)}
    new_subject = new_id()
    commands = [
        ("ingest", _events(tmp, new_subject)),
        ("erase", subject),
        ("project", "--once"),
        ("keys", "rotate", "--new-key-file", str(_key(tmp / "next.key"))),
        *(tuple(_with_subject(c, subject)) for c in READ_ONLY_COMMANDS + PLAINTEXT_READS),
    ]
    for command in commands:
        _refused(_run(tmp, *command, env=env), "does not match", "LEDGER_MASTER_KEY_FILE", str(other))
    # The new subject was never written under the wrong key; the right key still reads everything.
    shown = _ok(_run(tmp, "subject", subject, *REASON, env=ledger_dir["env"]))
    assert shown[0]["payload"]["data_items"][0]["value"] == "Casey Keys"
    assert _ok(_run(tmp, "subject", new_subject, *REASON, env=ledger_dir["env"])) == []


def test_verify_on_a_ledger_with_data_and_no_key_stops_and_creates_no_key(tmp_path: Path):
    subject = new_id()
    _ok(_run(tmp_path, "ingest", _events(tmp_path, subject)))  # the embedded default: a development key
    dev_key = tmp_path / "var" / "master.key"
    dev_key.rename(tmp_path / "kept.key")
    for command in (("verify",), ("ingest", _events(tmp_path, new_id())), ("query", "requests")):
        _refused(_run(tmp_path, *command), "no master key", "LEDGER_MASTER_KEY_FILE")
        assert not dev_key.exists()
    _ok(_run(tmp_path, "verify", env={"LEDGER_MASTER_KEY_FILE": str(tmp_path / "kept.key")}))


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_a_master_key_file_open_to_group_or_others_is_refused_with_the_chmod_fix(tmp_path: Path, mode: int):
    key = _key(tmp_path / "open.key", mode)
    env = {"LEDGER_MASTER_KEY_FILE": str(key), "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path}/l.db"}
    _refused(_run(tmp_path, "ingest", _events(tmp_path, new_id()), env=env), f"chmod 600 {key}")
    assert not (tmp_path / "l.db").exists()


@pytest.mark.parametrize("umask", [0o022, 0o000])
def test_the_ledger_folder_is_created_0700_and_its_database_and_dev_key_0600_whatever_the_umask(
    tmp_path: Path, umask: int
):
    _ok(_run(tmp_path, "ingest", _events(tmp_path, new_id()), umask=umask))
    var = tmp_path / "var"
    assert stat.S_IMODE(var.stat().st_mode) == 0o700
    assert stat.S_IMODE((var / "ledger.db").stat().st_mode) == 0o600
    assert stat.S_IMODE((var / "master.key").stat().st_mode) == 0o600
    # The sample and demo commands create the same folder the same way.
    shutil.rmtree(var)
    _ok(_run(tmp_path, "sample", "--subjects", "2", umask=umask))
    assert stat.S_IMODE(var.stat().st_mode) == 0o700


def test_keys_rotate_rewraps_the_data_keys_and_then_only_the_new_key_works(ledger_dir: dict[str, Any]):
    tmp, env, subject = ledger_dir["tmp"], ledger_dir["env"], ledger_dir["subject"]
    help_text = _run(tmp, "keys", "rotate", "--help").stdout
    assert "--new-key-file FILE" in help_text and "mode 0600" in help_text
    _refused(
        _run(tmp, "keys", "rotate", "--new-key-file", str(_key(tmp / "loose.key", 0o644)), env=env),
        "chmod 600",
    )
    _refused(_run(tmp, "keys", "rotate", "--new-key-file", str(ledger_dir["key"]), env=env), "current")
    new = _key(tmp / "new.key")
    summary = _ok(_run(tmp, "keys", "rotate", "--new-key-file", str(new), env=env))
    assert summary["rotated"] is True and summary["keys_rewrapped"] == 3  # name, contact, fingerprint
    assert summary["keys_destroyed_skipped"] == 0 and summary["new_key_file"] == str(new)
    assert f"LEDGER_MASTER_KEY_FILE={new}" in summary["next"]
    _refused(_run(tmp, "verify", env=env), "does not match")
    new_env = {**env, "LEDGER_MASTER_KEY_FILE": str(new)}
    shown = _ok(_run(tmp, "subject", subject, *REASON, env=new_env))  # a fresh process: nothing cached
    assert shown[0]["payload"]["data_items"][0]["value"] == "Casey Keys"
    assert _ok(_run(tmp, "erase", subject, env=new_env))["stored"] == 1


def test_keys_rotate_where_there_is_no_ledger_says_so_and_creates_nothing(tmp_path: Path):
    new = _key(tmp_path / "new.key")
    _refused(_run(tmp_path, "keys", "rotate", "--new-key-file", str(new)), "no ledger at")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.key"]


def test_read_only_commands_on_a_read_only_database_work_and_create_or_write_nothing(
    ledger_dir: dict[str, Any],
):
    tmp, db, env, subject = ledger_dir["tmp"], ledger_dir["db"], ledger_dir["env"], ledger_dir["subject"]
    _ok(_run(tmp, "project", "--once", env=env))
    more = _events(tmp, new_id())
    db.chmod(0o444)
    db.parent.chmod(0o555)
    tmp.chmod(0o555)  # nothing (var/, a key) can appear in the working folder either
    before = (db.read_bytes(), db.stat().st_mtime_ns, sorted(db.parent.iterdir()), sorted(tmp.iterdir()))
    for command in READ_ONLY_COMMANDS:
        proc = _run(tmp, *_with_subject(command, subject), env=env)
        _ok(proc)
        if command[:2] == ("query", "requests"):
            assert "read-only" in proc.stderr and "nothing was written" in proc.stderr
    # A plaintext read could not be recorded there (spec 8): refused, and nothing shown.
    for command in PLAINTEXT_READS:
        proc = _run(tmp, *_with_subject(command, subject), env=env)
        _refused(proc, "read-only", "nothing was shown")
        assert proc.stdout == ""
    assert _ok(_run(tmp, "verify", env=env))["valid"] is True
    after = (db.read_bytes(), db.stat().st_mtime_ns, sorted(db.parent.iterdir()), sorted(tmp.iterdir()))
    assert after == before
    # A command that writes says the ledger is read-only (root included), and writes nothing either.
    _refused(_run(tmp, "ingest", more, env=env), "read-only", str(db))
    assert (db.read_bytes(), db.stat().st_mtime_ns, sorted(db.parent.iterdir())) == before[:3]


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv to run as nobody"
)
def test_read_only_commands_work_for_a_user_who_cannot_write_the_database():
    # Root is not stopped by file modes, so the commands run as nobody (uid 65534) here, in a folder of
    # its own under /tmp (pytest's own temporary folders are private to root).
    base = Path(tempfile.mkdtemp(prefix="ledger-ro-", dir="/tmp"))
    try:
        base.chmod(0o755)
        key = _key(base / "ledger.key")
        db = base / "data" / "ledger.db"
        env = {"LEDGER_MASTER_KEY_FILE": str(key), "LEDGER_DATABASE_URL": f"sqlite:///{db}"}
        subject = new_id()
        _ok(_run(base, "ingest", _events(base, subject), env=env))
        more = _events(base, new_id())
        os.chown(key, 65534, 65534)  # nobody may read the key (mode 0600), and own nothing else
        db.chmod(0o444)
        db.parent.chmod(0o755)
        before = (db.read_bytes(), db.stat().st_mtime_ns, sorted(db.parent.iterdir()))
        for command in READ_ONLY_COMMANDS:
            _ok(_run(base, *_with_subject(command, subject), env=env, user=65534))
        for command in PLAINTEXT_READS:  # the read could not be recorded: nothing shown
            proc = _run(base, *_with_subject(command, subject), env=env, user=65534)
            _refused(proc, "read-only", "nothing was shown")
            assert proc.stdout == ""
        _refused(_run(base, "ingest", more, env=env, user=65534), "read-only")
        assert (db.read_bytes(), db.stat().st_mtime_ns, sorted(db.parent.iterdir())) == before
    finally:
        shutil.rmtree(base)


def test_read_only_commands_where_there_is_no_ledger_say_so_and_create_nothing(tmp_path: Path):
    for command in READ_ONLY_COMMANDS + PLAINTEXT_READS:
        _refused(
            _run(tmp_path, *_with_subject(command, new_id())),
            "there is no ledger at ./var/ledger.db",
            "privacy-ledger ingest",
        )
    assert list(tmp_path.iterdir()) == []
    key = _key(tmp_path / "k")
    env = {"LEDGER_MASTER_KEY_FILE": str(key), "LEDGER_DATABASE_URL": f"sqlite:///{tmp_path}/x/l.db"}
    _refused(_run(tmp_path, "verify", env=env), f"there is no ledger at {tmp_path}/x/l.db")
    assert list(tmp_path.iterdir()) == [key]
