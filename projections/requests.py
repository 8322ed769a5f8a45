"""Rights-request queue (spec 6.4): statutory due dates at any ``as_of``, and the request alerts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, ClassVar

from ledger.domain.catalogue import StreamKind
from ledger.domain.facts import Fact
from ledger.domain.request_clock import RequestRow, evaluate_request, queue_key, sort_queue
from ledger.domain.timing_alerts import request_alerts
from ledger.store.dialect import Dialect, InList, SqlCursor
from projections.alerts import AlertRows, Sync
from projections.base import StoredFact, utc
from projections.context import ProjectionContext
from projections.streams import StreamView

__all__ = ["RequestsView", "list_requests", "queue_page"]

# The queue order of every request, as it stands once all its events have occurred (see queue_page).
_QUEUE = "view_request_queue"


class RequestsView(StreamView):
    """Every rights request's events, a summary row each, and the alerts A18-A21 they raise."""

    name: ClassVar[str] = "requests"
    kind: ClassVar[StreamKind] = StreamKind.REQUEST
    id_field: ClassVar[str] = "request_id"

    def create_statements(self, d: Dialect) -> list[str]:
        """The stream tables, and the queue order of each request (read page by page)."""
        t = d.table(_QUEUE)
        return [
            *super().create_statements(d),
            f"CREATE TABLE IF NOT EXISTS {t} (entity_id TEXT PRIMARY KEY, band INTEGER NOT NULL, "
            "due TEXT NOT NULL, received_at TEXT NOT NULL, last_occurred TEXT NOT NULL)",
            f"CREATE INDEX IF NOT EXISTS {_QUEUE}_order_idx ON {t} (band, due, received_at, entity_id)",
            f"CREATE INDEX IF NOT EXISTS {_QUEUE}_last_idx ON {t} (last_occurred)",
        ]

    def apply_batch(self, cur: SqlCursor, facts: Sequence[StoredFact], ctx: ProjectionContext) -> None:
        """As every stream view; the request alerts of the batch are read once and written at its end."""
        self._syncs: list[Sync] = []
        self._queue: dict[str, tuple[Any, ...] | None] = {}
        super().apply_batch(cur, facts, ctx)
        _keep_queue_order(cur, self._queue)
        rows = AlertRows()
        rows.replay(cur, self._syncs)
        rows.flush(cur)

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
        self._syncs.append(([f"request:{entity}"], f"request:{entity}", alerts, fact))
        self._queue[entity] = _queue_row(entity, facts, row)


# (StreamView names the facts and summary tables of every subclass; the queue order is this view's own.)
RequestsView.tables = (*RequestsView.tables, _QUEUE)


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


# -- the queue, page by page ------------------------------------------------------------------------
#
# The 6.4 order (overdue first, then ascending due date; paused and awaiting last; closed after) depends on
# ``as_of`` only through ``overdue``, and an overdue request is one whose due date is before the as_of date:
# it sorts before every open request not yet due, so "overdue, then due date" is the due-date order of the
# open requests. Everything else in the key (band, due date, receipt, id) is fixed by the request's events.
# So the key is kept per request at projection time, as it stands once its last event has occurred, and a
# page is read in index order with LIMIT. That stored key is the key at ``as_of`` when ``as_of`` is at or
# after every request's last event (MAX(last_occurred), one index probe): the queue asked for "now". For a
# past ``as_of`` (or a ledger whose views predate this table: the row counts differ until
# `project --rebuild requests`), the page is cut from the whole queue, as before. Each page row is still
# evaluated at ``as_of``; a key that disagrees with the stored one makes the page fall back too.


def _band(key: tuple[int, Any, str, str]) -> int:
    """The stored band of a 6.4 sort key: overdue (0) and open (1) share one due-date order."""
    return 1 if key[0] == 0 else key[0]


_QUEUE_COLUMNS = ("entity_id", "band", "due", "received_at", "last_occurred")


def _queue_row(entity: str, facts: list[Fact], row: RequestRow | None) -> tuple[Any, ...] | None:
    """The stored queue key of one request (evaluated at its latest event), None for no row."""
    if row is None:
        return None
    key = queue_key(row)
    return (entity, *_stored_key(key)[:3], utc(max(f.occurred_at for f in facts)))


def _keep_queue_order(cur: SqlCursor, queue: dict[str, tuple[Any, ...] | None]) -> None:
    """Store the queue keys of a batch's requests (each as after its last event in the batch)."""
    if not queue:
        return
    entities = sorted(queue)
    for start in range(0, len(entities), 1000):
        chunk = InList(entities[start : start + 1000])
        cur.execute(f"DELETE FROM {{t:{_QUEUE}}} WHERE entity_id {{in}}", (chunk,))
    cur.insert_rows(_QUEUE, _QUEUE_COLUMNS, [row for row in queue.values() if row is not None])


def queue_page(
    cur: SqlCursor,
    ctx: ProjectionContext,
    as_of: datetime,
    *,
    include_closed: bool,
    resolve: Any,
    after: list[Any] | None,
    limit: int,
) -> tuple[list[RequestRow], list[Any] | None]:
    """The rows of :func:`list_requests` (no subject filter) after the key ``after``, at most ``limit``,
    and the key of the last one if more follow. Read in the stored order when it holds at ``as_of``;
    otherwise the whole queue is computed and cut at the same key."""
    found = _stored_page(
        cur, ctx, as_of, include_closed=include_closed, resolve=resolve, after=after, limit=limit
    )
    if found is not None:
        return found
    keyed = [
        (_stored_key(queue_key(row)), row)
        for row in list_requests(cur, ctx, as_of, include_closed=include_closed, resolve=resolve)
    ]
    rest = [item for item in keyed if after is None or item[0] > after]
    page = rest[:limit]
    return [row for _, row in page], (page[-1][0] if len(rest) > limit else None)


def _stored_key(key: tuple[int, Any, str, str]) -> list[Any]:
    """A 6.4 sort key as stored and as a page position: [band, due date text, received_at, id]."""
    return [_band(key), key[1].isoformat(), key[2], key[3]]


def _stored_page(
    cur: SqlCursor,
    ctx: ProjectionContext,
    as_of: datetime,
    *,
    include_closed: bool,
    resolve: Any,
    after: list[Any] | None,
    limit: int,
) -> tuple[list[RequestRow], list[Any] | None] | None:
    """:func:`queue_page` read in the stored order; None if that order does not hold at ``as_of``."""
    if not _stored_order_holds(cur, as_of):
        return None
    sql = f"SELECT entity_id, band, due, received_at FROM {{t:{_QUEUE}}}"
    params: list[Any] = []
    clauses = [] if include_closed else ["band < 3"]
    if after is not None:
        clauses.append("(band, due, received_at, entity_id) > (?, ?, ?, ?)")
        params.extend(after)
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    sql += " ORDER BY band, due, received_at, entity_id LIMIT ?"
    found = cur.execute(sql, [*params, limit + 1]).all()
    more = len(found) > limit
    found = found[:limit]
    view = RequestsView()
    facts = view.load(cur, [str(r["entity_id"]) for r in found])
    rows = []
    for stored in found:
        row = evaluate_request(facts[str(stored["entity_id"])], as_of, ctx.calendar, resolve=resolve)
        if row is None:
            return None
        if _stored_key(queue_key(row)) != [
            int(stored["band"]),
            str(stored["due"]),
            str(stored["received_at"]),
            str(stored["entity_id"]),
        ]:
            return None
        rows.append(row)
    last = found[-1] if more and found else None
    position = (
        None
        if last is None
        else [int(last["band"]), str(last["due"]), str(last["received_at"]), str(last["entity_id"])]
    )
    return rows, position


def _stored_order_holds(cur: SqlCursor, as_of: datetime) -> bool:
    """Whether every request's stored key is its key at ``as_of`` (see above)."""
    if not cur.has_table(_QUEUE):
        return False  # read-only views built before the table existed
    latest = cur.execute(f"SELECT MAX(last_occurred) AS latest FROM {{t:{_QUEUE}}}").scalar()
    if latest is not None and str(latest) > utc(as_of):
        return False
    kept = cur.execute(f"SELECT COUNT(*) AS n FROM {{t:{_QUEUE}}}").scalar()
    received = cur.execute(
        "SELECT COUNT(*) AS n FROM {t:view_requests} WHERE received_at IS NOT NULL"
    ).scalar()
    return int(kept) == int(received)
