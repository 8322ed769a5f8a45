"""The checkpoints the ledger issued, kept in table ``ledger_checkpoints`` (one row per tree size, forever).

Each row holds the signed note (a C2SP tlog-checkpoint in a C2SP signed-note) and, for queries, its tree
size and base64 root hash. The note is what counts: readers that rely on a checkpoint open the note
with the ledger's verifier key (:func:`ledger.log.checkpoint.open_checkpoint`).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from ledger.log.storage import tree_size
from ledger.store.dialect import SqlCursor

__all__ = [
    "IssuedCheckpoint",
    "checkpoint_at",
    "checkpoint_covering",
    "count_checkpoints",
    "issued_checkpoints",
    "latest_checkpoint",
    "record_checkpoint",
    "tree_size",
]

_COLUMNS = "tree_size, root_hash, note, issued_at"


@dataclass(frozen=True)
class IssuedCheckpoint:
    """A checkpoint the ledger signed: tree size, root hash, the signed note text and when it was issued."""

    size: int
    root: bytes
    note: str
    issued_at: str

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form (root in base64, as in the note)."""
        return {
            "size": self.size,
            "root": base64.b64encode(self.root).decode(),
            "issued_at": self.issued_at,
            "note": self.note,
        }


def _issued(row: dict[str, Any] | None) -> IssuedCheckpoint | None:
    if row is None:
        return None
    return IssuedCheckpoint(
        size=int(row["tree_size"]),
        root=base64.b64decode(str(row["root_hash"])),
        note=str(row["note"]),
        issued_at=str(row["issued_at"]),
    )


def latest_checkpoint(cur: SqlCursor) -> IssuedCheckpoint | None:
    """The issued checkpoint of the largest tree, or None if none was issued."""
    row = cur.execute(
        f"SELECT {_COLUMNS} FROM {{t:ledger_checkpoints}} ORDER BY tree_size DESC LIMIT 1"
    ).one()
    return _issued(row)


def checkpoint_covering(cur: SqlCursor, size: int) -> IssuedCheckpoint | None:
    """The oldest issued checkpoint whose tree holds at least ``size`` leaves, or None."""
    row = cur.execute(
        f"SELECT {_COLUMNS} FROM {{t:ledger_checkpoints}} WHERE tree_size >= ? ORDER BY tree_size LIMIT 1",
        (size,),
    ).one()
    return _issued(row)


def checkpoint_at(cur: SqlCursor, size: int) -> IssuedCheckpoint | None:
    """The issued checkpoint of exactly ``size`` leaves, or None."""
    row = cur.execute(f"SELECT {_COLUMNS} FROM {{t:ledger_checkpoints}} WHERE tree_size = ?", (size,)).one()
    return _issued(row)


def issued_checkpoints(cur: SqlCursor, *, since: int = 0) -> list[IssuedCheckpoint]:
    """Every issued checkpoint (of at least ``since`` leaves), smallest tree first."""
    rows = cur.execute(
        f"SELECT {_COLUMNS} FROM {{t:ledger_checkpoints}} WHERE tree_size >= ? ORDER BY tree_size", (since,)
    ).all()
    return [c for c in map(_issued, rows) if c is not None]


def count_checkpoints(cur: SqlCursor) -> int:
    """How many checkpoints the ledger issued."""
    return int(cur.execute("SELECT COUNT(*) AS n FROM {t:ledger_checkpoints}").scalar() or 0)


def record_checkpoint(cur: SqlCursor, checkpoint: IssuedCheckpoint) -> None:
    """Keep a newly issued checkpoint (never updated or deleted afterwards)."""
    cur.execute(
        f"INSERT INTO {{t:ledger_checkpoints}} ({_COLUMNS}) VALUES (?, ?, ?, ?)",
        (
            checkpoint.size,
            base64.b64encode(checkpoint.root).decode(),
            checkpoint.note,
            checkpoint.issued_at,
        ),
    )
