"""The compliance views (spec 6) as JSON pages and CSV downloads, and the per-subject queries.

Each route is a thin door onto ``projections.service.Projections.query``, with the filters, names and
``as_of`` of ``privacy-ledger query`` (the options each view takes come from
``projections.query_options.QUERY_OPTIONS``). A list answers one page at a time; its CSV is the
whole list at one instant.
"""

# No ``from __future__ import annotations`` here: FastAPI reads the annotations of the route functions
# made in closures below, and string annotations could not see the closures' local names.

import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from ledger.config import Settings
from ledger.domain.timeutil import format_instant
from ledger.web.access import LIST_VIEWS
from ledger.web.context import WebContext
from ledger.web.paging import Cursor, csv_rows, filters_digest, page, page_at
from ledger.web.params import UUID_EXAMPLE, AsOf, check_code, check_uuid, invalid, parse_as_of, stated_reason
from ledger.web.problems import Problem
from ledger.web.roles import ReadReason
from projections.base import ProjectionError
from projections.paging import CursorError, Page
from projections.query_options import (
    PAGE_OPTIONS,
    QUERY_OPTIONS,
    QueryUsageError,
    UnknownSubjectError,
    accepted_values,
    check_actor_ref,
)

__all__ = ["ViewPage", "add_view_routes"]

_SECTIONS = {
    "requests": "6.4 rights-request queue (overdue first, then by due date)",
    "complaints": "6.10 complaints queue",
    "alerts": "6.5 alerts (the 26 compliance rules)",
    "disclosures": "6.2 disclosure register",
    "ropa": "6.6 Article 30 record, one row per purpose (the controller header beside the rows)",
    "notices": "6.9 Art 13/14 notice obligations",
    "retention": "6.7 retention and erasure obligations",
    "reads": "8 read trail: every recorded plaintext read (who, when, which subject, why), newest first",
}
_FILTER_DOCS = {
    "subject": "a subject id (UUID); merged subjects resolve to their survivor",
    "include_closed": "include closed requests",
    "status": "filter by status",
    "code": "filter by alert code",
    "severity": "filter by severity",
    "actor": "reads: the actor_ref as recorded (a staff user's id, or cli:uid:N for the command line)",
}


class ViewPage(BaseModel):
    """One page of a view at one instant."""

    view: str
    as_of: str = Field(description="the instant answered (UTC); later pages keep it")
    limit: int
    items: list[dict[str, Any]] = Field(description="the view's rows, with the spec's column names")
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last")
    controller: dict[str, Any] | None = Field(default=None, description="ropa only: the controller header")


def _web(request: Request) -> WebContext:
    web: WebContext = request.app.state.web
    return web


def _json(content: Any) -> JSONResponse:
    """The answer as JSON without FastAPI's ``jsonable_encoder`` walk over every row: the views answer
    JSON-able values already, so the bytes are the same; anything ``json`` cannot encode still goes
    through the encoder."""
    try:
        return JSONResponse(content)
    except (TypeError, ValueError):
        return JSONResponse(jsonable_encoder(content))


def _query(
    web: WebContext, view: str, as_of: datetime, filters: dict[str, Any], *, values: bool = True
) -> Any:
    checked = dict(filters)
    subject = checked.pop("subject", None)
    with _problems():
        return web.query(view, as_of=as_of, subject=subject, filters=checked, values=values)


def _query_page(
    web: WebContext, view: str, as_of: datetime, filters: dict[str, Any], after: list[Any] | None, limit: int
) -> Page:
    checked = dict(filters)
    subject = checked.pop("subject", None)
    with _problems():
        return web.page(view, as_of=as_of, subject=subject, filters=checked, after=after, limit=limit)


@contextmanager
def _problems() -> Iterator[None]:
    """The query's errors as problems."""
    try:
        yield
    except UnknownSubjectError:
        raise Problem(404, "UNKNOWN_SUBJECT", "the ledger holds no event for this subject") from None
    except CursorError:
        raise invalid(
            422, "INVALID_CURSOR", "query", "cursor", "use the next_cursor of a page of this same query"
        ) from None
    except QueryUsageError:
        raise Problem(422, "INVALID_VALUE", "a filter is not valid for this view") from None
    except ProjectionError:
        raise Problem(
            503, "VIEWS_NOT_BUILT", "run `privacy-ledger project` (the views are not ready)"
        ) from None


def _filters(view: str) -> Callable[..., dict[str, Any]]:
    """The dependency reading the filters ``view`` takes (as the CLI's options), checked."""
    options = [o for o in QUERY_OPTIONS[view] if o not in PAGE_OPTIONS]
    params = []
    for option in options:
        allowed = accepted_values(view, option)
        doc = _FILTER_DOCS[option]
        if option == "include_closed":
            params.append(
                inspect.Parameter(
                    option,
                    inspect.Parameter.KEYWORD_ONLY,
                    default=Query(False, description=doc),
                    annotation=bool,
                )
            )
            continue
        extra: dict[str, Any] = {"enum": list(allowed)} if allowed else {}
        if allowed:
            doc += f": one of {', '.join(allowed)} (any case)"
        query = Query(None, description=doc, max_length=64, json_schema_extra=extra or None)
        params.append(
            inspect.Parameter(option, inspect.Parameter.KEYWORD_ONLY, default=query, annotation=str | None)
        )

    def dependency(**given: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if given.get("subject") is not None:
            out["subject"] = check_uuid("subject", given["subject"], "query")
        if given.get("actor") is not None:
            try:
                out["actor"] = check_actor_ref(given["actor"])
            except QueryUsageError:
                raise invalid(
                    422, "INVALID_VALUE", "query", "actor", "must be a staff user's id (a UUID) or cli:uid:N"
                ) from None
        for option in ("status", "code", "severity"):
            if given.get(option) is not None:
                out[option] = check_code(view, option, given[option])
        if given.get("include_closed"):
            out["include_closed"] = True
        return out

    dependency.__signature__ = inspect.Signature(params, return_annotation=dict)  # type: ignore[attr-defined]
    dependency.__name__ = f"{view}_filters"
    return dependency


def _list_routes(router: APIRouter, view: str, settings: Settings) -> None:
    filters_of = _filters(view)
    most = settings.web_max_page_size
    errors: dict[int | str, dict[str, Any]] = {404: {"description": "UNKNOWN_SUBJECT: `subject` is unknown"}}

    def list_view(
        request: Request,
        filters: Annotated[dict[str, Any], Depends(filters_of)],
        as_of: AsOf = None,
        cursor: Annotated[
            str | None, Query(description="the `next_cursor` of the page before", max_length=512)
        ] = None,
        limit: Annotated[
            int | None,
            Query(
                ge=1, le=most, description=f"rows per page, 1 to {most} (default {settings.web_page_size})"
            ),
        ] = None,
    ) -> JSONResponse:
        web = _web(request)
        digest = filters_digest(view, filters)
        at, offset, after = parse_as_of(as_of), 0, None
        if cursor is not None:
            following = Cursor.decode(cursor, view, digest)
            if at is not None and at != following.as_of:
                raise invalid(422, "INVALID_CURSOR", "query", "cursor", "as_of differs from the cursor's")
            at, offset, after = following.as_of, following.offset, following.position
        at = at or web.now()
        size = limit or settings.web_page_size
        if view == "ropa":
            answer = _query(web, view, at, filters)
            result = page(answer["purposes"], view=view, digest=digest, as_of=at, offset=offset, limit=size)
            result["controller"] = answer["controller"]
        else:
            # Read from the position on (projections.paging): the lists kept in their order read only
            # the page's rows; only the page's rows get their per-row extras (eligible items).
            if after is None and offset:
                after = ["o", offset]  # a cursor issued before positions: an offset
            found = _query_page(web, view, at, filters, after, size)
            result = page_at(found.rows, found.after, view=view, digest=digest, as_of=at, limit=size)
        return _json(result)

    def list_view_csv(
        request: Request, filters: Annotated[dict[str, Any], Depends(filters_of)], as_of: AsOf = None
    ) -> StreamingResponse:
        web = _web(request)
        at = parse_as_of(as_of) or web.now()
        answer = _query(web, view, at, filters)
        rows: list[dict[str, Any]] = answer["purposes"] if view == "ropa" else answer
        columns: list[str] = []
        for row in rows:
            columns.extend(k for k in row if k not in columns)
        stamp = format_instant(at)[:19].replace(":", "")
        return StreamingResponse(
            csv_rows(rows, columns),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{view}-{stamp}Z.csv"'},
        )

    section = _SECTIONS[view]
    router.add_api_route(
        f"/api/v1/{view}",
        list_view,
        methods=["GET"],
        name=f"list_{view}",
        summary=f"The {view} view, one page",
        description=f"Spec {section}. Same rows, filters and as_of as `privacy-ledger query {view}`.",
        response_model=None,
        responses={200: {"model": ViewPage}, **errors},
        tags=["views"],
    )
    router.add_api_route(
        f"/api/v1/{view}.csv",
        list_view_csv,
        methods=["GET"],
        name=f"list_{view}_csv",
        summary=f"The {view} view as CSV",
        description=f"Spec {section}: every row at as_of, one CSV file (nested values as JSON text; cells "
        "that a spreadsheet would run as a formula start with a quote).",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/csv": {"schema": {"type": "string"}}}}, **errors},
        tags=["views"],
    )


SubjectId = Annotated[str, Path(description="the subject's ledger-scoped UUID", examples=[UUID_EXAMPLE])]
_SUBJECT_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "UNKNOWN_SUBJECT: the ledger holds no event for this subject"}
}


def _subject_answer(
    request: Request, view: str, subject_id: str, as_of: str | None, *, values: bool = True
) -> dict[str, Any]:
    web = _web(request)
    subject = check_uuid("subject_id", subject_id)
    at = parse_as_of(as_of) or web.now()
    answer: dict[str, Any] = _query(web, view, at, {"subject": subject}, values=values)
    return {"as_of": format_instant(at), **answer}


def subject_inventory(request: Request, subject_id: SubjectId, as_of: AsOf = None) -> JSONResponse:
    """Spec 6.1 without plaintext: every item's skeleton; an available value is withheld."""
    # No value is read or decrypted and no key opened; `value_withheld` says where one is held.
    return _json(_subject_answer(request, "inventory", subject_id, as_of, values=False))


def subject_inventory_plaintext(
    request: Request,
    subject_id: SubjectId,
    reason: Annotated[ReadReason, Depends(stated_reason)],
    as_of: AsOf = None,
) -> JSONResponse:
    """Spec 6.1 with values decrypted (or erased): recorded in the ledger as a PersonalDataViewed."""
    return _json(_subject_answer(request, "inventory", subject_id, as_of))


def subject_consent(request: Request, subject_id: SubjectId, as_of: AsOf = None) -> JSONResponse:
    """Spec 6.3: consent per purpose, marketing preferences, direct-marketing suppression."""
    return _json(_subject_answer(request, "consent", subject_id, as_of))


def subject_portability(request: Request, subject_id: SubjectId, as_of: AsOf = None) -> JSONResponse:
    """Spec 6.11: the Art 20 eligible, non-erased (category, field) items."""
    return _json(_subject_answer(request, "portability", subject_id, as_of))


def add_view_routes(router: APIRouter, settings: Settings) -> None:
    """Add every view route (their page sizes come from the settings)."""
    for view in LIST_VIEWS:
        _list_routes(router, view, settings)
    for path, endpoint, name in (
        ("/api/v1/subjects/{subject_id}/inventory", subject_inventory, "subject_inventory"),
        (
            "/api/v1/subjects/{subject_id}/inventory/plaintext",
            subject_inventory_plaintext,
            "subject_inventory_plaintext",
        ),
        ("/api/v1/subjects/{subject_id}/consent", subject_consent, "subject_consent"),
        ("/api/v1/subjects/{subject_id}/portability", subject_portability, "subject_portability"),
    ):
        plaintext = name.endswith("plaintext")
        router.add_api_route(
            path,
            endpoint,
            methods=["GET"],
            name=name,
            response_model=dict[str, Any],  # what the OpenAPI document says; the route answers JSON itself
            summary=(endpoint.__doc__ or name).split(":")[0].split(".")[0],
            description=endpoint.__doc__,
            responses={
                **_SUBJECT_ERRORS,
                **(
                    {503: {"description": "AUDIT_UNAVAILABLE: the read could not be recorded"}}
                    if plaintext
                    else {}
                ),
            },
            tags=["subjects"],
        )
