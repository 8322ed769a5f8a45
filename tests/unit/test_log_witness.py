"""The checkpoint copy kept outside the database: private, per log and database, and only moving forward."""

from __future__ import annotations

from pathlib import Path

from ledger.log.checkpoint import Checkpoint, sign_checkpoint
from ledger.log.note import SignerKey
from ledger.log.witness import WitnessCopy, note_size

ORIGIN = "ledger.example.com/log"
SIGNER = SignerKey.generate(ORIGIN)


def _note(size: int) -> str:
    return sign_checkpoint(Checkpoint(ORIGIN, size, bytes([size % 256]) * 32), SIGNER)


def test_the_copy_is_private_and_moves_only_forward(tmp_path: Path):
    witness = WitnessCopy(tmp_path / "witness", ORIGIN, "/srv/ledger.db")
    assert witness.read() is None
    witness.keep(_note(10), 10)
    assert witness.read() == _note(10)
    assert witness.path.stat().st_mode & 0o777 == 0o600
    assert witness.directory.stat().st_mode & 0o777 == 0o700
    witness.keep(_note(7), 7)  # a slower issuer finishing late never moves it back
    assert witness.read() == _note(10)
    witness.keep(_note(12), 12)
    assert witness.read() == _note(12)
    assert sorted(p.name for p in witness.directory.iterdir()) == [".lock", witness.path.name]


def test_each_log_and_database_has_its_own_copy(tmp_path: Path):
    one = WitnessCopy(tmp_path, ORIGIN, "/srv/a.db")
    other_database = WitnessCopy(tmp_path, ORIGIN, "/srv/b.db")
    other_log = WitnessCopy(tmp_path, "ledger.example.com/other", "/srv/a.db")
    assert len({one.path, other_database.path, other_log.path}) == 3
    assert one.path.name.startswith("ledger.example.com%2Flog@")


def test_note_size_reads_the_size_without_trusting_the_signature():
    assert note_size(_note(42)) == 42
    assert note_size("not a note") is None
