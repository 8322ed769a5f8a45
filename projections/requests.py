"""Rights-request queue (spec 6.4): statutory due dates at any ``as_of``, and the request alerts."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, ClassVar

from ledger.domain.catalogue import StreamKind
from ledger.domain.facts import Fact
from ledger.domain.request_clock import RequestRow, evaluate_request, sort_queue
from ledger.domain.timing_alerts import request_alerts
from ledger.store.dialect import SqlCursor
from projections.alerts import sync_alerts
from projections.context import ProjectionContext
from projections.streams import StreamView

__all__ = ["RequestsView", "list_requests"]


class RequestsView(StreamView):
    """Every rights request's events, a summary row each, and the alerts A18-A21 they raise."""

    name: ClassVar[str] = "requests"
    kind: ClassVar[StreamKind] = StreamKind.REQUEST
    id_field: ClassVar[str] = "request_id"

    def summarise(self, facts: list[Fact], ctx: ProjectionContext) -> dict[str, Any]:
        """Receipt, closure and subject of the request, from every event it has."""
        row = _evaluate(facts, ctx)
        if row is None:
            return {}
        closed = row.closed_at if row.is_closed else None
        return {
            "subject_id": row.subject_id,
            "received_at": row.received_at,
            "closed_at": closed,
            "request_type": row.request_type,
        }

    def after_update(
        self, cur: SqlCursor, entity: str, facts: list[Fact], fact: Fact, ctx: ProjectionContext
    ) -> None:
        """Event-triggered request alerts (A18-A21); the as-of A17 is computed by queries."""
        row = _evaluate(facts, ctx)
        alerts = [] if row is None else [a for a in request_alerts(row) if not a.as_of_rule]
        resolved = ctx.resolve(row.subject_id, fact.seq) if row and row.subject_id else None
        alerts = [_with_subject(a, resolved) for a in alerts]
        sync_alerts(cur, [f"request:{entity}"], f"request:{entity}", alerts, fact)


def _with_subject(alert: Any, subject: str | None) -> Any:
    from dataclasses import replace

    return replace(alert, subject_id=subject)


def _evaluate(facts: list[Fact], ctx: ProjectionContext) -> RequestRow | None:
    if not facts:
        return None
    latest = max(f.occurred_at for f in facts)
    return evaluate_request(facts, latest, ctx.calendar)


def list_requests(
    cur: SqlCursor,
    ctx: ProjectionContext,
    as_of: datetime,
    *,
    include_closed: bool = False,
    subject: str | None = None,
    resolve: Any = None,
    family: Iterable[str] | None = None,
) -> list[RequestRow]:
    """The queue at ``as_of``, in the 6.4 default order, from the view's own tables.

    ``family`` (with ``subject``, its survivor): the survivor and every subject merged into it now, so
    that only their requests are read; without it the receipt subject of every candidate is resolved.
    """
    view = RequestsView()
    if subject is not None and family is not None:
        ids = view.candidates(cur, as_of, include_closed=include_closed, subjects={subject, *family})
    else:
        ids = view.candidates(cur, as_of, include_closed=include_closed)
    if subject is not None and family is None:
        # Only the subject's own requests (any subject of its merge set) need their clock computed.
        ids = view.of_subjects(cur, ids, {subject}, resolve)
    facts = view.load(cur, ids)
    rows = []
    for rid in ids:
        row = evaluate_request(facts[rid], as_of, ctx.calendar, resolve=resolve)
        if row is None:
            continue
        if subject is not None and row.subject_id != subject:
            continue
        rows.append(row)
    return sort_queue(rows)
