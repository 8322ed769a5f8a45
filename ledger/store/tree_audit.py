"""The Merkle tree and the signed checkpoints, checked by ``verify`` while it walks the chain.

Every leaf is recomputed from its record (the chained bytes the chain hash covers) and every complete
subtree from those leaves; each must equal its stored row. The recomputed root at each issued
checkpoint's size must equal the checkpoint's root, and each checkpoint must be signed with the ledger's
key. The copy of the last checkpoint kept outside the database (the witness copy) is checked the same
way: a cut tail, a recomputed history or a restored older backup disagrees with it even when everything
inside the database agrees with itself. Problems are short, value-free sentences.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from ledger.log.checkpoint import Checkpoint, open_checkpoint
from ledger.log.checkpoints import IssuedCheckpoint, checkpoint_at, count_checkpoints, issued_checkpoints
from ledger.log.errors import LogError
from ledger.log.merkle import leaf_hash
from ledger.log.note import VerifierKey
from ledger.log.storage import DbHashSource, node_key, tree_size
from ledger.log.tree import Frontier, NodeID, tree_root
from ledger.log.witness import note_size
from ledger.store.dialect import InList, SqlCursor

__all__ = ["LogContext", "TreeAudit"]

_CHUNK = 1000


@dataclass(frozen=True)
class LogContext:
    """What ``verify`` checks the checkpoints against: the log's origin, its verifier key (None: the
    signatures cannot be checked here) and the witness copy's note (None: there is none)."""

    origin: str
    key: VerifierKey | None
    witness_note: str | None = None


@dataclass
class _Kept:
    """One checkpoint to check: from the table, or the witness copy."""

    source: str  # "table" | "witness"
    size: int
    root: bytes
    signed: bool | None  # None: not checked (no key)
    agrees: bool = True  # with the log (size and root) and with its own row


class TreeAudit:
    """Fed each record's chained bytes in ``seq`` order (``add``), checks a page of tree rows at a time
    (``check_page``) and the checkpoints at the end (``finish``).

    ``start``: an incremental verification's frontier at the last verified checkpoint (its root already
    matched against the signed one); the walk then begins at the next leaf, and only the checkpoints of
    that size or larger (and the witness copy) are checked.
    """

    def __init__(
        self, cur: SqlCursor, context: LogContext | None, *, has_tree: bool, start: Frontier | None = None
    ) -> None:
        self.cur = cur
        self.context = context
        self.has_tree = has_tree
        self.stored_size = tree_size(cur) if has_tree else 0
        since = start.size if start is not None else 0
        self.issued: list[IssuedCheckpoint] = issued_checkpoints(cur, since=since) if has_tree else []
        self.issued_count = count_checkpoints(cur) if has_tree and start is not None else len(self.issued)
        self.problems: list[str] = []
        self.warnings: list[str] = []
        self.invalid: list[int] = []
        self._frontier = Frontier() if start is None else Frontier(start.size, start.hashes)
        self._roots: dict[int, bytes] = {0: Frontier().root(), self._frontier.size: self._frontier.root()}
        self._kept = self._read_kept()
        self._wanted = {k.size for k in self._kept}
        self._stopped = False
        self._pending: list[tuple[NodeID, bytes, int]] = []
        self._tree_faults: list[int] = []

    # -- the walk ----------------------------------------------------------------------------

    def add(self, seq: int, data: bytes | None) -> None:
        """The next record's chained bytes (None: its record is missing or unreadable)."""
        if self._stopped:
            return
        if data is None or seq != self._frontier.size + 1:
            self._stopped = True  # the chain already reports it; the leaves after it are unknown
            return
        for node, value in self._frontier.append(leaf_hash(data)):
            if node.end <= self.stored_size:
                self._pending.append((node, value, seq))
        if self._frontier.size in self._wanted:
            self._roots[self._frontier.size] = self._frontier.root()

    def check_page(self) -> None:
        """Compare the subtrees completed so far with their stored rows."""
        pending, self._pending = self._pending, []
        for start in range(0, len(pending), _CHUNK):
            chunk = pending[start : start + _CHUNK]
            stored = {
                int(r["node"]): bytes(r["hash"])
                for r in self.cur.execute(
                    "SELECT node, hash FROM {t:ledger_tree} WHERE node {in}",
                    (InList(node_key(n) for n, _, _ in chunk),),
                ).all()
            }
            self._tree_faults.extend(seq for n, value, seq in chunk if stored.get(node_key(n)) != value)

    # -- the end -----------------------------------------------------------------------------

    def finish(self, length: int) -> dict[str, Any]:
        """Check the tree's size and the checkpoints; returns the report's tree fields."""
        self.check_page()
        if self._tree_faults:
            self.invalid.append(min(self._tree_faults))
            self.problems.append(
                f"tree: a stored leaf or subtree hash differs from the records, first at seq "
                f"{min(self._tree_faults)}"
            )
        if self.stored_size > length:
            self.invalid.append(length + 1)
            self.problems.append(f"tree: {self.stored_size - length} more leaves than records (cut tail)")
        elif not self.has_tree and length:
            self.warnings.append("tree: this ledger predates the Merkle tree (a write command builds it)")
        elif self.stored_size < length:
            self.warnings.append(
                f"tree: records from seq {self.stored_size + 1} not integrated yet (a write command does it)"
            )
        self._check_kept(length)
        root = self._stored_root()
        latest = max(self._kept, key=lambda k: (k.size, k.source == "table"), default=None)
        return {
            "tree_size": self.stored_size,
            "root_hash": None if root is None else base64.b64encode(root).decode(),
            "checkpoint": None
            if latest is None
            else {
                "size": latest.size,
                "root": base64.b64encode(latest.root).decode(),
                "source": latest.source,
                "valid": None
                if latest.signed is None and latest.agrees
                else bool(latest.signed and latest.agrees),
            },
            "checkpoints_issued": self.issued_count,
        }

    def verified_checkpoint(self) -> int | None:
        """The largest issued checkpoint whose signature checked and whose root the log's matched."""
        matched = [k for k in self._kept if k.source == "table" and k.signed and k.agrees]
        return max((k.size for k in matched if k.size in self._roots), default=None)

    def _stored_root(self) -> bytes | None:
        try:
            return tree_root(self.stored_size, DbHashSource(self.cur))
        except LogError:
            if not self._tree_faults:
                self.invalid.append(1)
                self.problems.append("tree: stored subtree hashes are missing")
            return None

    def _read_kept(self) -> list[_Kept]:
        kept: list[_Kept] = []
        context = self.context
        key, origin = (context.key, context.origin) if context is not None else (None, None)
        if key is None and (self.issued or (context is not None and context.witness_note)):
            self.warnings.append(
                "checkpoint signatures not checked: no signing key to derive the verifier from"
            )
        for issued in self.issued:
            kept.append(self._open("table", issued.note, key, origin, issued))
        if context is not None and context.witness_note is not None:
            witness = self._open("witness", context.witness_note, key, origin, None)
            kept.append(witness)
            if witness.size < self._frontier.size and witness.signed is not False:
                self._before_start(witness, kept, key, origin)
        return kept

    def _before_start(
        self, witness: _Kept, kept: list[_Kept], key: VerifierKey | None, origin: str | None
    ) -> None:
        """A witness copy older than an incremental verification's start: checked against the stored
        tree's root at its size, and its checkpoint row (the walk recomputes neither)."""
        try:
            self._roots[witness.size] = tree_root(witness.size, DbHashSource(self.cur))
        except LogError:
            return  # the stored tree lacks nodes: reported by ``finish``
        row = checkpoint_at(self.cur, witness.size)
        if row is not None:
            self.issued.insert(0, row)
            kept.append(self._open("table", row.note, key, origin, row))

    def _open(
        self,
        source: str,
        note: str,
        key: VerifierKey | None,
        origin: str | None,
        row: IssuedCheckpoint | None,
    ) -> _Kept:
        label = "checkpoint" if source == "table" else "witness checkpoint"
        size = row.size if row is not None else note_size(note) or 0
        if key is None:
            try:
                body = Checkpoint.parse(note.rpartition("\n\n")[0] + "\n")
            except LogError:
                self.problems.append(f"{label} {size}: not a checkpoint note")
                return _Kept(source, size, row.root if row is not None else b"", None)
            return _Kept(source, body.size, body.root_hash, None)
        try:
            body = open_checkpoint(note, key, origin=origin)
        except LogError:
            self.problems.append(f"{label} {size}: not signed by the ledger's key (forged or re-signed)")
            return _Kept(source, size, row.root if row is not None else b"", False)
        kept = _Kept(source, body.size, body.root_hash, True)
        if row is not None and (row.size, row.root) != (body.size, body.root_hash):
            self.problems.append(f"{label} {row.size}: the row differs from its signed note")
            kept.agrees = False
        return kept

    def _check_kept(self, length: int) -> None:
        bad_sizes: list[int] = []
        good_sizes = [0]
        table_sizes = {k.size for k in self._kept if k.source == "table" and k.signed is not False}
        for kept in sorted(self._kept, key=lambda k: (k.size, k.source)):
            if kept.signed is False:
                continue
            label = "checkpoint" if kept.source == "table" else "witness checkpoint"
            if kept.size > length:
                kept.agrees = False
                self.invalid.append(length + 1)
                self.problems.append(
                    f"{label} {kept.size}: covers more records than the log's {length} (cut tail, or an "
                    "older backup restored)"
                )
                continue
            recomputed = self._roots.get(kept.size)
            if recomputed is None:
                continue  # beyond a record the chain already reports as missing or unreadable
            if recomputed != kept.root:
                kept.agrees = False
                bad_sizes.append(kept.size)
                self.problems.append(f"{label} {kept.size}: another root than the log's (history rewritten)")
            else:
                good_sizes.append(kept.size)
                if kept.source == "witness" and kept.size not in table_sizes:
                    kept.agrees = False
                    self.problems.append(f"{label} {kept.size}: missing from the checkpoints table (deleted)")
        if bad_sizes:
            first_bad = min(bad_sizes)
            self.invalid.append(max(s for s in good_sizes if s < first_bad) + 1)
