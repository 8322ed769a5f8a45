"""The gate every request passes (ASGI middleware): authenticate, authorise against the access table,
check CSRF, and record each plaintext read before its answer leaves.

It finds the route a request will reach the way the router will (same route objects), so the one
table decides for every route, the OpenAPI document included; a request that reaches no route goes on
to the router's 404/405. Answers get security headers (no caching, no framing, no sniffing). The
access log names the route, never the path or query: a path or filter may hold a value typed in the
wrong place.
"""

from __future__ import annotations

import hmac
import logging
import time
import traceback
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.observability import observe_api_request
from ledger.web.access import ACCESS, Access
from ledger.web.context import WebContext
from ledger.web.identity import Principal
from ledger.web.pages.render import login_target, problem_page
from ledger.web.problems import Problem, problem_headers
from ledger.web.roles import Interface, ReadReason, Role
from ledger.web.sessions import csrf_token

__all__ = [
    "DEV_SESSION_COOKIE",
    "MAX_BODY_BYTES",
    "MAX_QUERY_BYTES",
    "SESSION_COOKIE",
    "Gate",
    "session_cookie_name",
]

log = logging.getLogger(__name__)
access_log = logging.getLogger("ledger.web.access")

SESSION_COOKIE = "__Host-ledger_session"  # HTTPS: the browser keeps it to this host, path /, Secure
DEV_SESSION_COOKIE = "ledger_session"  # plain HTTP in development (LEDGER_WEB_ALLOW_HTTP) only
MAX_BODY_BYTES = 64 * 1024
MAX_QUERY_BYTES = 4096
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
_SECURITY_HEADERS = (
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
)


def session_cookie_name(scheme: str) -> str:
    """The session cookie's name for a request made over ``scheme``."""
    return SESSION_COOKIE if scheme == "https" else DEV_SESSION_COOKIE


class Gate:
    """The ASGI middleware enforcing :data:`~ledger.web.access.ACCESS` on every route."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        web: WebContext,
        routes: Sequence[BaseRoute],
        table: Mapping[str, Access] = ACCESS,
    ) -> None:
        self.app = app
        self.web = web
        self.routes = routes
        self.table = table

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        sent: dict[str, Any] = {"status": 0}
        https = scope.get("scheme") == "https"

        async def secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                sent["status"] = message["status"]
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in _SECURITY_HEADERS if k not in present]
                if https:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message = {**message, "headers": headers}
            await send(message)

        route: dict[str, str] = {"name": "-"}
        try:
            await self._handle(scope, receive, secured, route)
        except Problem as problem:
            if not sent["status"]:
                await _answer(secured, problem, scope if route.get("page") else None)
        except Exception as exc:  # never a traceback to the client; no exception message in the log
            log.error(
                "unhandled %s in route %s:\n%s",
                type(exc).__name__,
                route["name"],
                "".join(traceback.format_tb(exc.__traceback__)),
            )
            if not sent["status"]:
                await _answer(secured, Problem(500, "INTERNAL_ERROR"), scope if route.get("page") else None)
        finally:
            elapsed = time.perf_counter() - started
            access_log.info(
                "%s %s -> %s (%.1f ms)", scope["method"], route["name"], sent["status"], elapsed * 1000
            )
            observe_api_request(route["name"], sent["status"], elapsed)

    def _match(self, scope: Scope) -> tuple[str, dict[str, Any]] | None:
        for route in self.routes:
            match, child = route.matches(scope)
            if match is Match.FULL:
                return str(getattr(route, "name", "")), dict(child.get("path_params", {}))
        return None

    async def _handle(self, scope: Scope, receive: Receive, send: Send, route: dict[str, str]) -> None:
        found = self._match(scope)
        if found is None:
            await self.app(scope, receive, send)  # the router's 404 or 405, as a problem
            return
        name, params = found
        route["name"] = name
        access = self.table.get(name)
        if access is None:  # cannot happen once the app started (check_declared); deny all the same
            raise Problem(403, "FORBIDDEN", "this route declares no role")
        if access.interface is Interface.WEB:
            route["page"] = "1"  # a browser's page: errors answer as HTML, no session goes to the login
        if len(scope.get("query_string", b"")) > MAX_QUERY_BYTES:
            raise Problem(414, "URI_TOO_LONG", f"the query string may hold at most {MAX_QUERY_BYTES} bytes")
        body = await _read_body(scope, receive)
        headers = Headers(scope=scope)
        if access.public:
            if scope["method"] not in _SAFE:
                _check_origin(scope, headers)
        else:
            principal = await self._authenticate(scope, headers)
            _authorise(principal, access, params)
            if principal.via == "session" and scope["method"] not in _SAFE:
                _check_csrf(scope, headers, body, principal)
            scope.setdefault("state", {})["principal"] = principal
        replay = receive if scope["method"] in _SAFE else _replay(body, receive)
        if access.reveals is None:
            await self.app(scope, replay, send)
            return
        await self._reveal(scope, replay, send, access, params)

    async def _authenticate(self, scope: Scope, headers: Headers) -> Principal:
        bearer = {"WWW-Authenticate": 'Bearer realm="privacy-ledger"'}
        authorization = headers.get("authorization")
        if authorization is not None:
            kind, _, credential = authorization.partition(" ")
            if kind.lower() != "bearer" or not credential.strip():
                raise Problem(401, "UNAUTHENTICATED", "use Authorization: Bearer <token>", headers=bearer)
            principal = await run_in_threadpool(self.web.directory.authenticate_token, credential)
            if principal is None:
                raise Problem(
                    401,
                    "UNAUTHENTICATED",
                    "the token is unknown, revoked or expired, or its user is disabled or expired",
                    headers=bearer,
                )
            return principal
        cookies = cookie_parser(headers.get("cookie", ""))
        https = scope.get("scheme") == "https"
        session_id = cookies.get(session_cookie_name(scope.get("scheme", "http")))
        if not https and not self.web.settings.web_allow_http and (session_id or SESSION_COOKIE in cookies):
            raise Problem(403, "HTTPS_REQUIRED", "session cookies are refused over plain HTTP; use HTTPS")
        if not session_id:
            raise Problem(
                401,
                "UNAUTHENTICATED",
                "send Authorization: Bearer <token>, or log in at /login",
                headers=bearer,
            )
        principal = await run_in_threadpool(self.web.sessions.principal, session_id)
        if principal is None:
            raise Problem(401, "UNAUTHENTICATED", "the session has ended: log in again", headers=bearer)
        return principal

    async def _reveal(
        self, scope: Scope, receive: Receive, send: Send, access: Access, params: Mapping[str, Any]
    ) -> None:
        """Run a plaintext route with its answer held back; record the read; then let the answer go."""
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        if held and held[0]["type"] == "http.response.start" and held[0]["status"] == 200:
            state = scope.get("state", {})
            subject = (
                str(params[access.audit_subject]).strip().lower()
                if access.audit_subject
                else state.get("audit_subject")
            )
            case = (
                str(params[access.audit_case]).strip().lower()
                if access.audit_case
                else state.get("read_case")
            )
            reason = state.get("read_reason")
            principal = state.get("principal")
            if not isinstance(subject, str) or not isinstance(reason, ReadReason) or principal is None:
                # A plaintext route that did not say whose data it showed or why: show nothing.
                log.error("plaintext route answered without its audit facts; answer withheld")
                raise Problem(500, "INTERNAL_ERROR")
            assert access.reveals is not None
            try:
                await run_in_threadpool(
                    self.web.record_read,
                    principal,
                    access.reveals,
                    subject_id=subject,
                    reason=reason,
                    interface=access.interface,
                    case_id=case,
                )
            except Exception as exc:
                log.error("the read audit could not be written (%s): answer withheld", type(exc).__name__)
                raise Problem(503, "AUDIT_UNAVAILABLE", "nothing was shown; try again") from None
        for message in held:
            await send(message)


def _authorise(principal: Principal, access: Access, params: Mapping[str, Any]) -> None:
    if principal.role not in access.roles:
        allowed = ", ".join(sorted(str(r) for r in access.roles))
        raise Problem(403, "FORBIDDEN", f"this route is for the roles: {allowed}")
    if principal.role is Role.REGULATOR and access.case is not None:
        kind, param = access.case
        if not principal.user.scope.allows(kind, str(params.get(param, ""))):
            raise Problem(403, "OUT_OF_SCOPE", "this case is not among those granted to you")


def _origin(scope: Scope, headers: Headers) -> str:
    return f"{scope.get('scheme', 'http')}://{headers.get('host', '')}"


def _check_origin(scope: Scope, headers: Headers) -> None:
    """A state-changing request from a browser must come from this service's own pages."""
    origin = headers.get("origin")
    if origin is not None and origin != _origin(scope, headers):
        raise Problem(403, "CSRF_FAILED", "the request comes from another site")


def _check_csrf(scope: Scope, headers: Headers, body: bytes, principal: Principal) -> None:
    _check_origin(scope, headers)
    given = headers.get("x-csrf-token")
    if given is None and headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        fields = parse_qs(body.decode("utf-8", "replace"), max_num_fields=100)
        given = next(iter(fields.get("csrf_token", [])), None)
    assert principal.session_id is not None
    if not given or not hmac.compare_digest(given.encode(), csrf_token(principal.session_id).encode()):
        raise Problem(
            403, "CSRF_FAILED", "send the session's CSRF token in X-CSRF-Token (or the csrf_token field)"
        )


async def _read_body(scope: Scope, receive: Receive) -> bytes:
    """The whole request body, at most MAX_BODY_BYTES (413 beyond, before reading it all)."""
    if scope["method"] in _SAFE:
        return b""
    length = Headers(scope=scope).get("content-length")
    if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
        raise Problem(413, "PAYLOAD_TOO_LARGE", f"a request body may hold at most {MAX_BODY_BYTES} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise Problem(413, "PAYLOAD_TOO_LARGE", f"a request body may hold at most {MAX_BODY_BYTES} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, original: Receive) -> Receive:
    """The body read already, then whatever the client sends next (its disconnect)."""
    done = False

    async def receive() -> Message:
        nonlocal done
        if done:
            return await original()
        done = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


async def _answer(send: Send, problem: Problem, page: Scope | None = None) -> None:
    """The problem as RFC 9457 JSON; for a page route (``page``: its scope) an HTML page instead, and
    for a request without a valid session a 303 to the login page that comes back here after."""
    if page is None:
        body = problem.body()
        status, headers = problem.status, problem_headers(body, problem.headers)
    elif problem.code == "UNAUTHENTICATED":
        query = page.get("query_string", b"").decode("latin-1") if page["method"] in _SAFE else ""
        target = login_target(page["path"] if page["method"] in _SAFE else "/ui/", query)
        body = b""
        status, headers = 303, [(b"location", target.encode("latin-1")), (b"content-length", b"0")]
    else:
        status, headers, body = problem_page(problem)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
