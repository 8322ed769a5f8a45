"""The Merkle tree in the ledger's database: complete-subtree hashes written once, read in one query.

Table ``ledger_tree`` holds one row per complete subtree (level 0 = the leaf hashes), keyed by a single
integer ``node = index * 64 + level`` so that any set of nodes (a proof, a frontier, a root) is one
``IN`` query. Rows are inserted by the append transaction that adds their last leaf and are never
updated: a later append only adds rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ledger.log.errors import LogError
from ledger.log.tree import Frontier, NodeID
from ledger.store.dialect import InList, SqlCursor

__all__ = ["TREE_TABLE_DDL", "DbHashSource", "load_frontier", "node_key", "store_nodes", "tree_size"]

# Level < 64 and index < 2**57 keep the key inside a signed 64-bit integer.
_LEVELS = 64


def node_key(node: NodeID) -> int:
    """The single integer key of a subtree node."""
    return node.index * _LEVELS + node.level


# The table as ledger.store.tables creates it (there with the dialect's own integer and binary types).
TREE_TABLE_DDL = "CREATE TABLE IF NOT EXISTS {table} (node BIGINT PRIMARY KEY, hash {blob} NOT NULL)"


class DbHashSource:
    """A :class:`ledger.log.tree.HashSource` reading ``ledger_tree`` through an open cursor."""

    def __init__(self, cur: SqlCursor) -> None:
        self.cur = cur

    def read_hashes(self, nodes: Sequence[NodeID]) -> list[bytes]:
        """The stored hashes of ``nodes``, in order; a missing node is an error (a damaged tree)."""
        keys = [node_key(n) for n in nodes]
        found: dict[int, bytes] = {}
        unique = sorted(set(keys))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            for row in self.cur.execute(
                "SELECT node, hash FROM {t:ledger_tree} WHERE node {in}", (InList(chunk),)
            ).all():
                found[int(row["node"])] = bytes(row["hash"])
        missing = [n for n, k in zip(nodes, keys, strict=True) if k not in found]
        if missing:
            first = missing[0]
            raise LogError(
                f"the stored Merkle tree lacks {len(missing)} node(s), first level {first.level} "
                f"index {first.index}: run `privacy-ledger verify`"
            )
        return [found[k] for k in keys]


def load_frontier(cur: SqlCursor, size: int) -> Frontier:
    """The integrator's frontier of the stored tree at ``size`` leaves (at most 64 rows, one query)."""
    return Frontier.load(size, DbHashSource(cur))


def store_nodes(cur: SqlCursor, entries: Iterable[tuple[NodeID, bytes]]) -> None:
    """Insert newly completed subtree hashes (each written once, never updated)."""
    rows = [(node_key(n), h) for n, h in entries]
    # PostgreSQL: a binary COPY (no hex escaping of the hashes on either side).
    cur.insert_rows("ledger_tree", ("node", "hash"), rows, pg_types=("int8", "bytea"))


def tree_size(cur: SqlCursor) -> int:
    """The number of leaves in the stored tree (one probe of the primary key).

    The last leaf has the largest key: a complete subtree ``(level, index)`` ends at or before the tree's
    end, so ``index * 64 + level`` stays below ``(size - 1) * 64`` for every level above 0.
    """
    top = cur.execute("SELECT MAX(node) AS m FROM {t:ledger_tree}").scalar()
    return 0 if top is None else int(top) // _LEVELS + 1
