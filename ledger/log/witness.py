"""The copy of the last issued checkpoint kept outside the database (``LEDGER_CHECKPOINT_WITNESS_DIR``).

Whoever can write the database can cut its tail, recompute every hash, or restore an older backup; the
checkpoint copy in a folder of its own survives that, so the ledger refuses to sign a tree that does not
extend it, and ``verify`` reports the difference. One file per log and database, named after the origin
and a digest of the database's location (so ledgers sharing a folder never mix); it only ever moves
forward (a larger tree replaces it, under a file lock) and is replaced atomically (temporary file,
fsync, rename, fsync of the folder), after the database committed the checkpoint.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from ledger.errors import LedgerError
from ledger.log.checkpoint import Checkpoint
from ledger.log.errors import LogError
from ledger.store.files import PRIVATE_FILE_MODE, make_private_dir

__all__ = ["WitnessCopy", "note_size"]


def note_size(note: str) -> int | None:
    """The tree size a signed checkpoint note states (its signature not checked), or None if unreadable."""
    text, separator, _ = note.rpartition("\n\n")
    if not separator:
        return None
    try:
        return Checkpoint.parse(text + "\n").size
    except LogError:
        return None


class WitnessCopy:
    """The last checkpoint of log ``origin`` in the database at ``database`` (its location: file path
    or server, database and schema), kept in ``directory`` (created 0700 when first written)."""

    def __init__(self, directory: Path, origin: str, database: str) -> None:
        self.directory = directory
        digest = hashlib.sha256(database.encode()).hexdigest()[:16]
        self.path = directory / f"{quote(origin, safe='')}@{digest}.checkpoint"

    def read(self) -> str | None:
        """The kept note, or None when there is none yet."""
        try:
            return self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise LedgerError(f"cannot read the checkpoint witness copy {self.path}: {exc}") from None

    def keep(self, note: str, size: int) -> None:
        """Replace the kept note by ``note`` (of tree ``size``) unless it already holds a larger tree."""
        try:
            make_private_dir(self.directory)
            with self._locked():
                current = self.read()
                held = note_size(current) if current is not None else None
                if held is not None and held >= size:
                    return
                self._replace(note)
        except OSError as exc:
            raise LedgerError(f"cannot write the checkpoint witness copy {self.path}: {exc}") from None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self.directory / ".lock", os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _replace(self, note: str) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
        os.fchmod(fd, PRIVATE_FILE_MODE)
        with os.fdopen(fd, "wb") as fh:
            fh.write(note.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)
        folder = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
