"""The master key and its ledger, on SQLite and on the real PostgreSQL server.

A ledger is bound to its master key (a key-check value recorded on creation): any other key is refused
before it can wrap a data key. No development key is created for a ledger that holds data. Rotation
re-wraps every data key in one transaction. Read-only opens create and write nothing.
"""

from __future__ import annotations

import base64
import json
import secrets
import sqlite3
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import Clock

from ledger.bootstrap import Ledger
from ledger.config import Settings
from ledger.store.crypto import FileMasterKey, KeyWrapper, MasterKeyError
from ledger.store.database import ConfigurationError, NoLedgerError
from ledger.store.masterkey import rotate_master_key
from ledger.store.messages import Message
from ledger.store.tables import KEY_CHECK_META
from ledger.testing import collected, new_id


def _key_file(path: Path) -> Path:
    path.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
    path.chmod(0o600)
    return path


def _settings(backend: dict[str, Any], key: Path | None, var: Path) -> Settings:
    return Settings(database_url=backend["url"], master_key_file=key, var_dir=var)


def _ingest(ledger: Ledger, subjects: list[str]) -> None:
    events = [
        collected(
            s, [("name", "full", f"Casey Example {i}"), ("contact_details", "email", f"c{i}@example.com")]
        )
        for i, s in enumerate(subjects)
    ]
    result = ledger.ingest_messages(
        [Message("test", 0, i, event=e, raw=json.dumps(e).encode()) for i, e in enumerate(events)]
    )
    assert result.stored == len(subjects)


def _values(ledger: Ledger, subject: str) -> list[Any]:
    return [item["value"] for item in ledger.subject_events(subject)[0]["payload"]["data_items"]]


def _key_rows(ledger: Ledger) -> list[tuple[str, str, int, bytes | None]]:
    with ledger.store.read() as cur:
        rows = cur.execute(
            "SELECT subject_id, category, key_version, wrapped FROM {t:ledger_keys} "
            "ORDER BY subject_id, category, key_version"
        ).all()
    return [
        (
            r["subject_id"],
            r["category"],
            r["key_version"],
            None if r["wrapped"] is None else bytes(r["wrapped"]),
        )
        for r in rows
    ]


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    return _key_file(tmp_path / "right.key"), _key_file(tmp_path / "other.key")


def test_master_key_that_does_not_match_the_ledger_is_refused(
    backend: dict[str, Any], tmp_path: Path, keys: tuple[Path, Path], clock: Clock
):
    right, other = keys
    ledger = Ledger.open(_settings(backend, right, tmp_path / "var"), clock=clock)
    subject = new_id()
    _ingest(ledger, [subject])
    before = _key_rows(ledger)
    ledger.close()
    for read_only in (False, True):
        with pytest.raises(MasterKeyError, match="LEDGER_MASTER_KEY_FILE") as refused:
            Ledger.open(_settings(backend, other, tmp_path / "var"), clock=clock, read_only=read_only)
        assert str(other) in str(refused.value)
    # Nothing the wrong key could have wrapped: the right key still reads everything.
    ledger = Ledger.open(_settings(backend, right, tmp_path / "var"), clock=clock)
    try:
        assert _key_rows(ledger) == before
        assert _values(ledger, subject) == ["Casey Example 0", "c0@example.com"]
    finally:
        ledger.close()


def test_a_new_ledger_records_its_key_check_so_another_key_is_refused_before_any_data(
    backend: dict[str, Any], tmp_path: Path, keys: tuple[Path, Path], clock: Clock
):
    right, other = keys
    ledger = Ledger.open(_settings(backend, right, tmp_path / "var"), clock=clock)
    with ledger.store.read() as cur:
        check = cur.execute("SELECT v FROM {t:ledger_meta} WHERE k = ?", (KEY_CHECK_META,)).scalar()
    ledger.close()
    assert check and base64.b64decode(right.read_text()).hex() not in base64.b64decode(check).hex()
    with pytest.raises(MasterKeyError, match="does not match"):
        Ledger.open(_settings(backend, other, tmp_path / "var"), clock=clock)


def test_a_ledger_from_before_the_key_check_gets_it_only_from_a_key_that_opens_its_data_keys(
    backend: dict[str, Any], tmp_path: Path, keys: tuple[Path, Path], clock: Clock
):
    right, other = keys
    ledger = Ledger.open(_settings(backend, right, tmp_path / "var"), clock=clock)
    subject = new_id()
    _ingest(ledger, [subject])

    def forget_check() -> None:
        with ledger.store.write(lock=False) as cur:
            cur.execute("DELETE FROM {t:ledger_meta} WHERE k = ?", (KEY_CHECK_META,))

    def stored_check() -> str | None:
        with ledger.store.read() as cur:
            value = cur.execute("SELECT v FROM {t:ledger_meta} WHERE k = ?", (KEY_CHECK_META,)).scalar()
        return None if value is None else str(value)

    forget_check()
    # A key that opens none of its data keys is refused, and records nothing.
    with pytest.raises(MasterKeyError, match="does not match"):
        Ledger.open(_settings(backend, other, tmp_path / "var"), clock=clock)
    assert stored_check() is None
    # The right key opens a stored data key: the check value is recorded, then binds the ledger.
    Ledger.open(_settings(backend, right, tmp_path / "var"), clock=clock).close()
    assert stored_check() is not None
    with pytest.raises(MasterKeyError):
        Ledger.open(_settings(backend, other, tmp_path / "var"), clock=clock)
    ledger.close()


def test_no_development_key_is_created_for_a_ledger_that_holds_data(
    backend: dict[str, Any], tmp_path: Path, keys: tuple[Path, Path], clock: Clock
):
    right, _ = keys
    ledger = Ledger.open(_settings(backend, right, tmp_path / "var"), clock=clock)
    _ingest(ledger, [new_id()])
    ledger.close()
    dev_var = tmp_path / "dev-var"
    for read_only in (False, True):
        with pytest.raises(MasterKeyError, match="LEDGER_MASTER_KEY_FILE"):
            Ledger.open(_settings(backend, None, dev_var), clock=clock, read_only=read_only)
    assert not (dev_var / "master.key").exists()


def test_a_development_key_is_created_for_a_new_empty_ledger(
    backend: dict[str, Any], tmp_path: Path, clock: Clock
):
    dev_var = tmp_path / "dev-var"
    ledger = Ledger.open(_settings(backend, None, dev_var), clock=clock)
    subject = new_id()
    _ingest(ledger, [subject])
    ledger.close()
    assert (dev_var / "master.key").stat().st_mode & 0o777 == 0o600
    ledger = Ledger.open(_settings(backend, None, dev_var), clock=clock, read_only=True)
    try:
        assert _values(ledger, subject)[0] == "Casey Example 0"
    finally:
        ledger.close()


def test_rotation_rewraps_every_live_data_key_and_then_only_the_new_key_opens_the_ledger(
    backend: dict[str, Any], tmp_path: Path, keys: tuple[Path, Path], clock: Clock
):
    old, new = keys
    ledger = Ledger.open(_settings(backend, old, tmp_path / "var"), clock=clock)
    kept, erased = new_id(), new_id()
    _ingest(ledger, [kept, erased])
    ledger.erase(erased)
    before = _key_rows(ledger)
    summary = ledger.rotate_master_key(FileMasterKey.load(new))
    after = _key_rows(ledger)
    ledger.close()
    live = [r for r in before if r[3] is not None]
    assert summary == {
        "rotated": True,
        "keys_rewrapped": len(live),
        "keys_destroyed_skipped": len(before) - len(live),
    }
    assert [r[:3] for r in after] == [r[:3] for r in before]
    assert all((a[3] is None) == (b[3] is None) for a, b in zip(after, before, strict=True))
    assert all(a[3] != b[3] for a, b in zip(after, before, strict=True) if b[3] is not None)
    # A fresh open (no cache of unwrapped keys) with the new key reads the data; the old key is refused.
    reopened = Ledger.open(_settings(backend, new, tmp_path / "var"), clock=clock, read_only=True)
    try:
        assert _values(reopened, kept) == ["Casey Example 0", "c0@example.com"]
        assert _values(reopened, erased)[0] == {"redacted": "erased", "category": "name"}
    finally:
        reopened.close()
    with pytest.raises(MasterKeyError):
        Ledger.open(_settings(backend, old, tmp_path / "var"), clock=clock)
    # The new key also writes: a new subject's keys are wrapped by it.
    writer = Ledger.open(_settings(backend, new, tmp_path / "var"), clock=clock)
    try:
        later = new_id()
        _ingest(writer, [later])
    finally:
        writer.close()
    reader = Ledger.open(_settings(backend, new, tmp_path / "var"), clock=clock, read_only=True)
    try:
        assert _values(reader, later)[0] == "Casey Example 0"
    finally:
        reader.close()


class _CrashAfter:
    """A wrapper that fails after ``n`` wraps, as a process dying mid-rotation would."""

    def __init__(self, inner: KeyWrapper, n: int) -> None:
        self.inner, self.left = inner, n

    def wrap(self, data_key: bytes, kid: str) -> bytes:
        if self.left == 0:
            raise RuntimeError("simulated crash in the middle of a rotation")
        self.left -= 1
        return self.inner.wrap(data_key, kid)

    def unwrap(self, wrapped: bytes, kid: str) -> bytes:
        return self.inner.unwrap(wrapped, kid)


def test_a_rotation_that_fails_part_way_leaves_the_old_key_valid_and_the_new_one_refused(
    backend: dict[str, Any], tmp_path: Path, keys: tuple[Path, Path], clock: Clock
):
    old, new = keys
    ledger = Ledger.open(_settings(backend, old, tmp_path / "var"), clock=clock)
    subjects = [new_id() for _ in range(4)]  # 4 subjects x (name, contact, fingerprint) keys
    _ingest(ledger, subjects)
    before = _key_rows(ledger)
    assert len(before) >= 8
    with pytest.raises(RuntimeError, match="simulated crash"):
        # Small chunks: a rotation committing chunk by chunk would have re-wrapped some keys for good.
        rotate_master_key(ledger.store, ledger.keys, _CrashAfter(FileMasterKey.load(new), 5), chunk=2)
    ledger.close()
    reopened = Ledger.open(_settings(backend, old, tmp_path / "var"), clock=clock)
    try:
        assert _key_rows(reopened) == before
        for i, subject in enumerate(subjects):
            assert _values(reopened, subject) == [f"Casey Example {i}", f"c{i}@example.com"]
    finally:
        reopened.close()
    with pytest.raises(MasterKeyError):
        Ledger.open(_settings(backend, new, tmp_path / "var"), clock=clock)


def test_rotation_to_the_current_key_is_refused(
    backend: dict[str, Any], tmp_path: Path, keys: tuple[Path, Path], clock: Clock
):
    old, _ = keys
    ledger = Ledger.open(_settings(backend, old, tmp_path / "var"), clock=clock)
    try:
        _ingest(ledger, [new_id()])
        with pytest.raises(MasterKeyError, match="current"):
            ledger.rotate_master_key(FileMasterKey.load(old))
    finally:
        ledger.close()


def test_a_writer_still_holding_a_rotated_key_writes_nothing(
    backend: dict[str, Any], tmp_path: Path, keys: tuple[Path, Path], clock: Clock
):
    old, new = keys
    running = Ledger.open(_settings(backend, old, tmp_path / "var"), clock=clock)
    _ingest(running, [new_id()])
    rotator = Ledger.open(_settings(backend, old, tmp_path / "var"), clock=clock)
    rotator.rotate_master_key(FileMasterKey.load(new))
    rotator.close()
    before = _key_rows(running)
    try:
        with pytest.raises(MasterKeyError, match="rotated"):
            _ingest(running, [new_id()])  # a new subject: its keys would be wrapped by the old key
        assert _key_rows(running) == before
    finally:
        running.close()


def test_a_read_only_open_where_there_is_no_ledger_says_so_and_creates_nothing(
    backend: dict[str, Any], tmp_path: Path, keys: tuple[Path, Path], clock: Clock
):
    right, _ = keys
    if backend["name"] == "sqlite":
        backend = {**backend, "url": f"sqlite:///{tmp_path}/none/ledger.db"}
    with pytest.raises(NoLedgerError, match="no ledger at"):
        Ledger.open(_settings(backend, right, tmp_path / "var"), clock=clock, read_only=True)
    with pytest.raises(NoLedgerError, match="no ledger at"):
        Ledger.open(_settings(backend, None, tmp_path / "var"), clock=clock, read_only=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.key", "right.key"]
    if backend["name"] == "postgres":
        with psycopg.connect(backend["base"]) as conn:
            found = conn.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", (backend["schema"],)
            ).fetchone()
        assert found is None


def test_a_read_only_open_writes_nothing(
    backend: dict[str, Any], tmp_path: Path, keys: tuple[Path, Path], clock: Clock
):
    right, _ = keys
    ledger = Ledger.open(_settings(backend, right, tmp_path / "var"), clock=clock)
    subject = new_id()
    _ingest(ledger, [subject])
    ledger.close()
    if backend["name"] == "sqlite":
        db: Path = backend["path"]
        before = (db.read_bytes(), db.stat().st_mtime_ns, _files(db.parent))
    reader = Ledger.open(_settings(backend, right, tmp_path / "var"), clock=clock, read_only=True)
    try:
        assert _values(reader, subject)[0] == "Casey Example 0"
        assert reader.verify().valid
        with pytest.raises(ConfigurationError, match="read-only"), reader.store.write(lock=False) as cur:
            cur.execute("DELETE FROM {t:ledger_dead_letters}")
        if backend["name"] == "sqlite":
            # The connection itself is read-only: SQLite refuses a write even from root.
            with (
                reader.store.datastore.transaction(commit=False) as raw,
                pytest.raises(sqlite3.OperationalError, match="readonly"),
            ):
                raw.execute("DELETE FROM ledger_dead_letters")
    finally:
        reader.close()
    if backend["name"] == "sqlite":
        assert (db.read_bytes(), db.stat().st_mtime_ns, _files(db.parent)) == before


def _files(folder: Path) -> list[str]:
    """The folder's files, less SQLite's WAL index files (a reader in a writable folder may leave an
    empty -wal and a -shm; in a read-only folder it creates none: see tests/e2e/test_cli_keys.py)."""
    return sorted(p.name for p in folder.iterdir() if not p.name.endswith(("-wal", "-shm")))
