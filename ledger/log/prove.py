"""Proofs from the stored tree: an entry's inclusion in an issued checkpoint, and consistency of two sizes.

An inclusion proof is written as a C2SP tlog-proof (index, hashes, the signed checkpoint verbatim), so a
verifier needs only the entry's leaf bytes and the log's verifier key. Each proof is checked against
the checkpoint's root before it is handed out: a stored tree that no longer agrees with what the ledger
signed yields :class:`TreeMismatch`, never a proof.
"""

from __future__ import annotations

from ledger.errors import LedgerError
from ledger.log.checkpoint import Checkpoint
from ledger.log.checkpoints import IssuedCheckpoint, checkpoint_at, latest_checkpoint
from ledger.log.errors import LogError, ProofError
from ledger.log.merkle import verify_consistency, verify_inclusion
from ledger.log.storage import DbHashSource, tree_size
from ledger.log.tlog_proof import TlogProof
from ledger.log.tree import NodeID, consistency_proof, inclusion_proof
from ledger.store.dialect import SqlCursor

__all__ = ["NoProof", "TreeMismatch", "prove_consistency", "prove_inclusion"]


class NoProof(LedgerError):
    """The proof asked for cannot exist: a seq or size outside the tree, or no checkpoint covering it."""


class TreeMismatch(LedgerError):
    """The stored tree does not lead to the root the ledger signed: run ``verify``."""


def _signed_body(checkpoint: IssuedCheckpoint) -> Checkpoint:
    try:
        return Checkpoint.parse(checkpoint.note.rpartition("\n\n")[0] + "\n")
    except LogError:
        raise TreeMismatch(
            f"checkpoint {checkpoint.size} is not a readable note: run `privacy-ledger verify`"
        ) from None


def prove_inclusion(cur: SqlCursor, seq: int, checkpoint_size: int | None = None) -> tuple[TlogProof, bytes]:
    """The tlog-proof that record ``seq`` (leaf ``seq - 1``) is in an issued checkpoint, and its leaf hash.

    The checkpoint is the one of ``checkpoint_size`` leaves, else the latest; it must cover ``seq``.
    """
    size = tree_size(cur)
    if not 1 <= seq <= size:
        raise NoProof(f"seq {seq} is not in the Merkle tree (it holds records 1 to {size})")
    if checkpoint_size is None:
        checkpoint = latest_checkpoint(cur)
        if checkpoint is None or checkpoint.size < seq:
            raise NoProof(f"no issued checkpoint covers seq {seq} yet: run `privacy-ledger checkpoint`")
    else:
        checkpoint = checkpoint_at(cur, checkpoint_size)
        if checkpoint is None:
            raise NoProof(f"no checkpoint of tree size {checkpoint_size} was issued")
        if checkpoint.size < seq:
            raise NoProof(f"checkpoint {checkpoint.size} does not cover seq {seq}")
    body = _signed_body(checkpoint)
    source = DbHashSource(cur)
    index = seq - 1
    try:
        leaf = source.read_hashes([NodeID(0, index)])[0]
        proof = inclusion_proof(index, body.size, source)
        verify_inclusion(index, body.size, leaf, proof, body.root_hash)
    except LogError:
        raise TreeMismatch(
            f"the stored tree does not lead to the root of checkpoint {body.size}: run "
            "`privacy-ledger verify`"
        ) from None
    return TlogProof(index, tuple(proof), checkpoint.note), leaf


def prove_consistency(cur: SqlCursor, old: int, new: int) -> list[bytes]:
    """The RFC 9162 consistency proof from tree size ``old`` to ``new`` (``1 <= old <= new <= tree size``).

    When both sizes are issued checkpoints, the proof is checked against their signed roots first.
    """
    size = tree_size(cur)
    if not 1 <= old <= new <= size:
        raise NoProof(f"sizes must satisfy 1 <= OLD <= NEW <= {size} (the tree's size), got {old} and {new}")
    source = DbHashSource(cur)
    try:
        proof = consistency_proof(old, new, source)
    except LogError:
        raise TreeMismatch("the stored tree lacks hashes: run `privacy-ledger verify`") from None
    first, second = checkpoint_at(cur, old), checkpoint_at(cur, new)
    if first is not None and second is not None:
        try:
            verify_consistency(old, new, proof, _signed_body(first).root_hash, _signed_body(second).root_hash)
        except ProofError:
            raise TreeMismatch(
                f"checkpoints {old} and {new} are not consistent with the stored tree: run "
                "`privacy-ledger verify`"
            ) from None
    return proof
