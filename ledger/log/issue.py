"""Issuing signed checkpoints, never one that does not extend a checkpoint issued before.

Before signing, the tree in the database must extend both the last checkpoint in ``ledger_checkpoints``
and the copy kept outside the database (:class:`ledger.log.witness.WitnessCopy`): at least as many
leaves, and the same root at their size. Otherwise the database lost its tail, had its history
rewritten, or was restored from an older backup, and :class:`CheckpointRefused` says which; nothing is
signed. Issuing runs in a locked write transaction, so concurrent issuers (the consumer, the projection
runner, the ``checkpoint`` command) take turns.
"""

from __future__ import annotations

from collections.abc import Callable

from ledger.errors import LedgerError
from ledger.log.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from ledger.log.checkpoints import IssuedCheckpoint, latest_checkpoint, record_checkpoint
from ledger.log.errors import LogError
from ledger.log.note import SignerKey, VerifierKey
from ledger.log.storage import DbHashSource, tree_size
from ledger.log.tree import tree_root
from ledger.log.witness import WitnessCopy
from ledger.store.database import LedgerStore
from ledger.store.dialect import SqlCursor
from ledger.store.integrate import integrate_records

__all__ = ["CheckpointRefused", "check_extends", "issue_checkpoint"]


class CheckpointRefused(LedgerError):
    """The database does not extend a checkpoint the ledger issued before: nothing was signed."""


_NOTHING_SIGNED = "no checkpoint signed (run `privacy-ledger verify`)"


def check_extends(
    cur: SqlCursor,
    size: int,
    key: VerifierKey,
    origin: str,
    latest: IssuedCheckpoint | None,
    witness: WitnessCopy,
    witness_note: str | None,
) -> None:
    """Raise :class:`CheckpointRefused` unless the tree of ``size`` leaves extends the last issued
    checkpoint and the witness copy (each must be this log's, signed with ``key``)."""
    kept: list[tuple[str, str, IssuedCheckpoint | None]] = []
    if latest is not None:
        kept.append(("the last issued checkpoint", latest.note, latest))
    if witness_note is not None:
        kept.append((f"the checkpoint kept in {witness.path}", witness_note, None))
    source = DbHashSource(cur)
    for what, note, row in kept:
        try:
            checkpoint = open_checkpoint(note, key, origin=origin)
        except LogError as exc:
            raise CheckpointRefused(
                f"{what} is not a checkpoint of {origin} signed by the ledger's key ({exc}); "
                f"{_NOTHING_SIGNED}"
            ) from None
        if row is not None and (row.size, row.root) != (checkpoint.size, checkpoint.root_hash):
            raise CheckpointRefused(f"{what} differs from its own signed note; {_NOTHING_SIGNED}")
        if checkpoint.size > size:
            raise CheckpointRefused(
                f"cut tail or restored from an older backup: the database's tree holds {size} records, "
                f"{what} covers {checkpoint.size}; {_NOTHING_SIGNED}"
            )
        try:
            root = tree_root(checkpoint.size, source)
        except LogError:
            raise CheckpointRefused(f"the stored tree lacks subtree hashes; {_NOTHING_SIGNED}") from None
        if root != checkpoint.root_hash:
            raise CheckpointRefused(
                f"history rewritten: the database's tree at size {checkpoint.size} has another root than "
                f"{what}; {_NOTHING_SIGNED}"
            )


def issue_checkpoint(
    store: LedgerStore,
    signer: SignerKey,
    origin: str,
    witness: WitnessCopy,
    now: Callable[[], str],
) -> tuple[IssuedCheckpoint, bool]:
    """Sign a checkpoint of the current tree, or return the latest if the tree has not grown since.

    Returns ``(checkpoint, issued)``. The new checkpoint is kept in the table (same transaction) and
    then in the witness copy. Raises :class:`CheckpointRefused` as :func:`check_extends` does.
    """
    key = signer.verifier_key
    with store.write() as cur:
        size = tree_size(cur)
        head = int(cur.execute("SELECT MAX(seq) AS m FROM {t:ledger_chain}").scalar() or 0)
        if size > head:
            raise CheckpointRefused(
                f"cut tail: the Merkle tree holds {size} records but the chain only {head}; {_NOTHING_SIGNED}"
            )
        if size < head:  # records appended by a writer that predates the tree
            size += integrate_records(store, cur, size, head)
        latest = latest_checkpoint(cur)
        check_extends(cur, size, key, origin, latest, witness, witness.read())
        if latest is not None and latest.size == size:
            return latest, False
        root = tree_root(size, DbHashSource(cur))
        note = sign_checkpoint(Checkpoint(origin, size, root), signer)
        issued = IssuedCheckpoint(size=size, root=root, note=note, issued_at=now())
        record_checkpoint(cur, issued)
    witness.keep(note, size)
    return issued, True
