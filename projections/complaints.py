"""Complaints queue (spec 6.10, DPA s.164A): acknowledgement deadlines at any ``as_of``."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, ClassVar

from ledger.domain.catalogue import StreamKind
from ledger.domain.facts import Fact
from ledger.domain.obligations import ComplaintRow, evaluate_complaint
from ledger.store.dialect import SqlCursor
from projections.context import ProjectionContext
from projections.streams import StreamView

__all__ = ["ComplaintsView", "list_complaints"]


class ComplaintsView(StreamView):
    """Every complaint's events and a summary row each."""

    name: ClassVar[str] = "complaints"
    kind: ClassVar[StreamKind] = StreamKind.COMPLAINT
    id_field: ClassVar[str] = "complaint_id"

    def summarise(self, facts: list[Fact], ctx: ProjectionContext) -> dict[str, Any]:
        """Receipt, closure (the outcome) and subject."""
        latest = max(f.occurred_at for f in facts)
        row = evaluate_complaint(facts, latest, ctx.calendar)
        if row is None:
            return {}
        receipt = next(f for f in facts if f.event_type == "ComplaintReceived")
        outcome = [f for f in facts if f.event_type == "ComplaintOutcomeSent"]
        from projections.base import utc

        return {
            "subject_id": row.subject_id,
            "received_at": utc(receipt.occurred_at),
            "closed_at": utc(min(f.occurred_at for f in outcome)) if outcome else None,
        }


def list_complaints(
    cur: SqlCursor,
    ctx: ProjectionContext,
    as_of: datetime,
    *,
    include_closed: bool = True,
    subject: str | None = None,
    resolve: Any = None,
    family: Iterable[str] | None = None,
) -> list[ComplaintRow]:
    """Complaints received by ``as_of``, ordered by received date then id.

    ``family`` (with ``subject``, its survivor): the survivor and every subject merged into it now, so
    that only the complaints whose receipt names one of them are read.
    """
    view = ComplaintsView()
    subjects = {subject, *family} if subject is not None and family is not None else None
    ids = view.candidates(cur, as_of, include_closed=include_closed, subjects=subjects)
    facts = view.load(cur, ids)
    rows = []
    for cid in ids:
        row = evaluate_complaint(facts[cid], as_of, ctx.calendar, resolve=resolve)
        if row is not None and (subject is None or row.subject_id == subject):
            rows.append(row)
    return sorted(rows, key=lambda r: (r.received_date, r.complaint_id))
