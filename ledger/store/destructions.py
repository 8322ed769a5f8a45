"""The destruction journal: an append-only record of destroyed data keys kept outside the database.

A database backup holds the data keys that were live when it was taken. Restoring it would bring back
every key destroyed since, and with them the people erased since. So every destruction is also written
here, in a file beside the checkpoint witness copy (``LEDGER_CHECKPOINT_WITNESS_DIR``), which a database
restore does not touch: one JSON line per destroyed key version with its key id, subject, category,
version, the key row's ``created_at`` and the ledger time of the destruction; never key material or a
personal value. The line is written and fsynced inside the destroying transaction, before it commits:
a crash may leave a line for a destruction that did not commit, never a committed destruction without
its line. The lines of one transaction carry its token (``txn``), and once it committed a marker line
``{"committed": txn}`` follows them. A line without its marker is a destruction that may not have
committed (a process killed between the two): it does not stop the ledger from opening (the consumer's
next attempt at the batch destroys the keys again), but ``after-restore`` still re-applies it, erring on
the side of erasure.

The database remembers how much of the journal it has applied (``ledger_meta`` row
``destruction_journal_bytes``, written in the same transaction). A restored older database remembers
less than the journal holds; :func:`check_journal` (run by every ``Ledger.open``) then looks for key
rows the journal says were destroyed that still hold key material, and refuses to open the ledger,
for reading or writing, until ``privacy-ledger after-restore`` (:func:`reapply_destructions`) destroyed
them again; only committed lines (marked, or written before markers existed) count here. A key row
matches an entry only with the same ``created_at``: a key version made again after the restore
(re-collection) is a new key and stays.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import logging
import os
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.errors import LedgerError
from ledger.store.dialect import SqlCursor
from ledger.store.files import PRIVATE_FILE_MODE, make_private_dir

__all__ = [
    "JOURNAL_META",
    "DestructionJournal",
    "JournalEntry",
    "RestorePending",
    "check_journal",
    "pending_destructions",
    "record_destructions",
]

log = logging.getLogger(__name__)

JOURNAL_META = "destruction_journal_bytes"


class RestorePending(LedgerError):
    """The database still holds keys the destruction journal says were destroyed (a restored backup)."""


@dataclass(frozen=True)
class JournalEntry:
    """One destroyed key version (ids and times only)."""

    subject_id: str
    category: str
    key_version: int
    created_at: str
    destroyed_at: str
    txn: str | None = None  # the destroying transaction's token (None: a line from before tokens)
    committed: bool = True  # its transaction's commit marker follows (always for a line without token)

    def as_json(self) -> str:
        fields: dict[str, Any] = {
            "subject_id": self.subject_id,
            "category": self.category,
            "key_version": self.key_version,
            "key_created_at": self.created_at,
            "destroyed_at": self.destroyed_at,
        }
        if self.txn is not None:
            fields["txn"] = self.txn
        return json.dumps(fields, sort_keys=True, separators=(",", ":"))


class DestructionJournal:
    """The journal of the ledger in database ``database`` (its location), kept in ``directory``."""

    def __init__(self, directory: Path, database: str) -> None:
        self.directory = directory
        digest = hashlib.sha256(database.encode()).hexdigest()[:16]
        self.path = directory / f"destroyed-keys@{digest}.jsonl"

    def size(self) -> int:
        """The journal's length in bytes (0 when there is none yet)."""
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0
        except OSError as exc:
            raise LedgerError(f"cannot read the destruction journal {self.path}: {exc.strerror}") from None

    def append(self, entries: Iterable[JournalEntry]) -> int:
        """Append ``entries`` (fsynced, the folder too when the file is new); returns the new size."""
        return self._append("".join(e.as_json() + "\n" for e in entries).encode("utf-8"))

    def mark_committed(self, txn: str) -> None:
        """Append the commit marker of the transaction whose lines carry ``txn`` (after it committed)."""
        self._append((json.dumps({"committed": txn}, separators=(",", ":")) + "\n").encode("utf-8"))

    def _append(self, data: bytes) -> int:
        try:
            make_private_dir(self.directory)
            new = not self.path.exists()
            with self._locked():
                fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE_MODE)
                try:
                    os.write(fd, data)
                    os.fsync(fd)
                    size = os.fstat(fd).st_size
                finally:
                    os.close(fd)
            if new:
                folder = os.open(self.directory, os.O_RDONLY)
                try:
                    os.fsync(folder)
                finally:
                    os.close(folder)
        except OSError as exc:
            raise LedgerError(f"cannot write the destruction journal {self.path}: {exc.strerror}") from None
        return size

    def read(self, offset: int = 0) -> list[JournalEntry]:
        """The entries from byte ``offset`` (a line boundary; else the whole journal is read)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise LedgerError(f"cannot read the destruction journal {self.path}: {exc.strerror}") from None
        if offset > len(data) or (offset > 0 and data[offset - 1 : offset] != b"\n"):
            offset = 0
        entries: list[JournalEntry] = []
        committed: set[str] = set()
        for number, line in enumerate(data[offset:].splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj: dict[str, Any] = json.loads(line)
                if "committed" in obj:  # a transaction's marker follows its lines
                    committed.add(str(obj["committed"]))
                    continue
                txn = obj.get("txn")
                entries.append(
                    JournalEntry(
                        str(obj["subject_id"]),
                        str(obj["category"]),
                        int(obj["key_version"]),
                        str(obj["key_created_at"]),
                        str(obj["destroyed_at"]),
                        None if txn is None else str(txn),
                    )
                )
            except (ValueError, KeyError, TypeError, AttributeError):
                # A torn last line (a crash while appending) holds nothing that committed.
                log.warning("destruction journal %s: unreadable line %d skipped", self.path, number)
        return [e if e.txn is None else dataclasses.replace(e, committed=e.txn in committed) for e in entries]

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self.directory / ".destructions.lock", os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def applied_size(cur: SqlCursor) -> int:
    """How much of the journal (bytes) this database has applied."""
    value = cur.execute("SELECT v FROM {t:ledger_meta} WHERE k = ?", (JOURNAL_META,)).scalar()
    return 0 if value is None else int(value)


def set_applied_size(cur: SqlCursor, size: int) -> None:
    """Record, in the current write transaction, that the journal up to ``size`` bytes is applied."""
    cur.execute(
        "INSERT INTO {t:ledger_meta} (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v",
        (JOURNAL_META, str(size)),
    )


def record_destructions(
    cur: SqlCursor, journal: DestructionJournal, kids: Iterable[str], now: str
) -> str | None:
    """Write the key versions ``kids`` destroyed in this (uncommitted) transaction to the journal; the
    token of its lines, for :meth:`DestructionJournal.mark_committed` once the transaction committed
    (None if no line was written).

    Keys created and destroyed within the transaction have no committed row a backup could hold: they
    are left out.
    """
    txn = str(uuid.uuid4())
    entries: list[JournalEntry] = []
    for kid in kids:
        subject_id, category, tag = kid.split("/")  # ledger.store.keystore.format_kid
        version = int(tag.removeprefix("v"))
        created = cur.execute(
            "SELECT created_at FROM {t:ledger_keys} WHERE subject_id = ? AND category = ? "
            "AND key_version = ?",
            (subject_id, category, version),
        ).scalar()
        if created is not None:
            entries.append(JournalEntry(subject_id, category, version, str(created), now, txn))
    if not entries:
        return None
    set_applied_size(cur, journal.append(entries))
    return txn


def pending_destructions(cur: SqlCursor, entries: Iterable[JournalEntry]) -> list[JournalEntry]:
    """The journal entries whose key row still holds key material (same version and ``created_at``)."""
    pending: list[JournalEntry] = []
    for e in entries:
        row = cur.execute(
            "SELECT created_at FROM {t:ledger_keys} WHERE subject_id = ? AND category = ? "
            "AND key_version = ? AND wrapped IS NOT NULL",
            (e.subject_id, e.category, e.key_version),
        ).one()
        if row is not None and str(row["created_at"]) == e.created_at:
            pending.append(e)
    return pending


def check_journal(cur: SqlCursor, journal: DestructionJournal) -> tuple[int, int]:
    """Raise :class:`RestorePending` if the database holds a key the journal says was destroyed.

    Cheap when nothing happened: one stat and one row. Returns ``(applied, journal size)``; when the
    journal grew past what the database applied but nothing it lists is live, the caller may record
    the new size. A journal shorter than what the database applied (lost, or another folder) is logged.
    """
    applied, size = applied_size(cur), journal.size()
    if size < applied:
        log.warning(
            "the destruction journal %s holds %d bytes, the ledger applied %d: is "
            "LEDGER_CHECKPOINT_WITNESS_DIR the ledger's folder? A backup restored now could bring back "
            "destroyed keys",
            journal.path,
            size,
            applied,
        )
    elif size > applied:
        # Lines without their commit marker: a destroying transaction killed before it committed (its
        # retry destroys the keys again), or one still running in another process. Not a restore.
        pending = pending_destructions(cur, [e for e in journal.read(applied) if e.committed])
        if pending:
            raise RestorePending(
                f"the database holds {len(pending)} data keys that the destruction journal {journal.path} "
                "says were destroyed in committed transactions (a backup was restored): "
                "nothing is read or written until "
                "`privacy-ledger after-restore` destroys them again"
            )
    return applied, size


def new_run_id() -> str:
    """The correlation id of one after-restore run."""
    return str(uuid.uuid4())
