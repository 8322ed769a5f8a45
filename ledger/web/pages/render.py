"""Rendering the staff pages: the Jinja2 environment, the page security headers, labels for codes, and the
HTML answers to errors (a browser gets a page, never a problem+json document).

Templates only lay out what the handlers computed; they hold no logic beyond loops and conditions.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote, urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.responses import HTMLResponse, RedirectResponse

from ledger.domain.timeutil import canonical_timestamp
from ledger.web.problems import TITLES, Problem
from ledger.web.roles import ReadReason, Role

__all__ = [
    "PAGE_CSP",
    "READ_REASON_LABELS",
    "Chrome",
    "html",
    "label",
    "login_redirect",
    "login_target",
    "new_form_key",
    "problem_page",
    "problem_response",
    "render",
    "safe_next",
]

# No script, no inline style, no frame, forms only to this service: the pages need nothing more.
PAGE_CSP: Final = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
LOGIN_PATH: Final = "/ui/login"

READ_REASON_LABELS: Final[Mapping[str, str]] = {
    ReadReason.RIGHTS_REQUEST: "Handling a rights request",
    ReadReason.COMPLAINT_HANDLING: "Handling a complaint",
    ReadReason.DATA_QUALITY: "Checking data quality",
    ReadReason.LEGAL_CLAIM: "A legal claim",
    ReadReason.REGULATOR_INQUIRY: "A regulator's inquiry",
    ReadReason.SECURITY_INCIDENT: "A security incident",
    ReadReason.DEAD_LETTER_REPAIR: "Repairing a rejected message",
    ReadReason.INTERNAL_AUDIT: "Internal audit",
}
ROLE_LABELS: Final[Mapping[str, str]] = {
    Role.VIEWER: "Viewer",
    Role.OFFICER: "Privacy officer",
    Role.DPO: "Data protection officer",
    Role.BREAK_GLASS: "Break-glass",
    Role.ADMIN: "Administrator",
    Role.REGULATOR: "Regulator",
}
# Codes whose plain spelling reads badly (acronyms, articles); the rest: underscores to spaces.
_LABELS: Final[Mapping[str, str]] = {
    "ropa": "ROPA",
    "uk_gdpr_art12a": "UK GDPR Art 12A",
    "ico_guidance_pre_art12a": "ICO guidance (before Art 12A)",
    "art13": "Art 13",
    "art14": "Art 14",
    "adm_review": "Automated decision review",
    "adequacy_us_dpf": "Adequacy (US Data Privacy Framework)",
    "art46_safeguard": "Art 46 safeguard",
    "art49_derogation": "Art 49 derogation",
    "no_safeguard": "No safeguard",
    "uk_adequacy_us_dpf": "UK adequacy (US Data Privacy Framework)",
    "dm": "Direct marketing",
    "*": "All categories",
}

# Words of codes that are acronyms or article numbers.
_WORDS: Final[Mapping[str, str]] = {
    "dm": "DM",
    "sms": "SMS",
    "b2b": "B2B",
    "ico": "ICO",
    "uk": "UK",
    "us": "US",
    "eu": "EU",
    "dpf": "DPF",
    "idta": "IDTA",
    "bcr": "BCR",
    "cra": "CRA",
    "hr": "HR",
    "art13": "Art 13",
    "art14": "Art 14",
    "art19": "Art 19",
    "art46": "Art 46",
    "art49": "Art 49",
    "dpo": "DPO",
}


NONE: Final = "\u2013"  # an en dash: nothing to show


def label(code: Any) -> str:
    """A code as words: ``AWAITING_IDENTITY`` -> ``Awaiting identity``, ``None`` -> an en dash."""
    if code is None or code == "":
        return NONE
    text = str(code)
    if text in _LABELS:
        return _LABELS[text]
    if text in READ_REASON_LABELS:
        return READ_REASON_LABELS[text]
    words = [_WORDS.get(w, w) for w in text.replace("_", " ").strip().lower().split(" ")]
    if words and words[0] == words[0].lower():
        words[0] = words[0][:1].upper() + words[0][1:]
    return " ".join(words)


def instant(value: Any) -> str:
    """An RFC 3339 instant as ``2026-03-31 09:14 UTC`` (a date or anything else unchanged)."""
    if value is None or value == "":
        return NONE
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = str(value)
    if "T" not in text:
        return text
    try:
        when = canonical_timestamp(text)
    except (ValueError, TypeError):
        return text
    return when.strftime("%Y-%m-%d %H:%M UTC")


def short_id(value: Any) -> str:
    """The first block of a UUID, for tables (the full id is in the link and its title)."""
    return NONE if value is None else str(value).split("-")[0]


def yes_no(value: Any) -> str:
    """``Yes``, ``No`` or an en dash for unknown."""
    return NONE if value is None else ("Yes" if value else "No")


def joined(values: Any, sep: str = ", ") -> str:
    """A list as text (codes as words), or an en dash when empty."""
    if not values:
        return NONE
    return sep.join(label(v) if isinstance(v, str) else str(v) for v in values)


def new_form_key() -> str:
    """A random idempotency key for one rendered action form: a second submit of it stores nothing new."""
    return secrets.token_hex(16)


_env = Environment(
    loader=PackageLoader("ledger.web", "templates"),
    autoescape=select_autoescape(["html"], default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters.update(label=label, instant=instant, short_id=short_id, yes_no=yes_no, joined=joined)
_env.globals["role_label"] = lambda role: ROLE_LABELS.get(str(role), label(role))


@dataclass(frozen=True)
class NavItem:
    """One link of the main navigation."""

    label: str
    href: str
    current: bool


@dataclass(frozen=True)
class Chrome:
    """What every signed-in page shows around its content: who is signed in, the navigation, the CSRF
    token of the logout form (and of any action form), and a status message."""

    username: str | None
    role: str | None
    nav: Sequence[NavItem]
    csrf_token: str | None
    notice: str | None = None
    as_of: datetime | None = None


# Same-origin referrers: Chromium sends `Origin: null` with a form POST from a no-referrer page, which the
# gate's Origin check must refuse; a same-origin policy still tells other sites nothing.
_HEADERS: Final = {
    "Content-Security-Policy": PAGE_CSP,
    "Cache-Control": "no-store",
    "Referrer-Policy": "same-origin",
}


def html(body: str, status: int = 200, headers: Mapping[str, str] | None = None) -> HTMLResponse:
    """An HTML answer with the page security headers."""
    return HTMLResponse(body, status_code=status, headers={**_HEADERS, **(headers or {})})


def render(template: str, *, chrome: Chrome | None, status: int = 200, **context: Any) -> HTMLResponse:
    """Render ``template`` inside the page chrome."""
    text = _env.get_template(template).render(chrome=chrome, **context)
    return html(text, status)


# Page titles of the errors a person meets in a browser (the API's titles speak of routes).
_PAGE_TITLES: Final[Mapping[str, str]] = {
    "FORBIDDEN": "You cannot open this page",
    "OUT_OF_SCOPE": "This case is not granted to you",
    "CSRF_FAILED": "The form could not be accepted",
    "HTTPS_REQUIRED": "Use the HTTPS address",
    "NOT_FOUND": "Page not found",
    "METHOD_NOT_ALLOWED": "Page not found",
    "INTERNAL_ERROR": "Something went wrong",
}
_PROBLEM_HELP: Final[Mapping[str, str]] = {
    "FORBIDDEN": "Your role does not include this page. Ask your administrator if you need it.",
    "OUT_OF_SCOPE": "This case is not among those granted to you.",
    "HTTPS_REQUIRED": "Sessions need HTTPS. Open this service through its https:// address.",
    "CSRF_FAILED": "The form was not sent from this service's own page, or the page was too old. "
    "Go back, reload the page and try again.",
    "AUDIT_UNAVAILABLE": "The read could not be recorded in the ledger, so nothing was shown. Try again.",
    "UNKNOWN_SUBJECT": "The ledger holds no event for this subject id.",
    "NOT_FOUND": "There is no such page. Check the address, or start again from your start page.",
    "INTERNAL_ERROR": "The service failed; nothing was changed. Try again; if it happens again, tell your "
    "administrator the time it happened.",
}


def problem_page(problem: Problem, back: str | None = None) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """A plain HTML page for an error on a page route: status, ASGI headers and body (``back``: the page
    to go back to, e.g. the form). Its text never repeats a value sent (the problem's detail does not)."""
    body = (
        _env.get_template("problem.html")
        .render(
            chrome=None,
            status=problem.status,
            code=problem.code,
            title=_PAGE_TITLES.get(problem.code) or TITLES.get(problem.code, "Error"),
            detail=None if problem.code in _PAGE_TITLES else problem.detail,
            help=_PROBLEM_HELP.get(problem.code),
            back=back,
        )
        .encode("utf-8")
    )
    headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in _HEADERS.items()),
        *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in problem.headers.items()),
    ]
    return problem.status, headers, body


def problem_response(problem: Problem, back: str | None = None) -> HTMLResponse:
    """:func:`problem_page` as a response."""
    status, headers, body = problem_page(problem, back)
    text = {k.decode("latin-1"): v.decode("latin-1") for k, v in headers if k != b"content-length"}
    return HTMLResponse(body, status_code=status, headers=text)


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path of the pages on this site, else the home page (an open
    redirect to another site is refused)."""
    if not target:
        return "/ui/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/ui/") or target.startswith("//"):
        return "/ui/"
    if "\\" in target or any(ord(c) < 32 for c in target) or parts.path.startswith(LOGIN_PATH):
        return "/ui/"
    return target


def login_target(path: str, query: str = "") -> str:
    """The login page's address that comes back to ``path`` (and its query) after logging in."""
    target = path + (f"?{query}" if query else "")
    return f"{LOGIN_PATH}?next={quote(safe_next(target), safe='')}"


def login_redirect(path: str, query: str = "") -> RedirectResponse:
    """303 to the login page, coming back to ``path`` (and its query) afterwards."""
    return RedirectResponse(login_target(path, query), status_code=303)
