"""The log's Merkle tree over stored subtree hashes: appending leaves, roots and proofs.

Storage keeps the hash of every *complete* subtree, addressed by ``NodeID(level, index)`` (the
``2**level`` leaves from ``index * 2**level``). Such a hash never changes once the subtree is full, so
each is written once and never rewritten (Go's ``sumdb/tlog`` "stored hashes", and what tlog tiles
pack). ``Frontier`` is what the integrator keeps in memory: the right border of complete subtrees of
the current tree; each append returns the complete subtrees it finished, ready to store. Roots and
proofs for any size up to the stored one are computed from a ``HashSource`` with one batched read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ledger.log.errors import LogError
from ledger.log.merkle import EMPTY_ROOT, HASH_SIZE, MAX_TREE_SIZE, node_hash, split_point

__all__ = [
    "Frontier",
    "HashSource",
    "MemoryHashSource",
    "NodeID",
    "consistency_proof",
    "frontier_nodes",
    "inclusion_proof",
    "inclusion_proofs",
    "subtree_nodes",
    "tree_root",
]


@dataclass(frozen=True, order=True)
class NodeID:
    """A complete aligned subtree: the ``2**level`` leaves from leaf ``index * 2**level``."""

    level: int
    index: int

    @property
    def begin(self) -> int:
        """The first leaf it covers."""
        return self.index << self.level

    @property
    def end(self) -> int:
        """One past the last leaf it covers."""
        return (self.index + 1) << self.level


class HashSource(Protocol):
    """Where stored complete-subtree hashes are read (a table, tiles, or memory)."""

    def read_hashes(self, nodes: Sequence[NodeID]) -> Sequence[bytes]:
        """The hash of each node, in order; raise ``LogError`` if one is not stored."""
        ...


class MemoryHashSource:
    """A ``HashSource`` in a dict, write-once like real storage: for tests and small tools."""

    def __init__(self) -> None:
        self._hashes: dict[NodeID, bytes] = {}

    def __len__(self) -> int:
        return len(self._hashes)

    def write(self, entries: Iterable[tuple[NodeID, bytes]]) -> None:
        """Store new subtree hashes; writing the same hash again is a no-op, a different one an error."""
        for node, value in entries:
            old = self._hashes.setdefault(node, value)
            if old != value:
                raise LogError(
                    f"subtree hash ({node.level}, {node.index}) is already stored with another value"
                )

    def read_hashes(self, nodes: Sequence[NodeID]) -> list[bytes]:
        """The stored hash of each node, in order."""
        try:
            return [self._hashes[node] for node in nodes]
        except KeyError as exc:
            node = exc.args[0]
            raise LogError(f"subtree hash ({node.level}, {node.index}) is not stored") from None


def subtree_nodes(begin: int, end: int) -> list[NodeID]:
    """The complete subtrees, largest first, that make up the MTH subtree over leaves ``[begin, end)``.

    ``begin`` must be a multiple of the largest power of two not above ``end - begin``, as every subtree
    in the MTH recursion is; the subtree's hash folds these right to left.
    """
    if not 0 <= begin < end <= MAX_TREE_SIZE:
        raise LogError(f"leaf range [{begin}, {end}) is not a non-empty range of a tree")
    nodes = []
    while begin < end:
        level = (end - begin).bit_length() - 1
        if begin & ((1 << level) - 1):
            raise LogError(f"leaf range [{begin}, {end}) is not a subtree of a Merkle tree")
        nodes.append(NodeID(level, begin >> level))
        begin += 1 << level
    return nodes


def frontier_nodes(size: int) -> list[NodeID]:
    """The complete subtrees, largest first, that cover a tree of ``size`` leaves (its right border)."""
    return subtree_nodes(0, size) if size else []


class Frontier:
    """The right border of complete subtrees of a tree (a compact range ``[0, size)``): append and root."""

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        if not 0 <= size <= MAX_TREE_SIZE or len(hashes) != size.bit_count():
            raise LogError(f"a frontier of size {size} has {size.bit_count()} hashes, not {len(hashes)}")
        if any(len(value) != HASH_SIZE for value in hashes):
            raise LogError(f"frontier hashes must be {HASH_SIZE} bytes")
        self._size = size
        self._hashes = list(hashes)

    @classmethod
    def load(cls, size: int, source: HashSource) -> Frontier:
        """The frontier of the stored tree at ``size``, read from ``source`` (to resume integrating)."""
        return cls(size, _read(source, frontier_nodes(size)))

    @property
    def size(self) -> int:
        """The number of leaves appended."""
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """The hashes of ``frontier_nodes(size)``, largest subtree first."""
        return tuple(self._hashes)

    def append(self, leaf: bytes) -> list[tuple[NodeID, bytes]]:
        """Append a leaf hash; return the subtrees it completed (the leaf first), each to store once."""
        if len(leaf) != HASH_SIZE:
            raise LogError(f"a leaf hash must be {HASH_SIZE} bytes")
        if self._size == MAX_TREE_SIZE:
            raise LogError("the tree is full")
        index, level, value = self._size, 0, leaf
        completed = [(NodeID(0, index), leaf)]
        while (index >> level) & 1:  # a right child: it completes its parent with the left sibling
            value = node_hash(self._hashes.pop(), value)
            level += 1
            completed.append((NodeID(level, index >> level), value))
        self._hashes.append(value)
        self._size += 1
        return completed

    def extend(self, leaves: Iterable[bytes]) -> list[tuple[NodeID, bytes]]:
        """Append leaf hashes in order; return every subtree they completed, in completion order."""
        return [entry for leaf in leaves for entry in self.append(leaf)]

    def root(self) -> bytes:
        """The root hash of the tree of ``size`` leaves."""
        return _fold(self._hashes) if self._hashes else EMPTY_ROOT


def tree_root(size: int, source: HashSource) -> bytes:
    """The root hash of the stored tree's first ``size`` leaves."""
    return _fold(_read(source, frontier_nodes(size))) if size else EMPTY_ROOT


def inclusion_proof(index: int, size: int, source: HashSource) -> list[bytes]:
    """The RFC 9162 inclusion proof of leaf ``index`` in the tree of ``size`` leaves, leaf's sibling first."""
    return inclusion_proofs([index], size, source)[0]


def inclusion_proofs(indexes: Sequence[int], size: int, source: HashSource) -> list[list[bytes]]:
    """The inclusion proofs of many leaves in the tree of ``size`` leaves, reading every node they need
    from ``source`` once (an export proves thousands of leaves: one batched read, not one per leaf)."""
    per_leaf = [_inclusion_ranges(index, size) for index in indexes]
    per_range: dict[tuple[int, int], list[NodeID]] = {}
    for ranges in per_leaf:
        for lo, hi in ranges:
            if (lo, hi) not in per_range:
                width = hi - lo
                if width & (width - 1) == 0:  # a complete subtree (all but the right border): one node
                    level = width.bit_length() - 1
                    per_range[lo, hi] = [NodeID(level, lo >> level)]
                else:
                    per_range[lo, hi] = subtree_nodes(lo, hi)
    wanted = list(dict.fromkeys(node for nodes in per_range.values() for node in nodes))
    stored = dict(zip(wanted, _read(source, wanted), strict=True))
    folded = {r: _fold([stored[node] for node in nodes]) for r, nodes in per_range.items()}
    return [[folded[r] for r in ranges] for ranges in per_leaf]


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose subtree hashes make up the inclusion proof of ``index``, sibling first."""
    if not 0 <= index < size <= MAX_TREE_SIZE:
        raise LogError(f"leaf index {index} is outside a tree of size {size}")
    ranges = []
    lo, hi = 0, size
    while hi - lo > 1:  # PATH(m, D[lo:hi]) walks towards the leaf; the sibling subtree is the proof hash
        k = split_point(hi - lo)
        if index < lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
    return ranges[::-1]


def consistency_proof(size1: int, size2: int, source: HashSource) -> list[bytes]:
    """The RFC 9162 consistency proof from tree size ``size1`` to ``size2`` (``0 < size1 <= size2``)."""
    if not 0 < size1 <= size2 <= MAX_TREE_SIZE:
        raise LogError(f"no consistency proof from tree size {size1} to {size2}")
    ranges = []
    lo, hi, whole_old_tree = 0, size2, True
    while size1 != hi:  # SUBPROOF(m, D[lo:hi], b) with m = size1 - lo
        k = split_point(hi - lo)
        if size1 <= lo + k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo, whole_old_tree = lo + k, False
    if not whole_old_tree:  # the verifier knows the old root, not this subtree of it
        ranges.append((lo, hi))
    return _subtree_hashes(source, ranges[::-1])


def _subtree_hashes(source: HashSource, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
    per_range = [subtree_nodes(lo, hi) for lo, hi in ranges]
    wanted = list(dict.fromkeys(node for nodes in per_range for node in nodes))
    stored = dict(zip(wanted, _read(source, wanted), strict=True))
    return [_fold([stored[node] for node in nodes]) for nodes in per_range]


def _read(source: HashSource, nodes: Sequence[NodeID]) -> list[bytes]:
    if not nodes:
        return []
    values = list(source.read_hashes(nodes))
    if len(values) != len(nodes):
        raise LogError(f"the hash source returned {len(values)} hashes for {len(nodes)} subtrees")
    if any(len(value) != HASH_SIZE for value in values):
        raise LogError(f"the hash source returned a hash that is not {HASH_SIZE} bytes")
    return values


def _fold(hashes: Sequence[bytes]) -> bytes:
    """The hash of adjacent complete subtrees, largest first, as the MTH recursion combines them."""
    value = hashes[-1]
    for left in reversed(hashes[:-1]):
        value = node_hash(left, value)
    return value
