"""What queries need: the ledger (keys to decrypt at read time), merges as they stand, subject history."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ledger.domain.facts import Fact
from ledger.reader import ERASED, open_envelope
from ledger.store.database import LedgerStore
from ledger.store.dialect import InList, SqlCursor
from ledger.store.keystore import KeyStore, parse_kid
from projections.context import ProjectionContext

__all__ = ["ERASED_VALUE", "ReadContext"]

ERASED_VALUE = ERASED


@dataclass
class ReadContext:
    """One query's view of the ledger: as of an instant, with merges resolved as they stand now.

    Views never store personal values; a query that shows one reads its ciphertext from the event store
    by (event id, JSON path) and decrypts it here, or reports it erased when its key is gone (erasure is
    never undone by asking about an earlier ``as_of``: decryption depends on the key existing now).
    """

    store: LedgerStore
    keys: KeyStore
    ctx: ProjectionContext
    as_of: datetime
    cur: SqlCursor
    _aead: dict[str, AESGCM | None] = field(default_factory=dict)
    _records: dict[str, dict[str, Any]] = field(default_factory=dict)
    _merges_read: bool = False  # merges are read once per query (a page resolves each of its rows)
    _families: dict[str, list[str]] | None = None

    @property
    def head_seq(self) -> int:
        """The last stored seq (merges are resolved as of it)."""
        value = self.cur.execute("SELECT MAX(seq) AS m FROM {t:ledger_chain}").scalar()
        return int(value or 0)

    def resolve(self, subject_id: str) -> str:
        """The survivor a subject resolves to now."""
        self._load_merges()
        return self.ctx.resolve(subject_id, 1 << 62)

    def members(self, survivor: str) -> list[str]:
        """The survivor and every subject merged into it, now."""
        self._load_merges()
        if self._families is None:
            self._families = self.ctx.families(1 << 62)
        return list(self._families.get(survivor, [survivor]))

    def _load_merges(self) -> None:
        if not self._merges_read:
            self.ctx.load_merges(self.cur)
            self._merges_read = True

    def subject_facts(self, subject_id: str) -> list[Fact]:
        """Every stored fact of the subject's resolution set (replayed from the store, seq order)."""
        survivor = self.resolve(subject_id)
        return self.ctx.subject_facts(self.cur, self.members(survivor), 1 << 62)

    def record(self, event_id: str) -> dict[str, Any] | None:
        """The stored record (ciphertext) of one event."""
        if event_id not in self._records:
            row = self.cur.execute(
                "SELECT e.state FROM {t:ledger_dedup} d JOIN {t:ledger_chain} c ON c.seq = d.seq "
                f"JOIN {self.store.events_table} e ON e.{self.store.notification_column} = c.notification_id "
                "WHERE d.event_id = ?",
                (event_id,),
            ).one()
            if row is None:
                return None
            record = json.loads(bytes(row["state"]))["record"]
            if record.get("event_id") != event_id:
                return None  # the dedup index points at another event (edited); verify reports it
            self._records[event_id] = record
        return self._records[event_id]

    def live_kids(self, kids: Iterable[str]) -> set[str]:
        """The key ids among ``kids`` whose data key still exists, read without the key material: no
        wrapped key is read, unwrapped or cached (a key id not in the ledger's form is not live)."""
        wanted: dict[tuple[str, str, int], set[str]] = {}
        for kid in kids:
            try:
                wanted.setdefault(parse_kid(kid), set()).add(kid)
            except ValueError:
                continue
        if not wanted:
            return set()
        rows = self.cur.execute(
            "SELECT subject_id, category, key_version FROM {t:ledger_keys} "
            "WHERE subject_id {in} AND wrapped IS NOT NULL",
            (InList(sorted({subject for subject, _, _ in wanted})),),
        ).all()
        live: set[str] = set()
        for r in rows:
            live |= wanted.get((str(r["subject_id"]), str(r["category"]), int(r["key_version"])), set())
        return live

    def value(self, event_id: str, path: str) -> tuple[Any, str]:
        """The plaintext at JSON ``path`` (``/payload/...``) of an event and its state.

        Returns ``(value, "available")``, or ``(None, "erased")`` once the key is destroyed.
        """
        record = self.record(event_id)
        if record is None:
            return None, "missing"
        node: Any = record
        for step in path.strip("/").split("/"):
            node = node[int(step)] if isinstance(node, list) else node.get(step)
            if node is None:
                return None, "missing"
        if not (isinstance(node, dict) and "enc" in node and "kid" in node):
            return node, "available"
        return open_envelope(self.cur, self.keys, self._aead, event_id, path, node)
