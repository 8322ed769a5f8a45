"""Signing in and out of the pages, and the home page that sends each role to where it works.

The login form starts the same session as ``POST /login`` (same rate limit, HTTPS rule and cookie); its
errors show on the form again, never with the password and never saying which of the two was wrong.
"""

from __future__ import annotations

from typing import Annotated, Final
from urllib.parse import parse_qs

from fastapi import Query, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from ledger.web.pages.common import principal, web_of
from ledger.web.pages.render import render, safe_next
from ledger.web.problems import Problem
from ledger.web.roles import Role
from ledger.web.routes_auth import (
    Credentials,
    clear_session_cookie,
    require_https_for_sessions,
    set_session_cookie,
    start_session,
)

__all__ = ["home", "login_form", "login_submit", "logout"]

_ENDED: Final = {
    "logged_out": "You have signed out.",
}
_LOGIN_ERRORS: Final = {
    "INVALID_CREDENTIALS": "The user name or password is wrong, or the account is disabled.",
    "RATE_LIMITED": "Too many failed sign-ins. Wait a while before trying again.",
    "HTTPS_REQUIRED": "Sign in through the service's https:// address: sessions need HTTPS.",
    "MISSING_FIELD": "Enter both your user name and your password.",
}
# Where each role starts: the first page its work is on.
_HOME: Final = {
    Role.VIEWER: "/ui/dashboard",
    Role.OFFICER: "/ui/dashboard",
    Role.DPO: "/ui/dashboard",
    Role.BREAK_GLASS: "/ui/dead-letters",
    Role.ADMIN: "/ui/admin",
    Role.REGULATOR: "/ui/exports",
}

NextParam = Annotated[
    str | None, Query(alias="next", description="the page to open after signing in", max_length=1024)
]
EndedParam = Annotated[str | None, Query(description="why the last session ended (a code)", max_length=32)]


def _form(next_page: str | None, error: str | None, status: int) -> Response:
    # The name typed is not shown again: someone may have typed an email address there.
    return render(
        "login.html",
        chrome=None,
        status=status,
        title="Sign in",
        next_page=safe_next(next_page),
        error=error,
        ended=None,
    )


def login_form(request: Request, next_page: NextParam = None, ended: EndedParam = None) -> Response:
    """The sign-in form."""
    return render(
        "login.html",
        chrome=None,
        title="Sign in",
        next_page=safe_next(next_page),
        error=None,
        ended=_ENDED.get(ended or ""),
    )


async def login_submit(request: Request) -> Response:
    """Sign in from the form (``username``, ``password``, ``next``): a session cookie and a 303 to the
    page asked for; the form again, with what went wrong, otherwise."""
    body = await request.body()
    fields = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), max_num_fields=10).items()}
    next_page = fields.get("next")
    try:
        require_https_for_sessions(request)
        try:
            given = Credentials.model_validate(
                {"username": fields.get("username", ""), "password": fields.get("password", "")}
            )
        except ValidationError:
            raise Problem(422, "MISSING_FIELD") from None
        who, _ = await start_session(request, given)
    except Problem as problem:
        response = _form(next_page, _LOGIN_ERRORS.get(problem.code, problem.code), problem.status)
        response.headers.update(problem.headers)
        return response
    assert who.session_id is not None
    response = RedirectResponse(safe_next(next_page), status_code=303)
    set_session_cookie(response, request, who.session_id)
    return response


async def logout(request: Request) -> Response:
    """Sign out: the session ends at once and the browser drops its cookie."""
    who = principal(request)
    if who.session_id is not None:
        await run_in_threadpool(web_of(request).sessions.end, who.session_id)
    response = RedirectResponse("/ui/login?ended=logged_out", status_code=303)
    clear_session_cookie(response, request)
    return response


def home(request: Request) -> Response:
    """The start page of each role (the dashboard for compliance staff, exports for a regulator)."""
    return RedirectResponse(_HOME[principal(request).role], status_code=303)
