"""Properties of the log's Merkle tree for random sizes: proofs from stored hashes verify (with both
verifiers), the integrator's frontier always has the MTH root, and roots of different sizes are consistent.
"""

from __future__ import annotations

import functools

import pytest
from conftest import load_standalone_verifier
from hypothesis import given
from hypothesis import strategies as st

from ledger.log.errors import ProofError
from ledger.log.merkle import (
    consistency_proof_size,
    inclusion_proof_size,
    leaf_hash,
    merkle_tree_hash,
    verify_consistency,
    verify_inclusion,
)
from ledger.log.tree import Frontier, MemoryHashSource, consistency_proof, inclusion_proof, tree_root

SIZE = 1100  # beyond 1024, so trees of 11 levels and every shape of right border occur


@functools.cache
def stored_tree() -> tuple[MemoryHashSource, tuple[bytes, ...], tuple[bytes, ...]]:
    """A tree of SIZE leaves in a memory hash source, its leaf hashes, and the root at every size."""
    source, frontier = MemoryHashSource(), Frontier()
    leaves, roots = [], [frontier.root()]
    for i in range(SIZE):
        leaves.append(leaf_hash(f"record {i}".encode()))
        source.write(frontier.append(leaves[-1]))
        roots.append(frontier.root())
    return source, tuple(leaves), tuple(roots)


sizes = st.integers(min_value=1, max_value=SIZE)


@st.composite
def index_and_size(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(sizes)
    return draw(st.integers(min_value=0, max_value=size - 1)), size


@st.composite
def two_sizes(draw: st.DrawFn) -> tuple[int, int]:
    size2 = draw(sizes)
    return draw(st.integers(min_value=1, max_value=size2)), size2


def _flip(values: list[bytes], position: int, bit: int) -> list[bytes]:
    changed = list(values)
    target = bytearray(changed[position])
    target[bit // 8] ^= 1 << (bit % 8)
    changed[position] = bytes(target)
    return changed


@given(st.lists(st.binary(max_size=40), max_size=70))
def test_frontier_root_is_the_mth_of_all_leaves_after_every_append(data: list[bytes]) -> None:
    frontier, source, leaves = Frontier(), MemoryHashSource(), []
    for item in data:
        leaves.append(leaf_hash(item))
        source.write(frontier.append(leaves[-1]))
        assert frontier.root() == merkle_tree_hash(leaves)
    assert frontier.size == len(data)
    assert len(source) == 2 * len(data) - frontier.size.bit_count()  # every complete subtree, once
    assert Frontier.load(len(data), source).hashes == frontier.hashes


@given(sizes)
def test_root_from_stored_hashes_is_the_same_at_every_size(size: int) -> None:
    source, leaves, roots = stored_tree()
    assert tree_root(size, source) == roots[size]
    assert Frontier.load(size, source).root() == roots[size]
    assert merkle_tree_hash(leaves[:size]) == roots[size]


@given(index_and_size())
def test_inclusion_proofs_from_stored_hashes_verify_with_both_verifiers(case: tuple[int, int]) -> None:
    index, size = case
    source, leaves, roots = stored_tree()
    proof = inclusion_proof(index, size, source)
    assert len(proof) == inclusion_proof_size(index, size)
    verify_inclusion(index, size, leaves[index], proof, roots[size])
    load_standalone_verifier().verify_inclusion(index, size, leaves[index], proof, roots[size])


@given(two_sizes())
def test_consistency_proofs_from_stored_hashes_verify_with_both_verifiers(case: tuple[int, int]) -> None:
    size1, size2 = case
    source, _, roots = stored_tree()
    proof = consistency_proof(size1, size2, source)
    assert len(proof) == consistency_proof_size(size1, size2)
    verify_consistency(size1, size2, proof, roots[size1], roots[size2])
    load_standalone_verifier().verify_consistency(size1, size2, proof, roots[size1], roots[size2])


@given(index_and_size(), st.data())
def test_an_altered_inclusion_proof_or_leaf_fails_both_verifiers(
    case: tuple[int, int], data: st.DataObject
) -> None:
    index, size = case
    source, leaves, roots = stored_tree()
    tool = load_standalone_verifier()
    proof = inclusion_proof(index, size, source)
    bit = data.draw(st.integers(min_value=0, max_value=255))
    altered = [(_flip([leaves[index]], 0, bit)[0], proof)]
    if proof:
        altered.append((leaves[index], _flip(proof, data.draw(st.integers(0, len(proof) - 1)), bit)))
    for leaf, bad_proof in altered:
        with pytest.raises(ProofError):
            verify_inclusion(index, size, leaf, bad_proof, roots[size])
        with pytest.raises(tool.VerificationError):
            tool.verify_inclusion(index, size, leaf, bad_proof, roots[size])


@given(two_sizes(), st.data())
def test_an_altered_consistency_proof_or_root_fails_both_verifiers(
    case: tuple[int, int], data: st.DataObject
) -> None:
    size1, size2 = case
    source, _, roots = stored_tree()
    tool = load_standalone_verifier()
    proof = consistency_proof(size1, size2, source)
    bit = data.draw(st.integers(min_value=0, max_value=255))
    altered = [(proof, _flip([roots[size1]], 0, bit)[0], roots[size2])]
    altered.append((proof, roots[size1], _flip([roots[size2]], 0, bit)[0]))
    if proof:
        altered.append(
            (_flip(proof, data.draw(st.integers(0, len(proof) - 1)), bit), roots[size1], roots[size2])
        )
    for bad_proof, root1, root2 in altered:
        with pytest.raises(ProofError):
            verify_consistency(size1, size2, bad_proof, root1, root2)
        with pytest.raises(tool.VerificationError):
            tool.verify_consistency(size1, size2, bad_proof, root1, root2)


def test_every_proof_in_trees_of_up_to_64_leaves_verifies_with_both_verifiers() -> None:
    source, leaves, roots = stored_tree()
    tool = load_standalone_verifier()
    for size2 in range(1, 65):
        for other in range(1, size2 + 1):
            index = other - 1
            proof = inclusion_proof(index, size2, source)
            verify_inclusion(index, size2, leaves[index], proof, roots[size2])
            tool.verify_inclusion(index, size2, leaves[index], proof, roots[size2])
            proof = consistency_proof(other, size2, source)
            verify_consistency(other, size2, proof, roots[other], roots[size2])
            tool.verify_consistency(other, size2, proof, roots[other], roots[size2])
