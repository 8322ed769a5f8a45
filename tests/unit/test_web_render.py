"""The staff pages' small rules: where a login may send the browser next, how codes read, and the page
policy (no inline script or style allowed, no framing)."""

from __future__ import annotations

import pytest

from ledger.web.pages.render import PAGE_CSP, label, login_target, safe_next


@pytest.mark.parametrize(
    "target",
    [
        None,
        "",
        "https://evil.example.com/ui/",
        "//evil.example.com/ui/",
        "/\\evil.example.com",
        "/api/v1/requests",  # a page of the site only, never an API answer
        "/ui/login?next=/ui/",  # not back to the login page itself
        "/ui/\r\nSet-Cookie: x=1",
        "javascript:alert(1)",
    ],
)
def test_after_login_the_browser_goes_only_to_a_page_of_this_site(target: str | None) -> None:
    assert safe_next(target) == "/ui/"


def test_after_login_the_browser_goes_back_to_the_page_it_asked_for() -> None:
    assert safe_next("/ui/requests?sort=days_left") == "/ui/requests?sort=days_left"
    assert (
        login_target("/ui/requests", "sort=days_left") == "/ui/login?next=%2Fui%2Frequests%3Fsort%3Ddays_left"
    )
    assert login_target("https://evil.example.com/") == "/ui/login?next=%2Fui%2F"


def test_codes_read_as_words_with_their_acronyms() -> None:
    assert label("AWAITING_IDENTITY") == "Awaiting identity"
    assert label("ART14_NOTICE_OVERDUE") == "Art 14 notice overdue"
    assert label("b2b_marketing") == "B2B marketing"
    assert label("uk_addendum") == "UK addendum"
    assert label("rights_request") == "Handling a rights request"
    assert label(None) == "\u2013" and label("*") == "All categories"


def test_the_page_policy_allows_no_inline_script_or_style_and_no_framing() -> None:
    directives = dict(d.strip().split(" ", 1) for d in PAGE_CSP.split(";"))
    assert directives["default-src"] == "'none'"
    assert "script-src" not in directives  # no script at all: default-src 'none' applies
    assert directives["style-src"] == "'self'" and "unsafe-inline" not in PAGE_CSP
    assert directives["frame-ancestors"] == "'none'" and directives["form-action"] == "'self'"
