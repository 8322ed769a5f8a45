"""Retention and erasure obligations (spec 6.7) for the whole fleet at any ``as_of``, without a store replay.

The view keeps, per envelope subject, the skeleton of exactly the facts ``evaluate_retention`` reads:
retention schedules (the anchors: a subject without one has no 6.7 row), legal holds placed and
released, ``KeyShredded``, ``ErasureDeferred``, and the facts that bring a new value under a new key
version after a shred (``DataCollected``/``DataRectified`` items' categories, a ``SubjectRegistered``
display name as category ``name``). Merges are resolved at query time and the pure rule runs once per
resolved subject.

Like ``evaluate_retention``, a row reads only facts with ``occurred_at`` <= ``as_of``: asking an
instant before an erasure shows the obligation as it stood then (``RETAIN``/``DUE``), which is what the
as-of alert A25 needs. No value is decrypted here, so erasure is not undone (spec 3.3).
"""

from __future__ import annotations

from typing import Any, ClassVar

from ledger.domain.facts import Fact
from ledger.domain.obligations import RetentionRow, evaluate_retention
from ledger.domain.request_clock import RequestRow
from ledger.domain.subject_state import value_categories
from ledger.store.dialect import SqlCursor
from projections.base import skeleton
from projections.reading import ReadContext
from projections.requests import list_requests
from projections.subject_facts import SubjectFactsView

__all__ = ["RetentionView", "list_retention", "open_erasure_requests"]

_KEPT_AS_IS = frozenset({"LegalHoldPlaced", "LegalHoldReleased", "KeyShredded", "ErasureDeferred"})


class RetentionView(SubjectFactsView):
    """Schedules (the anchors), holds, shreds, deferrals and re-keying facts, per envelope subject."""

    name: ClassVar[str] = "retention"

    def keep(self, fact: Fact) -> tuple[bool, dict[str, Any]] | None:
        """The facts ``evaluate_retention`` reads; value-bringing facts reduced to their categories."""
        kind = fact.event_type
        if kind == "RetentionScheduleAssigned":
            return True, skeleton(fact.payload)
        if kind in _KEPT_AS_IS:
            return False, skeleton(fact.payload)
        categories = value_categories(fact)
        if not categories:
            return None
        if kind == "SubjectRegistered":
            return False, {"display_name": skeleton(fact.payload)["display_name"]}
        items = "data_items" if kind == "DataCollected" else "items"
        return False, {items: [{"category": c} for c in categories]}


def list_retention(
    cur: SqlCursor, rctx: ReadContext, *, subject: str | None = None, status: str | None = None
) -> list[RetentionRow]:
    """The 6.7 rows at ``rctx.as_of``, by resolved subject then category.

    ``subject`` (any id of a resolution set) limits the rows to that set; ``status`` to one status.
    """
    rows: list[RetentionRow] = []
    for survivor, facts in RetentionView().facts_by_subject(cur, rctx, subject).items():
        rows += evaluate_retention(facts, rctx.as_of, subject_id=survivor)
    return [r for r in rows if status is None or r.status == status]


def open_erasure_requests(cur: SqlCursor, rctx: ReadContext, subject: str) -> list[RequestRow]:
    """The subject's erasure requests received and not closed at ``rctx.as_of`` (6.7, last line).

    Read from the rights-request view (``projections.requests``), which must be kept by the same runner.
    """
    survivor = rctx.resolve(subject)
    rows = list_requests(
        cur, rctx.ctx, rctx.as_of, subject=survivor, resolve=rctx.resolve, family=rctx.members(survivor)
    )
    return [r for r in rows if r.request_type == "erasure" and not r.is_closed]
