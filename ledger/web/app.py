"""The staff service's ASGI app: routes, the gate, RFC 9457 errors and the OpenAPI 3.1 document.

``create_app(ledger)`` refuses to build an app in which a route has no entry in the access table (and
the app checks again when it starts, so a route added later does not start either).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute

from ledger.bootstrap import Ledger
from ledger.config import Settings
from ledger.web.access import ACCESS, UndeclaredRoute, check_declared
from ledger.web.context import WebContext
from ledger.web.gate import MAX_BODY_BYTES, MAX_QUERY_BYTES, SESSION_COOKIE, Gate
from ledger.web.pages.render import problem_response
from ledger.web.params import invalid
from ledger.web.problems import PROBLEM_SCHEMA, PROBLEM_TYPE, Problem, problem_body
from ledger.web.roles import Interface
from ledger.web.routes_actions import add_action_routes
from ledger.web.routes_auth import Credentials, add_auth_routes
from ledger.web.routes_ops import add_ops_routes
from ledger.web.routes_pages import add_page_routes
from ledger.web.routes_probes import add_probe_routes
from ledger.web.routes_views import add_view_routes

__all__ = ["check_routes", "create_app"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}", re.ASCII)
_DESCRIPTION = """The staff service of the privacy ledger: the compliance views (spec 6) as JSON pages and
CSV files, per-subject queries, regulator exports, ingestion health and dead letters.

Every route declares the roles it admits (`x-roles`); anything else is refused. Send an API token as
`Authorization: Bearer plt_...` (`privacy-ledger tokens create`) or log in (`POST /login`) for a
browser session; a session's POST needs its CSRF token in `X-CSRF-Token`. Routes marked
`x-audited-view` answer with decrypted personal values: they need a `reason`, and each answer is
recorded in the ledger as a `PersonalDataViewed` event before it is sent. Errors are RFC 9457
`application/problem+json` documents whose `detail` never repeats a value sent."""


def _version() -> str:
    try:
        return version("privacy-ledger")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
        return "0"


def _route_names(routes: Iterable[BaseRoute]) -> list[str]:
    return [str(getattr(r, "name", "")) for r in routes]


def _query_names(route: APIRoute) -> frozenset[str]:
    """The query parameters a route takes, its dependencies' included."""
    names: set[str] = set()
    todo: list[Dependant] = [route.dependant]
    while todo:
        dependant = todo.pop()
        names.update(str(p.alias) for p in dependant.query_params)
        todo.extend(dependant.dependencies)
    return frozenset(names)


def check_routes(routes: Iterable[BaseRoute]) -> None:
    """Refuse routes missing from the access table, and plaintext routes without a stated ``reason``
    (or other routes with one): raises :class:`UndeclaredRoute`."""
    routes = list(routes)
    check_declared(_route_names(routes))
    for route in routes:
        if isinstance(route, APIRoute):
            reveals = ACCESS[route.name].reveals is not None
            if reveals != ("reason" in _query_names(route)):
                raise UndeclaredRoute(
                    f"route {route.name}: a route revealing plaintext (and only such a route) takes `reason`"
                )


async def _known_parameters_only(request: Request) -> None:
    """A query parameter the route does not take is refused, as the CLI refuses an option (never
    silently ignored: a misspelt filter would read as "nothing matches"). ``async``: no I/O, so it runs on
    the event loop rather than taking a thread-pool turn on every request."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    allowed = _query_names(route)
    if any(name not in allowed for name in request.query_params):
        accepted = ", ".join(sorted(allowed)) or "no query parameter"
        raise invalid(422, "UNKNOWN_PARAMETER", "query", "query", f"this route takes: {accepted}")


def _problem_response(problem: Problem) -> Response:
    return Response(
        problem.body(), status_code=problem.status, headers=problem.headers, media_type=PROBLEM_TYPE
    )


def _is_page(request: Request) -> bool:
    """True for a request to a page route (or to a path under /ui/ that names none): errors as HTML."""
    route = request.scope.get("route")
    access = ACCESS.get(str(getattr(route, "name", "")))
    if access is not None:
        return access.interface is Interface.WEB
    return request.url.path.startswith("/ui/")


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    if _is_page(request):
        return problem_response(exc)
    return _problem_response(exc)


_VALIDATION = {
    "missing": ("MISSING_FIELD", "is required"),
    "int_parsing": ("INVALID_VALUE", "must be a whole number"),
    "int_type": ("INVALID_VALUE", "must be a whole number"),
    "bool_parsing": ("INVALID_VALUE", "must be true or false"),
    "bool_type": ("INVALID_VALUE", "must be true or false"),
    "string_type": ("INVALID_VALUE", "must be a string"),
    "json_invalid": ("MALFORMED_JSON", "is not valid JSON"),
    # request bodies (staff actions): the name of a field the body does not take is not repeated
    "extra_forbidden": ("INVALID_VALUE", "holds a field this body does not take"),
    "union_tag_invalid": ("UNKNOWN_CODE", "step is not one this route takes"),
    "union_tag_not_found": ("MISSING_FIELD", "step is required"),
    "list_type": ("INVALID_VALUE", "must be a list"),
    "model_attributes_type": ("INVALID_VALUE", "must be a JSON object"),
    "model_type": ("INVALID_VALUE", "must be a JSON object"),
    "dict_type": ("INVALID_VALUE", "must be a JSON object"),
    "too_short": ("INVALID_VALUE", "has too few items"),
    "too_long": ("INVALID_VALUE", "has too many items"),
}


def _validation_detail(error: dict[str, Any]) -> tuple[str, str]:
    kind, ctx = str(error.get("type", "")), error.get("ctx") or {}
    if kind in _VALIDATION:
        return _VALIDATION[kind]
    if kind == "greater_than_equal":
        return "INVALID_VALUE", f"must be at least {ctx.get('ge')}"
    if kind == "less_than_equal":
        return "INVALID_VALUE", f"must be at most {ctx.get('le')}"
    if kind == "string_too_long":
        return "INVALID_VALUE", f"must be at most {ctx.get('max_length')} characters"
    if kind == "string_too_short":
        return "INVALID_VALUE", f"must be at least {ctx.get('min_length')} characters"
    return "INVALID_VALUE", "is not valid here"


async def _on_validation(request: Request, exc: Exception) -> Response:
    """422 naming each parameter at fault and what it accepts: never the value sent."""
    assert isinstance(exc, RequestValidationError)
    errors = []
    for error in exc.errors():
        loc = [str(p) for p in error.get("loc", ())]
        where = loc[0] if loc and loc[0] in ("query", "path", "body", "header", "cookie") else "query"
        # The innermost named field (a list index is not one); never the name of a field not taken.
        named = [] if error.get("type") == "extra_forbidden" else [p for p in loc[1:] if _NAME.fullmatch(p)]
        name = named[-1] if named else where
        code, detail = _validation_detail(error)
        errors.append({"in": where, "name": name, "code": code, "detail": detail})
    first = errors[0] if errors else {"code": "INVALID_VALUE", "name": "request", "detail": "is not valid"}
    if _is_page(request):
        return problem_response(Problem(422, str(first["code"]), f"{first['name']}: {first['detail']}"))
    body = problem_body(422, str(first["code"]), f"{first['name']}: {first['detail']}", errors=errors)
    return Response(body, status_code=422, media_type=PROBLEM_TYPE)


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    codes = {404: ("NOT_FOUND", "no such route"), 405: ("METHOD_NOT_ALLOWED", "see /openapi.json")}
    code, detail = codes.get(exc.status_code, ("INVALID_VALUE", "the request cannot be handled"))
    if _is_page(request):
        return problem_response(Problem(exc.status_code, code, detail))
    body = problem_body(exc.status_code, code, detail)
    return Response(body, status_code=exc.status_code, headers=exc.headers, media_type=PROBLEM_TYPE)


def _problem_content() -> dict[str, Any]:
    return {PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI 3.1 document, with the access table, security schemes and problem responses."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version="3.1.0",
        description=app.description,
        routes=app.routes,
    )
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for generated in ("HTTPValidationError", "ValidationError"):
        schemas.pop(generated, None)
    schemas["Problem"] = dict(PROBLEM_SCHEMA)
    schemas["Credentials"] = Credentials.model_json_schema()
    doc["components"]["securitySchemes"] = {
        "bearerAuth": {"type": "http", "scheme": "bearer", "description": "an API token, plt_<id>_<secret>"},
        "sessionCookie": {
            "type": "apiKey",
            "in": "cookie",
            "name": SESSION_COOKIE,
            "description": "POST /login",
        },
    }
    for ops in doc.get("paths", {}).values():
        for method, op in ops.items():
            access = ACCESS[op["operationId"]]
            op["x-roles"] = ["public"] if access.public else sorted(str(r) for r in access.roles)
            if access.reveals is not None:
                op["x-audited-view"] = str(access.reveals)
            op["security"] = [] if access.public else [{"bearerAuth": []}, {"sessionCookie": []}]
            responses = op.setdefault("responses", {})
            standard = {"414": "URI_TOO_LONG", "500": "INTERNAL_ERROR"}
            if op.get("parameters") or method != "get":
                standard["422"] = (
                    "a parameter is not valid: INVALID_UUID, UNKNOWN_CODE, INVALID_TIMESTAMP, "
                    "INVALID_VALUE, MISSING_FIELD, UNKNOWN_PARAMETER or INVALID_CURSOR"
                )
            page = access.interface is Interface.WEB
            if not access.public and page:
                responses.setdefault("303", {})["description"] = (
                    "to the next page; without a valid session, to /ui/login?next=<this page>"
                )
            elif not access.public:
                standard["401"] = (
                    "UNAUTHENTICATED: no, unknown, expired or revoked credentials; a disabled user"
                )
            if not access.public:
                standard["403"] = (
                    "FORBIDDEN (role), OUT_OF_SCOPE (a regulator's cases), HTTPS_REQUIRED, CSRF_FAILED"
                )
            if method != "get":
                standard["413"] = f"PAYLOAD_TOO_LARGE: a body over {MAX_BODY_BYTES} bytes"
            for status, text in standard.items():
                responses.setdefault(status, {})["description"] = text
            for status, response in responses.items():
                if status[0] in "45":
                    # A page answers its errors as an HTML page naming the code (data-problem).
                    response["content"] = (
                        {"text/html": {"schema": {"type": "string"}}} if page else _problem_content()
                    )
                    response.setdefault("description", "see the problem's code")
    doc["info"]["x-limits"] = {"query_string_bytes": MAX_QUERY_BYTES, "body_bytes": MAX_BODY_BYTES}
    app.openapi_schema = doc
    return doc


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    check_routes(app.routes)  # a route added after create_app does not start either
    yield


def create_app(ledger: Ledger, settings: Settings | None = None) -> FastAPI:
    """The staff service over an open ledger (its own tables are created if missing)."""
    settings = settings or ledger.settings
    web = WebContext(ledger, settings)
    web.directory.ensure_tables()
    app = FastAPI(
        title="Privacy Ledger staff API",
        version=_version(),
        description=_DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url=None,  # Swagger UI and ReDoc load scripts from a CDN: not served
        redoc_url=None,
        lifespan=_lifespan,
        dependencies=[Depends(_known_parameters_only)],
        generate_unique_id_function=lambda route: route.name,
    )
    app.state.web = web
    # Added to the app's own router (not included routers), so every route is one entry of app.routes.
    add_auth_routes(app.router)
    add_probe_routes(app.router)
    add_view_routes(app.router, settings)
    add_ops_routes(app.router, settings)
    add_action_routes(app.router, settings)
    add_page_routes(app.router, settings)
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(HTTPException, _on_http)
    app.add_middleware(Gate, web=web, routes=app.router.routes)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    check_routes(app.routes)
    return app
