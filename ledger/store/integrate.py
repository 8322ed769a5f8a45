"""Integrating the chain's records into the Merkle tree (leaf ``seq - 1`` = the chained record's bytes).

The append transaction integrates its own records (:class:`TreeIntegrator`): the chain and the tree
move together, so the tree's size is always the chain's length and no leaf is ever rewritten. A ledger
created before the tree existed has a chain but no tree rows: :func:`backfill_tree` integrates those
records once, a page per locked write transaction, checking each against its chain hash first (a
record that fails the chain is never signed into the tree).
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

from ledger.errors import LedgerError
from ledger.log.merkle import leaf_hash
from ledger.log.storage import load_frontier, store_nodes, tree_size
from ledger.log.tree import Frontier, NodeID
from ledger.store.chain import GENESIS_HASH, chained_bytes
from ledger.store.database import LedgerStore
from ledger.store.dialect import SqlCursor

__all__ = ["TreeIntegrator", "backfill_tree", "integrate_records"]

log = logging.getLogger(__name__)

_PAGE = 2000


class TreeIntegrator:
    """Appends one batch's leaves to the stored tree, inside the batch's write transaction.

    ``size`` is the chain's length before the batch. ``frontier`` is the one the same writer left after
    its previous batch (valid only if nobody wrote in between); otherwise it is read from the table
    (at most 64 rows), after integrating any record the tree lacks.
    """

    def __init__(self, store: LedgerStore, cur: SqlCursor, size: int, frontier: Frontier | None) -> None:
        self.cur = cur
        if frontier is None or frontier.size != size:
            stored = tree_size(cur)
            if stored > size:
                raise LedgerError(
                    f"the stored Merkle tree has {stored} leaves but the chain only {size} records (a cut "
                    "tail?): nothing appended; run `privacy-ledger verify`"
                )
            if stored < size:
                integrate_records(store, cur, stored, size)
            frontier = load_frontier(cur, size)
        self.frontier = frontier
        self._nodes: list[tuple[NodeID, bytes]] = []

    def add(self, data: bytes) -> None:
        """Append the leaf of the next record (its chained bytes)."""
        self._nodes.extend(self.frontier.append(leaf_hash(data)))

    def flush(self) -> None:
        """Store the subtrees the batch completed (each row written once)."""
        store_nodes(self.cur, self._nodes)
        self._nodes = []


def integrate_records(store: LedgerStore, cur: SqlCursor, start: int, end: int) -> int:
    """Integrate the records ``seq`` ``start + 1 .. end`` into a tree of ``start`` leaves, in ``cur``'s
    transaction; each record must match its chain row (hash and link). Returns how many were added."""
    frontier = load_frontier(cur, start)
    prev = GENESIS_HASH
    if start:
        prev = str(cur.execute("SELECT hash FROM {t:ledger_chain} WHERE seq = ?", (start,)).scalar())
    notif = store.notification_column
    seq = start
    while seq < end:
        rows = cur.execute(
            "SELECT c.seq, c.prev_hash, c.hash, e.state FROM {t:ledger_chain} c "
            f"LEFT JOIN {store.events_table} e ON e.{notif} = c.notification_id "
            "WHERE c.seq > ? AND c.seq <= ? ORDER BY c.seq",
            (seq, min(end, seq + _PAGE)),
        ).all()
        nodes: list[tuple[NodeID, bytes]] = []
        for row in rows:
            expected = seq + 1
            record = _record(row["state"])
            data = None if record is None else chained_bytes(record, expected, prev)
            if (
                int(row["seq"]) != expected
                or row["prev_hash"] != prev
                or data is None
                or hashlib.sha256(data).hexdigest() != row["hash"]
            ):
                raise LedgerError(
                    f"record seq {expected} does not match its chain row, so it is not put into the Merkle "
                    "tree: run `privacy-ledger verify`"
                )
            nodes.extend(frontier.append(leaf_hash(data)))
            prev = str(row["hash"])
            seq = expected
        if not rows:
            raise LedgerError(f"record seq {seq + 1} is missing from the chain: run `privacy-ledger verify`")
        store_nodes(cur, nodes)
    return end - start


def backfill_tree(store: LedgerStore, *, page: int = 5000) -> int:
    """Integrate every record the tree lacks (a ledger created before the tree), a page per locked write
    transaction; idempotent, and a no-op (one read) when the tree is complete. Returns records added."""
    with store.read() as cur:
        behind = tree_size(cur) < _head(cur)
    if not behind:
        return 0
    added = 0
    while True:
        with store.write() as cur:
            size, head = tree_size(cur), _head(cur)
            if size >= head:
                break
            added += integrate_records(store, cur, size, min(head, size + page))
        log.info("Merkle tree: integrated records up to seq %d of %d", size + min(head - size, page), head)
    return added


def _head(cur: SqlCursor) -> int:
    return int(cur.execute("SELECT MAX(seq) AS m FROM {t:ledger_chain}").scalar() or 0)


def _record(state: Any) -> dict[str, Any] | None:
    if state is None:
        return None
    try:
        decoded = json.loads(bytes(state))
    except (ValueError, UnicodeDecodeError):
        return None
    record = decoded.get("record") if isinstance(decoded, dict) else None
    return record if isinstance(record, dict) else None
