"""The staff pages (``/ui/...``): server-rendered HTML, no JavaScript, one stylesheet.

Every page route is declared in the access table with ``interface=Interface.WEB``: the gate answers
its errors as HTML pages and sends a browser without a session to the login page. The handlers live in
``ledger.web.pages``; this module only lists the routes.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib.resources import files
from typing import Any, Final

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from ledger.config import Settings
from ledger.web.pages import exports, forms, overview, queue, registers, session, subjects

__all__ = ["PAGE_ROUTES", "add_page_routes"]

_HTML: Final[dict[int | str, dict[str, Any]]] = {
    200: {"content": {"text/html": {"schema": {"type": "string"}}}}
}
_REDIRECT: Final[dict[int | str, dict[str, Any]]] = {303: {"description": "to the next page"}}
_FORM_BODY: Final[dict[str, Any]] = {
    "requestBody": {
        "required": True,
        "content": {"application/x-www-form-urlencoded": {"schema": {"type": "object"}}},
    }
}

# (path, method, route name, handler, what the route answers): GET pages answer HTML, POST forms 303.
PAGE_ROUTES: Final[tuple[tuple[str, str, str, Callable[..., Any]], ...]] = (
    ("/ui/login", "GET", "ui_login_form", session.login_form),
    ("/ui/login", "POST", "ui_login", session.login_submit),
    ("/ui/logout", "POST", "ui_logout", session.logout),
    ("/ui/", "GET", "ui_home", session.home),
    ("/ui/dashboard", "GET", "ui_dashboard", overview.dashboard),
    ("/ui/requests", "GET", "ui_requests", queue.request_queue),
    ("/ui/requests/{request_id}", "GET", "ui_request", queue.request_detail),
    ("/ui/subjects", "GET", "ui_subject_lookup", subjects.subject_lookup),
    ("/ui/subjects", "POST", "ui_subject_open", subjects.subject_open),
    ("/ui/subjects/{subject_id}", "GET", "ui_subject", subjects.subject_page),
    ("/ui/subjects/{subject_id}/plaintext", "GET", "ui_subject_plaintext", subjects.subject_plaintext),
    ("/ui/alerts", "GET", "ui_alerts", registers.alerts),
    ("/ui/alerts/{alert_id}", "GET", "ui_alert", registers.alert_detail),
    ("/ui/complaints", "GET", "ui_complaints", registers.complaints),
    ("/ui/disclosures", "GET", "ui_disclosures", registers.disclosures),
    ("/ui/ropa", "GET", "ui_ropa", registers.ropa),
    ("/ui/retention", "GET", "ui_retention", registers.retention),
    ("/ui/notices", "GET", "ui_notices", registers.notices),
    ("/ui/dead-letters", "GET", "ui_dead_letters", registers.dead_letters),
    ("/ui/reads", "GET", "ui_reads", registers.reads),
    # actions: POST forms with the session's CSRF token; 303 back to the page
    ("/ui/alerts/{alert_id}/acknowledge", "POST", "ui_alert_acknowledge", forms.acknowledge_alert),
    ("/ui/alerts/{alert_id}/resolve", "POST", "ui_alert_resolve", forms.resolve_alert),
    ("/ui/requests/{request_id}/steps", "POST", "ui_request_step", forms.record_step),
    (
        "/ui/complaints/{complaint_id}/acknowledge",
        "POST",
        "ui_complaint_acknowledge",
        forms.acknowledge_complaint,
    ),
    ("/ui/subjects/{subject_id}/holds", "POST", "ui_hold_place", forms.place_hold),
    ("/ui/subjects/{subject_id}/holds/{hold_id}/release", "POST", "ui_hold_release", forms.release_hold),
    ("/ui/subjects/{subject_id}/erase", "GET", "ui_erase_confirm", forms.erase_confirm),
    ("/ui/subjects/{subject_id}/erase", "POST", "ui_erase", forms.erase),
    ("/ui/exports", "GET", "ui_exports", exports.exports),
    ("/ui/exports/download", "POST", "ui_export_download", exports.export_download),
    ("/ui/admin", "GET", "ui_admin", overview.admin),
)


@cache
def _static(name: str) -> bytes:
    return (files("ledger.web") / "static" / name).read_bytes()


def stylesheet() -> Response:
    """The pages' one stylesheet (no script anywhere)."""
    return Response(
        _static("ledger.css"), media_type="text/css", headers={"Cache-Control": "public, max-age=300"}
    )


def icon() -> Response:
    """The pages' icon."""
    return Response(
        _static("favicon.svg"), media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"}
    )


def add_page_routes(router: APIRouter, settings: Settings) -> None:
    """Add every page route and the stylesheet."""
    for path, method, name, handler in PAGE_ROUTES:
        doc = (handler.__doc__ or name).strip()
        router.add_api_route(
            path,
            handler,
            methods=[method],
            name=name,
            summary=doc.split("\n")[0].split(":")[0].rstrip("."),
            description=doc,
            response_class=HTMLResponse,
            responses={
                **({} if method == "POST" else _HTML),
                **_REDIRECT,
                **({404: {"description": "no such subject, request, alert or hold"}} if "{" in path else {}),
            },
            openapi_extra=_FORM_BODY if method == "POST" else None,
            tags=["pages"],
        )
    router.add_api_route(
        "/ui/static/ledger.css",
        stylesheet,
        methods=["GET"],
        name="ui_stylesheet",
        summary="The pages' stylesheet",
        response_class=Response,
        responses={200: {"content": {"text/css": {"schema": {"type": "string"}}}}},
        tags=["static"],
    )
    router.add_api_route(
        "/ui/static/favicon.svg",
        icon,
        methods=["GET"],
        name="ui_icon",
        summary="The pages' icon",
        response_class=Response,
        responses={200: {"content": {"image/svg+xml": {"schema": {"type": "string"}}}}},
        tags=["static"],
    )
