"""The projections as the ledger uses them: every view, one runner, and the query of each view."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from ledger.calendars import load_calendar
from ledger.domain.codes import CodeLists
from ledger.domain.facts import Fact
from ledger.store.database import LedgerStore
from ledger.store.keystore import KeyStore
from projections.base import ProjectionError, View
from projections.context import ProjectionContext
from projections.paging import Page, keyset_after, offset_after
from projections.query_options import (
    UnknownSubjectError,
    check_actor_ref,
    check_query_options,
    check_subject_id,
)
from projections.reading import ReadContext
from projections.runner import ProjectionRunner

__all__ = ["QUERY_NAMES", "VIEW_NAMES", "Projections"]

# The views in the order the runner applies them (each keeps its own position).
VIEW_NAMES = ("requests", "complaints", "alerts", "disclosures", "ropa", "notices", "retention", "reads")
# What `privacy-ledger query VIEW` accepts: the views above plus the per-subject queries.
QUERY_NAMES = (
    "requests",
    "complaints",
    "alerts",
    "disclosures",
    "ropa",
    "notices",
    "retention",
    "reads",
    "inventory",
    "consent",
    "portability",
)


def _views() -> list[View]:
    from projections.alerts import AlertsView
    from projections.complaints import ComplaintsView
    from projections.disclosures import DisclosuresView
    from projections.notices import NoticesView
    from projections.reads import ReadsView
    from projections.requests import RequestsView
    from projections.retention import RetentionView
    from projections.ropa import RopaView

    return [
        RequestsView(),
        ComplaintsView(),
        AlertsView(),
        DisclosuresView(),
        RopaView(),
        NoticesView(),
        RetentionView(),
        ReadsView(),
    ]


class Projections:
    """All views of one ledger: keep them current, rebuild them, query them."""

    def __init__(
        self,
        store: LedgerStore,
        keys: KeyStore,
        codes: CodeLists,
        *,
        maintenance: Callable[[], object] | None = None,
    ) -> None:
        self.store = store
        self.keys = keys
        self.ctx = ProjectionContext(store, codes, load_calendar())
        # ``maintenance`` runs at the start of every pass (the ``project`` command: parked expiry).
        self.runner = ProjectionRunner(store, _views(), self.ctx, maintenance=maintenance)

    def catch_up(self, *, progress: Callable[[int], None] | None = None) -> int:
        """Apply every stored event the views have not seen yet."""
        return self.runner.catch_up(progress=progress)

    def rebuild(self, name: str, *, progress: Callable[[int], None] | None = None) -> int:
        """Rebuild one view (or ``all``) from ``seq`` 1."""
        return self.runner.rebuild(None if name == "all" else [name], progress=progress)

    def query(
        self, name: str, *, as_of: datetime, subject: str | None = None, values: bool = True, **filters: Any
    ) -> Any:
        """The JSON-able answer of one view at ``as_of``.

        Options the view does not take and filter values outside their closed list raise
        ``QueryUsageError`` (values are matched case-insensitively); a ``subject`` the ledger holds no
        event for raises ``UnknownSubjectError`` rather than answering with nothing. ``values=False``:
        the inventory without its personal values, no key opened (``subject_inventory``); the other
        views show none either way.
        """
        return self._answer(name, as_of, subject, filters, values=values)

    def query_page(
        self,
        name: str,
        *,
        as_of: datetime,
        offset: int,
        limit: int,
        subject: str | None = None,
        **filters: Any,
    ) -> tuple[list[Any], int]:
        """Rows ``offset`` to ``offset + limit`` of a list view's answer (as :meth:`query` gives it) and
        the number of rows of the whole answer. Work a row needs only when it is shown is done for the
        rows returned only (a portability request's eligible items, spec 6.4)."""
        if name not in VIEW_NAMES or name == "ropa":
            raise ProjectionError(f"{name} is not a list of rows")
        rows, total = self._answer(name, as_of, subject, filters, window=slice(offset, offset + limit))
        return rows, total

    def page(
        self,
        name: str,
        *,
        as_of: datetime,
        limit: int,
        after: Sequence[Any] | None = None,
        subject: str | None = None,
        **filters: Any,
    ) -> Page:
        """One page of a list view's answer (the rows :meth:`query` gives, in its order): at most
        ``limit`` rows after the position ``after`` (None: from the first row), and the position after the
        last row if more follow (``projections.paging``).

        The request queue (no subject), the alerts and the disclosure register are read page by page from
        their tables in their sort order (keyset); the other lists, a subject's requests and the queue at
        a past ``as_of`` are computed whole and cut (offset). A position of the other kind, or of another
        list, raises ``CursorError``.
        """
        if name not in VIEW_NAMES or name == "ropa":
            raise ProjectionError(f"{name} is not a list of rows")
        if limit < 1:
            raise ProjectionError("a page holds at least one row")
        checked = check_query_options(name, {"subject": subject, **filters})
        subject = checked.pop("subject", None)
        if subject is not None:
            subject = check_subject_id(subject)
        if checked.get("actor") is not None:
            checked["actor"] = check_actor_ref(checked["actor"])
        with self.store.read() as cur:
            rctx = ReadContext(store=self.store, keys=self.keys, ctx=self.ctx, as_of=as_of, cur=cur)
            if subject is not None and not _holds_subject(cur, rctx, subject):
                raise UnknownSubjectError(f"unknown subject {subject}: the ledger holds no event for it")
            keyed = _keyset_page(cur, rctx, name, subject, checked, after, limit)
            if keyed is not None:
                return keyed
            start = offset_after(after)
            if name == "requests":
                queue = _request_rows(cur, rctx, subject, checked)
                rows = _request_json(cur, rctx, queue[start : start + limit])
                total = len(queue)
            else:
                every = _HANDLERS[name](cur, rctx, subject, checked)
                rows, total = every[start : start + limit], len(every)
            return Page(rows, ["o", start + limit] if start + limit < total else None)

    def _answer(
        self,
        name: str,
        as_of: datetime,
        subject: str | None,
        filters: dict[str, Any],
        *,
        values: bool = True,
        window: slice | None = None,
    ) -> Any:
        """:meth:`query`'s answer; with ``window`` that slice of the rows and the number of rows."""
        if name not in QUERY_NAMES:
            raise ProjectionError(f"unknown view {name}; one of: {', '.join(QUERY_NAMES)}")
        checked = check_query_options(name, {"subject": subject, **filters})
        subject = checked.pop("subject", None)
        if subject is not None:
            subject = check_subject_id(subject)
        if checked.get("actor") is not None:
            checked["actor"] = check_actor_ref(checked["actor"])
        handler = _HANDLERS[name]
        with self.store.read() as cur:
            rctx = ReadContext(store=self.store, keys=self.keys, ctx=self.ctx, as_of=as_of, cur=cur)
            if subject is not None and not _holds_subject(cur, rctx, subject):
                raise UnknownSubjectError(f"unknown subject {subject}: the ledger holds no event for it")
            if name == "inventory" and subject is not None:
                from projections.subject import subject_inventory

                return subject_inventory(cur, rctx, subject, values=values)
            if window is None:
                return handler(cur, rctx, subject, checked)
            if name == "requests":
                queue = _request_rows(cur, rctx, subject, checked)
                return _request_json(cur, rctx, queue[window]), len(queue)
            rows = handler(cur, rctx, subject, checked)
            return rows[window], len(rows)


def _keyset_page(
    cur: Any,
    rctx: ReadContext,
    name: str,
    subject: str | None,
    f: dict[str, Any],
    after: Sequence[Any] | None,
    limit: int,
) -> Page | None:
    """The page read in the list's own order from its tables, or None where the list is cut from its
    whole answer (see :meth:`Projections.page`)."""
    if name == "disclosures":
        from projections.disclosures import disclosures_page

        rows, last = disclosures_page(
            cur, rctx, subject=subject, after=keyset_after(after, str, str), limit=limit
        )
    elif name == "alerts":
        from projections.alerts_query import alerts_page

        rows, last = alerts_page(
            cur,
            rctx,
            code=f.get("code"),
            severity=f.get("severity"),
            subject=subject,
            status=f.get("status"),
            after=keyset_after(after, int, str, str, str),
            limit=limit,
        )
    elif name == "requests" and subject is None:
        from projections.requests import queue_page

        queue, last = queue_page(
            cur,
            rctx.ctx,
            rctx.as_of,
            include_closed=bool(f.get("include_closed")),
            resolve=rctx.resolve,
            after=keyset_after(after, int, str, str, str),
            limit=limit,
        )
        rows = _request_json(cur, rctx, queue)
    else:
        return None
    return Page(rows, None if last is None else ["k", *last])


def _holds_subject(cur: Any, rctx: ReadContext, subject: str) -> bool:
    """True if any event is stored for the subject or a subject merged with it (at any instant)."""
    from ledger.store.dialect import InList

    members = sorted(set(rctx.members(rctx.resolve(subject))) | {subject})
    row = cur.execute(
        "SELECT 1 AS found FROM {t:ledger_chain} WHERE subject_id {in} LIMIT 1", (InList(members),)
    ).one()
    return row is not None


def _requests(cur: Any, rctx: ReadContext, subject: str | None, f: dict[str, Any]) -> Any:
    return _request_json(cur, rctx, _request_rows(cur, rctx, subject, f))


def _request_rows(cur: Any, rctx: ReadContext, subject: str | None, f: dict[str, Any]) -> list[Any]:
    """The queue's rows (``RequestRow``) at ``rctx.as_of``, in the 6.4 order."""
    from projections.requests import list_requests

    survivor = rctx.resolve(subject) if subject else None
    return list_requests(
        cur,
        rctx.ctx,
        rctx.as_of,
        include_closed=bool(f.get("include_closed")),
        subject=survivor,
        resolve=rctx.resolve,
        family=rctx.members(survivor) if survivor else None,
    )


def _request_json(cur: Any, rctx: ReadContext, rows: list[Any]) -> list[dict[str, Any]]:
    """The JSON rows of ``rows``, a portability request's with its eligible items."""
    from ledger.domain.timeutil import canonical_timestamp
    from projections.subject import eligible_items

    facts = _facts_of(
        cur,
        rctx,
        {r.subject_id for r in rows if r.request_type == "portability" and r.subject_id is not None},
    )
    out = []
    for r in rows:
        row = r.to_json()
        if r.request_type == "portability":
            # Spec 6.4/6.11: the eligible, non-erased items at the request's receipt.
            row["eligible_items"] = (
                []
                if r.subject_id is None
                else eligible_items(facts[r.subject_id], rctx.ctx.codes, canonical_timestamp(r.received_at))
            )
        out.append(row)
    return out


def _facts_of(cur: Any, rctx: ReadContext, subjects: set[str]) -> dict[str, list[Fact]]:
    """``rctx.subject_facts`` of each of ``subjects``, read in one query."""
    if not subjects:
        return {}
    families = {s: rctx.members(rctx.resolve(s)) for s in subjects}
    every = rctx.ctx.subject_facts(cur, {m for family in families.values() for m in family}, 1 << 62)
    out: dict[str, list[Fact]] = {}
    for s, family in families.items():
        wanted = set(family)
        out[s] = [f for f in every if f.subject_id in wanted]
    return out


def _complaints(cur: Any, rctx: ReadContext, subject: str | None, f: dict[str, Any]) -> Any:
    from projections.complaints import list_complaints

    survivor = rctx.resolve(subject) if subject else None
    family = rctx.members(survivor) if survivor else None
    rows = list_complaints(cur, rctx.ctx, rctx.as_of, subject=survivor, resolve=rctx.resolve, family=family)
    return [r.to_json() for r in rows]


def _alerts(cur: Any, rctx: ReadContext, subject: str | None, f: dict[str, Any]) -> Any:
    from projections.alerts_query import list_alerts

    return list_alerts(
        cur, rctx, code=f.get("code"), severity=f.get("severity"), subject=subject, status=f.get("status")
    )


def _disclosures(cur: Any, rctx: ReadContext, subject: str | None, f: dict[str, Any]) -> Any:
    from projections.disclosures import list_disclosures

    return list_disclosures(cur, rctx, subject=subject)


def _ropa(cur: Any, rctx: ReadContext, subject: str | None, f: dict[str, Any]) -> Any:
    from projections.ropa import ropa_report

    return ropa_report(cur, rctx)


def _notices(cur: Any, rctx: ReadContext, subject: str | None, f: dict[str, Any]) -> Any:
    from projections.notices import list_notices

    return [r.to_json() for r in list_notices(cur, rctx, subject=subject, status=f.get("status"))]


def _retention(cur: Any, rctx: ReadContext, subject: str | None, f: dict[str, Any]) -> Any:
    from projections.retention import list_retention

    return [r.to_json() for r in list_retention(cur, rctx, subject=subject, status=f.get("status"))]


def _reads(cur: Any, rctx: ReadContext, subject: str | None, f: dict[str, Any]) -> Any:
    from projections.reads import list_reads

    return list_reads(cur, rctx, subject=subject, actor=f.get("actor"))


def _per_subject(fn_name: str) -> Callable[[Any, ReadContext, str | None, dict[str, Any]], Any]:
    def handler(cur: Any, rctx: ReadContext, subject: str | None, f: dict[str, Any]) -> Any:
        if subject is None:
            raise ProjectionError(f"the {fn_name.replace('_', ' ')} query needs --subject")
        from projections import subject as per_subject

        return getattr(per_subject, fn_name)(cur, rctx, subject)

    return handler


_HANDLERS: dict[str, Callable[[Any, ReadContext, str | None, dict[str, Any]], Any]] = {
    "requests": _requests,
    "complaints": _complaints,
    "alerts": _alerts,
    "disclosures": _disclosures,
    "ropa": _ropa,
    "notices": _notices,
    "retention": _retention,
    "reads": _reads,
    "inventory": _per_subject("subject_inventory"),
    "consent": _per_subject("consent_state"),
    "portability": _per_subject("portability"),
}
