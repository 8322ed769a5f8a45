"""What every view is: tables, an update rule applied in ``seq`` order, and queries.

A view's rows and its tracking position commit in one transaction (the runner's), so a view is always
exactly "the store up to seq N" and replaying from zero gives the same rows.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, ClassVar, Protocol

from ledger.domain.facts import Fact
from ledger.errors import LedgerError
from ledger.store.dialect import Dialect, SqlCursor

__all__ = ["ProjectionError", "StoredFact", "View", "dumps", "skeleton"]


class ProjectionError(LedgerError):
    """Root of every error the ``projections`` package raises on purpose."""


@dataclass(frozen=True)
class StoredFact:
    """A stored event as views receive it: the rules' :class:`Fact` and the stored record (ciphertext)."""

    fact: Fact
    record: Mapping[str, Any]

    @property
    def seq(self) -> int:
        """The chain position."""
        return self.fact.seq

    # Worked out once per stored event, whichever views of the batch ask (frozen: cached_property writes
    # the instance dict directly).

    @cached_property
    def skeleton(self) -> dict[str, Any]:
        """:func:`skeleton` of the payload. Shared by the views that ask: never change it."""
        return skeleton(self.fact.payload)

    @cached_property
    def occurred_text(self) -> str:
        """``utc(occurred_at)``."""
        return utc(self.fact.occurred_at)

    @cached_property
    def recorded_text(self) -> str:
        """``utc(recorded_at)``."""
        return utc(self.fact.recorded_at)


class View(Protocol):
    """One compliance view (spec section 6)."""

    name: ClassVar[str]
    tables: ClassVar[tuple[str, ...]]

    def create_statements(self, d: Dialect) -> list[str]:
        """Idempotent DDL of the view's tables."""
        ...

    def apply_batch(self, cur: SqlCursor, facts: Sequence[StoredFact], ctx: Any) -> None:
        """Update the view's rows for stored events in ``seq`` order (inside the runner's transaction).

        The rows must be exactly those of applying the events one by one: a batch is only a way to read
        and write in bulk.
        """
        ...

    def reset(self) -> None:
        """Forget in-memory caches (before a rebuild from zero)."""
        ...


def dumps(value: Any) -> str:
    """Deterministic JSON for view columns (sorted keys, no spaces): rebuilds stay byte-identical."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def skeleton(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The payload without ciphertext envelopes (views keep only non-personal facts)."""

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            if "enc" in node and "kid" in node:
                return {"kid": node["kid"], "cat": node.get("cat")}
            return {k: strip(v) for k, v in node.items()}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    out: dict[str, Any] = strip(dict(payload))
    return out


def utc(instant: datetime) -> str:
    """The UTC text form used in view columns and output."""
    from ledger.domain.calendar import utc_text

    return utc_text(instant)
