"""RFC 9162 Merkle tree: known answers, the stored-subtree model, and rejection of malformed proofs.

Known answers are the RFC 6962 reference tree of 8 leaves used by Certificate Transparency's and
transparency-dev's test suites (leaves, every complete subtree hash, the root of every size).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest
from conftest import load_standalone_verifier

from ledger.log.errors import LogError, ProofError
from ledger.log.merkle import (
    EMPTY_ROOT,
    consistency_proof_size,
    inclusion_proof_size,
    leaf_hash,
    merkle_tree_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)
from ledger.log.tree import (
    Frontier,
    MemoryHashSource,
    NodeID,
    consistency_proof,
    frontier_nodes,
    inclusion_proof,
    subtree_nodes,
    tree_root,
)

LEAVES = [bytes.fromhex(h) for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657"]] + [
    bytes.fromhex("606162636465666768696a6b6c6d6e6f")
]
# Every complete subtree hash of the 8-leaf tree, by (level, index).
NODES = {
    (0, 0): "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    (0, 1): "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    (0, 2): "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    (0, 3): "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    (0, 4): "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    (0, 5): "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    (0, 6): "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    (0, 7): "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
    (1, 0): "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    (1, 1): "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    (1, 2): "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    (1, 3): "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    (2, 0): "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    (2, 1): "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    (3, 0): "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}
ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
# The published happy-path proofs (transparency-dev/merkle testdata), as the subtrees they hash.
INCLUSION = {
    (0, 1): [],
    (0, 8): [(0, 1), (1, 1), (2, 1)],
    (5, 8): [(0, 4), (1, 3), (2, 0)],
    (2, 3): [(1, 0)],
    (1, 5): [(0, 0), (1, 1), (0, 4)],
}
CONSISTENCY = {
    (1, 1): [],
    (1, 8): [(0, 1), (1, 1), (2, 1)],
    (6, 8): [(1, 2), (1, 3), (2, 0)],
    (2, 5): [(1, 1), (0, 4)],
    (6, 7): [(1, 2), (0, 6), (2, 0)],
}


def node(level: int, index: int) -> bytes:
    return bytes.fromhex(NODES[(level, index)])


def reference_tree() -> tuple[MemoryHashSource, Frontier]:
    source, frontier = MemoryHashSource(), Frontier()
    for data in LEAVES:
        source.write(frontier.append(leaf_hash(data)))
    return source, frontier


def test_leaf_and_node_hashes_use_the_rfc6962_domain_separation_prefixes() -> None:
    assert leaf_hash(b"").hex() == NODES[(0, 0)]
    assert EMPTY_ROOT.hex() == ROOTS[0]
    assert merkle_tree_hash([leaf_hash(data) for data in LEAVES[:2]]).hex() == NODES[(1, 0)]


@pytest.mark.parametrize("size", range(9))
def test_root_of_every_size_matches_the_reference_tree(size: int) -> None:
    source, _ = reference_tree()
    frontier = Frontier()
    frontier.extend(leaf_hash(data) for data in LEAVES[:size])
    assert merkle_tree_hash([leaf_hash(data) for data in LEAVES[:size]]).hex() == ROOTS[size]
    assert frontier.root().hex() == ROOTS[size]
    assert tree_root(size, source).hex() == ROOTS[size]
    assert Frontier.load(size, source).root().hex() == ROOTS[size]


def test_appends_return_each_complete_subtree_once_when_it_completes() -> None:
    frontier, written = Frontier(), []
    for data in LEAVES:
        written.extend(frontier.append(leaf_hash(data)))
    assert [(n.level, n.index) for n, _ in written[-4:]] == [(0, 7), (1, 3), (2, 1), (3, 0)]
    assert {(n.level, n.index): value.hex() for n, value in written} == NODES
    assert len(written) == len(NODES)


def test_frontier_holds_the_right_border_of_complete_subtrees() -> None:
    assert frontier_nodes(0) == []
    assert frontier_nodes(7) == [NodeID(2, 0), NodeID(1, 2), NodeID(0, 6)]
    assert frontier_nodes(8) == [NodeID(3, 0)]
    source, frontier = reference_tree()
    assert frontier.hashes == (node(3, 0),)
    assert Frontier.load(7, source).hashes == (node(2, 0), node(1, 2), node(0, 6))


@pytest.mark.parametrize(("index", "size"), sorted(INCLUSION))
def test_inclusion_proofs_equal_the_published_ones(index: int, size: int) -> None:
    source, _ = reference_tree()
    expected = [node(*n) for n in INCLUSION[(index, size)]]
    assert inclusion_proof(index, size, source) == expected
    assert inclusion_proof_size(index, size) == len(expected)
    verify_inclusion(index, size, node(0, index), expected, bytes.fromhex(ROOTS[size]))


@pytest.mark.parametrize(("size1", "size2"), sorted(CONSISTENCY))
def test_consistency_proofs_equal_the_published_ones(size1: int, size2: int) -> None:
    source, _ = reference_tree()
    expected = [node(*n) for n in CONSISTENCY[(size1, size2)]]
    assert consistency_proof(size1, size2, source) == expected
    assert consistency_proof_size(size1, size2) == len(expected)
    verify_consistency(size1, size2, expected, bytes.fromhex(ROOTS[size1]), bytes.fromhex(ROOTS[size2]))


def test_a_proof_reads_the_hash_source_once() -> None:
    source, _ = reference_tree()
    calls: list[list[NodeID]] = []

    class Counting:
        def read_hashes(self, nodes: Sequence[NodeID]) -> list[bytes]:
            calls.append(list(nodes))
            return source.read_hashes(nodes)

    inclusion_proof(2, 7, Counting())
    assert calls == [[NodeID(0, 3), NodeID(1, 0), NodeID(1, 2), NodeID(0, 6)]]


def test_stored_subtree_hashes_are_written_once_and_never_rewritten() -> None:
    source, _ = reference_tree()
    source.write([(NodeID(0, 0), node(0, 0))])  # the same value again is harmless
    with pytest.raises(LogError, match="already stored"):
        source.write([(NodeID(0, 0), node(0, 1))])
    assert source.read_hashes([NodeID(0, 0)]) == [node(0, 0)]


def test_a_missing_stored_hash_is_reported_not_guessed() -> None:
    source, _ = reference_tree()
    with pytest.raises(LogError, match=r"\(0, 8\) is not stored"):
        inclusion_proof(0, 9, source)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: inclusion_proof(8, 8, s), "outside"),
        (lambda s: inclusion_proof(-1, 8, s), "outside"),
        (lambda s: consistency_proof(0, 8, s), "no consistency proof"),
        (lambda s: consistency_proof(5, 4, s), "no consistency proof"),
        (lambda s: Frontier(3, [node(1, 0)]), "has 2 hashes"),
        (lambda s: Frontier(1, [b"short"]), "32 bytes"),
        (lambda s: Frontier().append(b"short"), "32 bytes"),
        (lambda s: subtree_nodes(2, 6), "not a subtree"),
    ],
)
def test_tree_operations_refuse_impossible_requests(
    call: Callable[[MemoryHashSource], object], message: str
) -> None:
    source, _ = reference_tree()
    with pytest.raises(LogError, match=message):
        call(source)


GOOD_INCLUSION = (5, 8, node(0, 5), [node(0, 4), node(1, 3), node(2, 0)], node(3, 0))
GOOD_CONSISTENCY = (6, 8, [node(1, 2), node(1, 3), node(2, 0)], bytes.fromhex(ROOTS[6]), node(3, 0))


def _inclusion_case(**change: object) -> tuple[object, ...]:
    fields = dict(zip(("index", "size", "leaf", "proof", "root"), GOOD_INCLUSION, strict=True))
    fields.update(change)
    return tuple(fields.values())


def _consistency_case(**change: object) -> tuple[object, ...]:
    fields = dict(zip(("size1", "size2", "proof", "root1", "root2"), GOOD_CONSISTENCY, strict=True))
    fields.update(change)
    return tuple(fields.values())


MALFORMED_INCLUSION = {
    "index equal to size": _inclusion_case(index=8),
    "negative index": _inclusion_case(index=-1),
    "empty tree": _inclusion_case(index=0, size=0, proof=[]),
    "size beyond 64 bits": _inclusion_case(size=2**64),
    "size not an integer": _inclusion_case(size=8.0),
    "leaf hash of 31 bytes": _inclusion_case(leaf=node(0, 5)[:31]),
    "root hash of 33 bytes": _inclusion_case(root=node(3, 0) + b"\x00"),
    "proof hash of 31 bytes": _inclusion_case(proof=[node(0, 4), node(1, 3), node(2, 0)[:31]]),
    "proof one hash short": _inclusion_case(proof=[node(0, 4), node(1, 3)]),
    "proof one hash long": _inclusion_case(proof=[node(0, 4), node(1, 3), node(2, 0), node(0, 0)]),
    "wrong index": _inclusion_case(index=4),
    "wrong leaf": _inclusion_case(leaf=node(0, 4)),
}
MALFORMED_CONSISTENCY = {
    "size1 larger than size2": _consistency_case(size1=8, size2=6),
    "size1 zero": _consistency_case(size1=0, proof=[]),
    "both sizes zero": _consistency_case(size1=0, size2=0, proof=[], root1=EMPTY_ROOT, root2=EMPTY_ROOT),
    "equal sizes with a proof": _consistency_case(size1=8, proof=[node(0, 0)], root1=node(3, 0)),
    "equal sizes with two roots": _consistency_case(size1=8, proof=[], root1=node(2, 0)),
    "empty proof": _consistency_case(proof=[]),
    "root1 of 31 bytes": _consistency_case(root1=bytes.fromhex(ROOTS[6])[:31]),
    "proof hash of 33 bytes": _consistency_case(proof=[node(1, 2), node(1, 3), node(2, 0) + b"\x00"]),
    "proof one hash long": _consistency_case(proof=[node(1, 2), node(1, 3), node(2, 0), node(0, 0)]),
    "swapped roots": _consistency_case(root1=node(3, 0), root2=bytes.fromhex(ROOTS[6])),
    "size2 beyond 64 bits": _consistency_case(size2=2**64),
}


@pytest.mark.parametrize("case", sorted(MALFORMED_INCLUSION))
def test_both_verifiers_reject_a_malformed_or_wrong_inclusion_proof(case: str) -> None:
    tool = load_standalone_verifier()
    index, size, leaf, proof, root = MALFORMED_INCLUSION[case]
    with pytest.raises(ProofError):
        verify_inclusion(index, size, leaf, proof, root)  # type: ignore[arg-type]
    with pytest.raises(tool.VerificationError):
        tool.verify_inclusion(index, size, leaf, proof, root)


@pytest.mark.parametrize("case", sorted(MALFORMED_CONSISTENCY))
def test_both_verifiers_reject_a_malformed_or_wrong_consistency_proof(case: str) -> None:
    tool = load_standalone_verifier()
    size1, size2, proof, root1, root2 = MALFORMED_CONSISTENCY[case]
    with pytest.raises(ProofError):
        verify_consistency(size1, size2, proof, root1, root2)  # type: ignore[arg-type]
    with pytest.raises(tool.VerificationError):
        tool.verify_consistency(size1, size2, proof, root1, root2)


def test_a_hash_of_the_wrong_length_is_rejected_even_when_the_proof_leads_to_the_root() -> None:
    tool = load_standalone_verifier()
    short = node(0, 1)[:31]
    for leaf, sibling in [(node(0, 0), short), (short, node(0, 1))]:
        root = node_hash(leaf, sibling)  # what a verifier without length checks computes, and accepts
        with pytest.raises(ProofError, match="32 bytes"):
            verify_inclusion(0, 2, leaf, [sibling], root)
        with pytest.raises(tool.VerificationError, match="32 bytes"):
            tool.verify_inclusion(0, 2, leaf, [sibling], root)
    root2 = node_hash(node(2, 0), short)
    with pytest.raises(ProofError, match="32 bytes"):
        verify_consistency(4, 8, [short], node(2, 0), root2)
    with pytest.raises(tool.VerificationError, match="32 bytes"):
        tool.verify_consistency(4, 8, [short], node(2, 0), root2)


def test_both_verifiers_accept_the_well_formed_proofs_the_rejections_start_from() -> None:
    tool = load_standalone_verifier()
    verify_inclusion(*GOOD_INCLUSION)
    tool.verify_inclusion(*GOOD_INCLUSION)
    verify_consistency(*GOOD_CONSISTENCY)
    tool.verify_consistency(*GOOD_CONSISTENCY)
