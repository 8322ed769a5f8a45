"""What every page handler shares: the service context, who is signed in, the navigation its role may
see, status messages, paging, and the view query with its errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Final
from urllib.parse import urlencode

from fastapi import Query, Request
from fastapi.responses import Response

from ledger.domain.timeutil import format_instant
from ledger.web.access import ACCESS
from ledger.web.context import WebContext
from ledger.web.identity import Principal
from ledger.web.pages.render import Chrome, NavItem, render
from ledger.web.params import parse_as_of
from ledger.web.problems import Problem
from ledger.web.sessions import csrf_token
from projections.base import ProjectionError
from projections.query_options import QueryUsageError, UnknownSubjectError

__all__ = [
    "AsOfParam",
    "DoneParam",
    "PageParam",
    "Pager",
    "chrome",
    "context",
    "list_page",
    "paginate",
    "principal",
    "query_inventory",
    "query_view",
]

# The main navigation: (route name, label, href); a user sees the entries its role may open.
NAV: Final = (
    ("ui_dashboard", "Dashboard", "/ui/dashboard"),
    ("ui_requests", "Rights requests", "/ui/requests"),
    ("ui_subject_lookup", "Subjects", "/ui/subjects"),
    ("ui_alerts", "Alerts", "/ui/alerts"),
    ("ui_complaints", "Complaints", "/ui/complaints"),
    ("ui_disclosures", "Disclosures and transfers", "/ui/disclosures"),
    ("ui_ropa", "Record of processing", "/ui/ropa"),
    ("ui_retention", "Retention", "/ui/retention"),
    ("ui_notices", "Privacy notices", "/ui/notices"),
    ("ui_dead_letters", "Dead letters", "/ui/dead-letters"),
    ("ui_reads", "Read audit", "/ui/reads"),
    ("ui_exports", "Regulator exports", "/ui/exports"),
    ("ui_admin", "Users and tokens", "/ui/admin"),
)

# Status messages after an action (a code in the query string: never a value).
NOTICES: Final[Mapping[str, str]] = {
    "signed_in": "You are signed in.",
    "alert_acknowledged": "The alert was acknowledged. The record is in the ledger.",
    "alert_resolved": "The alert was resolved. The record is in the ledger.",
    "step_recorded": "The step was recorded in the ledger; the clock below includes it.",
    "complaint_acknowledged": "The complaint was acknowledged. The record is in the ledger.",
    "hold_placed": "The legal hold was placed. Erasure of its categories is deferred while it stands.",
    "hold_released": "The legal hold was released. Erasure deferred by it now runs.",
    "erased": "The erasure was recorded: the data keys are destroyed and the values can no longer be read.",
    "erasure_deferred": "The erasure was recorded, but a legal hold defers it for some categories: "
    "their keys are destroyed when the hold is released.",
    "already_recorded": "This form had already been sent: nothing new was recorded.",
}

AsOfParam = Annotated[
    str | None,
    Query(description="the instant shown (RFC 3339 with an offset; default now)", max_length=64),
]
PageParam = Annotated[int, Query(ge=1, le=100_000, description="page number, from 1")]
DoneParam = Annotated[
    str | None, Query(description="the status message to show after an action (a code)", max_length=64)
]


def web_of(request: Request) -> WebContext:
    """The service context."""
    web: WebContext = request.app.state.web
    return web


def principal(request: Request) -> Principal:
    """The signed-in user (the gate has authenticated every non-public route)."""
    who: Principal = request.state.principal
    return who


def may_open(who: Principal, route: str) -> bool:
    """True if the principal's role may open the route ``route`` (by the access table)."""
    access = ACCESS.get(route)
    return access is not None and who.role in access.roles


def chrome(
    request: Request, section: str, *, done: str | None = None, as_of: datetime | None = None
) -> Chrome:
    """The page chrome for the signed-in user, ``section`` (a route name) marked current in the nav."""
    who = principal(request)
    nav = [NavItem(label, href, name == section) for name, label, href in NAV if may_open(who, name)]
    return Chrome(
        username=who.user.username,
        role=str(who.role),
        nav=nav,
        csrf_token=None if who.session_id is None else csrf_token(who.session_id),
        notice=NOTICES.get(done or ""),
        as_of=as_of,
    )


def context(request: Request, as_of: str | None) -> tuple[WebContext, datetime]:
    """The service context and the instant the page answers for (``as_of`` or now)."""
    web = web_of(request)
    return web, parse_as_of(as_of) or web.now()


def query_view(
    web: WebContext, view: str, at: datetime, *, subject: str | None = None, **filters: Any
) -> Any:
    """One view's answer, as the API asks it; errors as problems (shown as HTML pages)."""
    return _answer(web, view, at, subject, {k: v for k, v in filters.items() if v}, values=True)


def query_inventory(web: WebContext, at: datetime, subject: str, *, values: bool) -> Any:
    """A subject's inventory (spec 6.1); ``values=False``: without its personal values, no data key
    opened. Errors as :func:`query_view`'s."""
    return _answer(web, "inventory", at, subject, {}, values=values)


def _answer(
    web: WebContext, view: str, at: datetime, subject: str | None, filters: dict[str, Any], *, values: bool
) -> Any:
    try:
        return web.query(view, as_of=at, subject=subject, filters=filters, values=values)
    except UnknownSubjectError:
        raise Problem(404, "UNKNOWN_SUBJECT", "the ledger holds no event for this subject") from None
    except QueryUsageError:
        raise Problem(422, "INVALID_VALUE", "a filter is not valid for this view") from None
    except ProjectionError:
        raise Problem(
            503, "VIEWS_NOT_BUILT", "run `privacy-ledger project` (the views are not ready)"
        ) from None


@dataclass(frozen=True)
class Pager:
    """Where a list page is: its number, the number of pages, the rows in all, links to the others."""

    page: int
    pages: int
    total: int
    first_row: int
    last_row: int
    previous_href: str | None
    next_href: str | None


def paginate(
    request: Request, rows: Sequence[Any], page: int, size: int, at: datetime
) -> tuple[Sequence[Any], Pager]:
    """One page of ``rows``; the links keep the filters and pin the instant, so pages never shift."""
    pages = max(1, -(-len(rows) // size))
    page = min(page, pages)
    start = (page - 1) * size
    shown = rows[start : start + size]
    kept = {k: v for k, v in request.query_params.items() if k not in ("page", "as_of", "done")}
    kept["as_of"] = format_instant(at)

    def href(number: int) -> str:
        return f"{request.url.path}?{urlencode({**kept, 'page': str(number)})}"

    return shown, Pager(
        page=page,
        pages=pages,
        total=len(rows),
        first_row=start + 1 if shown else 0,
        last_row=start + len(shown),
        previous_href=href(page - 1) if page > 1 else None,
        next_href=href(page + 1) if page < pages else None,
    )


def list_page(
    request: Request,
    template: str,
    section: str,
    rows: Sequence[Any],
    page: int,
    at: datetime,
    *,
    done: str | None = None,
    **values: Any,
) -> Response:
    """One page of ``rows`` (``rows`` and ``pager`` in ``template``) inside the chrome of ``section``."""
    shown, pager = paginate(request, rows, page, web_of(request).settings.web_page_size, at)
    return render(
        template,
        chrome=chrome(request, section, done=done, as_of=at),
        rows=shown,
        pager=pager,
        **values,
    )
