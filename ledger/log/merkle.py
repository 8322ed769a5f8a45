"""RFC 9162 (RFC 6962 section 2.1) Merkle tree hashes and proof verification: pure, no storage.

Leaf ``SHA-256(0x00 || data)``, node ``SHA-256(0x01 || left || right)``, the empty tree ``SHA-256("")``.
Tree sizes and indexes are unsigned 64-bit integers, as in the RFC. The verifiers raise ``ProofError``
for every rejection, malformed input included (a hash that is not 32 bytes, a proof of the wrong
length, an index outside the tree, sizes out of order).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from ledger.log.errors import ProofError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MAX_TREE_SIZE",
    "consistency_proof_size",
    "inclusion_proof_size",
    "leaf_hash",
    "merkle_tree_hash",
    "node_hash",
    "root_from_inclusion_proof",
    "split_point",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
MAX_TREE_SIZE = 2**64 - 1
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """The leaf hash ``SHA-256(0x00 || data)``."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The interior node hash ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two smaller than ``n`` (``n >= 2``): where MTH splits ``n`` leaves."""
    if n < 2:
        raise ValueError("a tree of fewer than two leaves does not split")
    return 1 << ((n - 1).bit_length() - 1)


def merkle_tree_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of RFC 9162 section 2.1.1 over the leaves' hashes: the reference definition, O(n)."""

    def mth(lo: int, hi: int) -> bytes:
        if hi - lo == 1:
            return leaf_hashes[lo]
        k = split_point(hi - lo)
        return node_hash(mth(lo, lo + k), mth(lo + k, hi))

    return mth(0, len(leaf_hashes)) if leaf_hashes else EMPTY_ROOT


def inclusion_proof_size(index: int, size: int) -> int:
    """How many hashes the inclusion proof of leaf ``index`` in a tree of ``size`` leaves has."""
    _check_size(size, "tree size")
    _check_size(index, "leaf index")
    if index >= size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    inner, border = _decompose(index, size)
    return inner + border


def consistency_proof_size(size1: int, size2: int) -> int:
    """How many hashes the consistency proof from ``size1`` to ``size2`` has (``0 < size1 <= size2``)."""
    _check_sizes(size1, size2)
    if size1 == size2:
        return 0
    inner, border = _decompose(size1 - 1, size2)
    shift = _trailing_zeros(size1)
    return (0 if size1 == 1 << shift else 1) + inner - shift + border


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root hash that ``proof`` leads to from leaf ``index`` (hash ``leaf``) in a tree of ``size``."""
    expected = inclusion_proof_size(index, size)
    _check_hash(leaf, "leaf hash")
    _check_proof(proof, expected)
    inner, _ = _decompose(index, size)
    result = leaf
    for level, sibling in enumerate(proof[:inner]):
        # Below the point where the paths to ``index`` and to the last leaf part, a sibling is on the
        # left exactly when the path's bit at that level is set.
        result = node_hash(sibling, result) if (index >> level) & 1 else node_hash(result, sibling)
    for sibling in proof[inner:]:
        # On the tree's right border only left siblings exist: an incomplete right subtree is promoted.
        result = node_hash(sibling, result)
    return result


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Check an inclusion proof (RFC 9162 section 2.1.3.2); raise ``ProofError`` unless it holds."""
    _check_hash(root, "root hash")
    if root_from_inclusion_proof(index, size, leaf, proof) != root:
        raise ProofError(f"inclusion proof for leaf {index} does not lead to the root of tree size {size}")


def verify_consistency(size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes) -> None:
    """Check a consistency proof (RFC 9162 section 2.1.4.2); raise ``ProofError`` unless it holds.

    ``0 < size1 <= size2``: nothing is proved from the empty tree. For equal sizes the proof is empty and
    the two roots must be the same bytes, which is all the published conformance vectors ask.
    """
    expected = consistency_proof_size(size1, size2)
    if size1 == size2:
        _check_proof(proof, expected)
        if root1 != root2:
            raise ProofError(f"two different roots for the same tree size {size1}")
        return
    _check_hash(root1, "first root hash")
    _check_hash(root2, "second root hash")
    _check_proof(proof, expected)
    inner, _ = _decompose(size1 - 1, size2)
    shift = _trailing_zeros(size1)
    # The old tree's last complete subtree (2**shift leaves) is the common seed: the verifier already
    # knows it when it is the whole old tree, otherwise it is the proof's first hash.
    seed, rest = (root1, proof) if size1 == 1 << shift else (proof[0], proof[1:])
    path = (size1 - 1) >> shift
    old = new = seed
    for level, sibling in enumerate(rest[: inner - shift]):
        if (path >> level) & 1:
            old, new = node_hash(sibling, old), node_hash(sibling, new)
        else:
            new = node_hash(new, sibling)  # a right sibling holds only leaves added after size1
    for sibling in rest[inner - shift :]:
        old, new = node_hash(sibling, old), node_hash(sibling, new)
    if old != root1:
        raise ProofError(f"consistency proof does not lead to the root of tree size {size1}")
    if new != root2:
        raise ProofError(f"consistency proof does not lead to the root of tree size {size2}")


def _decompose(index: int, size: int) -> tuple[int, int]:
    """(levels below the split of the paths to ``index`` and ``size - 1``, left siblings above it)."""
    inner = (index ^ (size - 1)).bit_length()
    return inner, (index >> inner).bit_count()


def _trailing_zeros(n: int) -> int:
    return (n & -n).bit_length() - 1


def _check_size(size: int, what: str) -> None:
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_TREE_SIZE:
        raise ProofError(f"{what} must be an integer from 0 to 2**64 - 1")


def _check_sizes(size1: int, size2: int) -> None:
    _check_size(size1, "first tree size")
    _check_size(size2, "second tree size")
    if size1 > size2:
        raise ProofError(f"first tree size {size1} is larger than second tree size {size2}")
    if size1 == 0:
        raise ProofError("a consistency proof from the empty tree proves nothing")


def _check_hash(value: bytes, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_SIZE:
        raise ProofError(f"{what} must be {HASH_SIZE} bytes")


def _check_proof(proof: Sequence[bytes], expected: int) -> None:
    if len(proof) != expected:
        raise ProofError(f"proof has {len(proof)} hashes, {expected} expected")
    for position, value in enumerate(proof):
        _check_hash(value, f"proof hash {position}")
