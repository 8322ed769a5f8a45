"""Logging in and out (browser sessions), who am I, liveness, and the admin's user and token lists."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from ledger.domain.timeutil import format_instant
from ledger.web.context import WebContext
from ledger.web.gate import session_cookie_name
from ledger.web.identity import MAX_PASSWORD_CHARS, Principal
from ledger.web.params import invalid
from ledger.web.problems import Problem
from ledger.web.sessions import csrf_token

__all__ = [
    "Credentials",
    "add_auth_routes",
    "clear_session_cookie",
    "require_https_for_sessions",
    "set_session_cookie",
    "start_session",
]


class Credentials(BaseModel):
    """A login: JSON, or an HTML form (application/x-www-form-urlencoded) with the same fields."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_CHARS)


def _web(request: Request) -> WebContext:
    web: WebContext = request.app.state.web
    return web


def _me(principal: Principal) -> dict[str, Any]:
    out: dict[str, Any] = {
        **principal.user.as_dict(),
        "acting_role": str(principal.role),
        "via": principal.via,
    }
    if principal.token_id is not None:
        out["token_id"] = principal.token_id
    if principal.session_id is not None:
        out["csrf_token"] = csrf_token(principal.session_id)
    return out


def livez() -> dict[str, str]:
    """The process answers (no database, no data): for the proxy's and orchestrator's probes."""
    return {"status": "ok"}


async def _credentials(request: Request) -> Credentials:
    body = await request.body()
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    raw: Any
    if kind == "application/x-www-form-urlencoded":
        fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=10)
        raw = {k: v[0] for k, v in fields.items() if k in Credentials.model_fields}
    elif kind == "application/json":
        try:
            raw = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise Problem(400, "MALFORMED_JSON", "the body is not JSON") from None
    else:
        raise Problem(415, "INVALID_VALUE", "send application/json or application/x-www-form-urlencoded")
    try:
        return Credentials.model_validate(raw)
    except ValidationError as exc:
        missing = any(e["type"] == "missing" for e in exc.errors())
        raise invalid(
            422,
            "MISSING_FIELD" if missing else "INVALID_VALUE",
            "body",
            "username, password",
            f"both are required strings (a password of at most {MAX_PASSWORD_CHARS} characters)",
        ) from None


def require_https_for_sessions(request: Request) -> None:
    """Refuse (403 HTTPS_REQUIRED) to start a session over plain HTTP unless LEDGER_WEB_ALLOW_HTTP is on."""
    if request.url.scheme != "https" and not _web(request).settings.web_allow_http:
        raise Problem(403, "HTTPS_REQUIRED", "log in over HTTPS (LEDGER_WEB_ALLOW_HTTP is for development)")


async def start_session(request: Request, given: Credentials) -> tuple[Principal, datetime]:
    """Check a login (rate limit, password) and start a session: its principal and expiry. Raises
    RATE_LIMITED (429) or INVALID_CREDENTIALS (401) problems."""
    web = _web(request)
    address = request.client.host if request.client else "-"
    wait = await run_in_threadpool(web.limiter.retry_after, given.username, address)
    if wait:
        raise Problem(429, "RATE_LIMITED", f"try again in {wait} seconds", headers={"Retry-After": str(wait)})
    user = await run_in_threadpool(web.directory.check_password, given.username, given.password)
    if user is None:
        await run_in_threadpool(web.limiter.failed, given.username, address)
        raise Problem(
            401, "INVALID_CREDENTIALS", "the user name or password is wrong, or the user is disabled"
        )
    await run_in_threadpool(web.limiter.succeeded, given.username)
    session_id, expires = await run_in_threadpool(web.sessions.start, user.user_id)
    return Principal(user=user, role=user.role, via="session", session_id=session_id), expires


def set_session_cookie(response: Response, request: Request, session_id: str) -> None:
    """Give the browser its session cookie: HttpOnly, SameSite=Strict, Secure over HTTPS."""
    response.set_cookie(
        session_cookie_name(request.url.scheme),
        session_id,
        max_age=_web(request).settings.web_session_seconds,
        path="/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )


def clear_session_cookie(response: Response, request: Request) -> None:
    """Tell the browser to drop its session cookie."""
    response.delete_cookie(
        session_cookie_name(request.url.scheme),
        path="/",
        secure=request.url.scheme == "https",
        httponly=True,
        samesite="strict",
    )


async def login(request: Request) -> JSONResponse:
    """Start a browser session: an HttpOnly, Secure, SameSite=Strict cookie, and the session's CSRF
    token to send back in X-CSRF-Token (or a csrf_token form field) with every POST. Over plain HTTP only
    when LEDGER_WEB_ALLOW_HTTP is on. Failed logins pause for a while after too many (429)."""
    require_https_for_sessions(request)
    given = await _credentials(request)
    principal, expires = await start_session(request, given)
    assert principal.session_id is not None
    response = JSONResponse({**_me(principal), "session_expires_at": format_instant(expires)})
    set_session_cookie(response, request, principal.session_id)
    return response


async def logout(request: Request) -> Response:
    """End the browser session (for a token nothing changes: `privacy-ledger tokens revoke` ends one)."""
    principal: Principal = request.state.principal
    if principal.session_id is not None:
        await run_in_threadpool(_web(request).sessions.end, principal.session_id)
    response = Response(status_code=204)
    clear_session_cookie(response, request)
    return response


def me(request: Request) -> dict[str, Any]:
    """The signed-in user: name, role (and the role its token acts with), expiry, a regulator's cases,
    and for a browser session its CSRF token."""
    principal: Principal = request.state.principal
    return _me(principal)


def list_users(request: Request) -> list[dict[str, Any]]:
    """Every staff user (no secret)."""
    return [u.as_dict() for u in _web(request).directory.list_users()]


def list_tokens(request: Request) -> list[dict[str, Any]]:
    """Every API token (no secret), newest first."""
    return [t.as_dict() for t in _web(request).directory.list_tokens()]


_LOGIN_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Credentials"}},
            "application/x-www-form-urlencoded": {"schema": {"$ref": "#/components/schemas/Credentials"}},
        },
    }
}


def add_auth_routes(router: APIRouter) -> None:
    """Add liveness, login, logout, me, and the admin lists."""
    router.add_api_route("/livez", livez, methods=["GET"], name="livez", summary="Liveness", tags=["service"])
    router.add_api_route(
        "/login",
        login,
        methods=["POST"],
        name="login",
        summary="Log in (browser session)",
        description=login.__doc__,
        openapi_extra=_LOGIN_BODY,
        responses={
            401: {"description": "INVALID_CREDENTIALS"},
            403: {"description": "HTTPS_REQUIRED or CSRF_FAILED (another site's form)"},
            413: {"description": "PAYLOAD_TOO_LARGE"},
            415: {"description": "INVALID_VALUE: not JSON or a form"},
            422: {"description": "MISSING_FIELD or INVALID_VALUE"},
            429: {"description": "RATE_LIMITED (Retry-After says when to try again)"},
        },
        tags=["session"],
    )
    router.add_api_route(
        "/logout",
        logout,
        methods=["POST"],
        name="logout",
        summary="Log out",
        description=logout.__doc__,
        status_code=204,
        response_class=Response,
        tags=["session"],
    )
    router.add_api_route(
        "/api/v1/me",
        me,
        methods=["GET"],
        name="me",
        summary="Who am I",
        description=me.__doc__,
        tags=["session"],
    )
    router.add_api_route(
        "/api/v1/users", list_users, methods=["GET"], name="list_users", summary="Staff users", tags=["admin"]
    )
    router.add_api_route(
        "/api/v1/tokens",
        list_tokens,
        methods=["GET"],
        name="list_tokens",
        summary="API tokens",
        tags=["admin"],
    )
