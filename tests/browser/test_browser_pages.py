"""The staff pages in a real browser: headless Chromium (Debian's, driven by Playwright) against the real
`privacy-ledger serve` over a sample ledger, on SQLite and on PostgreSQL (where `privacy-ledger project`
keeps the views current, as in production).

Each page is saved as a full-page screenshot under tests/browser/output/<backend>/ to look at.
"""

from __future__ import annotations

import re
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import (
    ALFIE_EMAIL,
    CHROMIUM,
    ERIN_EMAIL,
    ERIN_NAME,
    OUTPUT,
    Service,
    World,
    add_staff,
    build_ledger,
    ledger_env,
    require_browser,
)

_PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
# Chromium logs a console error for every answer of 400 or more, the pages a test expects to be refused
# included; anything else in the console (a CSP violation, a script error) is a failure.
# Where the keyboard focus is: "<nav label>:<text>" ("null:<text>" outside a nav).
_FOCUSED = (
    "() => document.activeElement.closest('nav')?.getAttribute('aria-label') + ':' "
    "+ document.activeElement.textContent.trim()"
)
_REFUSED_LOAD = re.compile(
    r"^Failed to load resource: the server responded with a status of (401|403|404|409|422)"
)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The served sample ledger on one backend, with its staff."""
    require_browser()
    tmp = tmp_path_factory.mktemp(f"browser-{request.param}")
    schema = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp / 'ledger.db'}"
    else:
        base = request.getfixturevalue("pg_url")
        schema = f"t_{uuid.uuid4().hex[:12]}"
        url = f"{base}?schema={schema}"
    env, settings = ledger_env(url, tmp)
    try:
        values, ids, other = build_ledger(settings)
        passwords = add_staff(env, ids)
        service = Service(env, request.param, tmp)
        shots = OUTPUT / request.param
        shots.mkdir(parents=True, exist_ok=True)
        try:
            yield World(
                base=service.base,
                backend=request.param,
                env=env,
                passwords=passwords,
                erin=ids["erin"],
                alfie=ids["alfie"],
                bea=ids["bea"],
                other=other,
                alfie_request=ids["alfie_req"],
                bea_request=ids["bea_req"],
                alfie_complaint=ids["alfie_cmp"],
                values=values,
                shots=shots,
            )
        finally:
            log = service.stop()
            # The access log names routes and statuses only: never a path, a query or a value.
            assert "Traceback" not in log
            assert "ui_subject -> 200" in log
            for secret in (*values, ids["erin"], ids["alfie"], "reason=", *passwords.values()):
                assert secret not in log
    finally:
        if schema is not None:
            import psycopg

            with psycopg.connect(request.getfixturevalue("pg_url"), autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(scope="module")
def browser(world: World) -> Iterator[Any]:
    """Headless Chromium (Debian's package; Playwright's own browser download is not used)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            chromium.close()


class Tab:
    """One browser context (its own cookies) with the console watched."""

    def __init__(self, browser: Any, world: World) -> None:
        self.world = world
        self.context = browser.new_context(base_url=world.base, viewport={"width": 1366, "height": 900})
        self.page = self.context.new_page()
        self.console: list[str] = []
        self.page.on("console", lambda m: self.console.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.console.append(str(e)))

    def problems(self) -> list[str]:
        """Console errors other than the load of a page the test expected to be refused."""
        return [m for m in self.console if not _REFUSED_LOAD.match(m)]

    def sign_in(self, role: str) -> None:
        page = self.page
        page.goto("/ui/login")
        page.get_by_label("User name").fill(f"{role.replace('_', '-')}-one")
        page.get_by_label("Password").fill(self.world.passwords[role])
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(re.compile(r"/ui/(?!login)"))

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(self.world.shots / f"{name}.png"), full_page=True)

    def problem(self) -> str | None:
        found = self.page.locator("[data-problem]")
        return found.get_attribute("data-problem") if found.count() else None

    def csrf(self) -> str:
        return str(self.page.locator("input[name=csrf_token]").first.get_attribute("value"))


@pytest.fixture
def tab(browser: Any, world: World) -> Iterator[Tab]:
    opened = Tab(browser, world)
    try:
        yield opened
    finally:
        opened.context.close()


def _accessible(page: Any) -> None:
    """One h1, a caption on every table, a label on every control, a main landmark."""
    assert page.locator("h1").count() == 1
    assert page.locator("main#main").count() == 1
    unlabelled = page.evaluate(
        """() => Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'))
                 .filter(e => e.labels.length === 0 && !e.getAttribute('aria-label')).map(e => e.name)"""
    )
    assert unlabelled == []
    assert page.evaluate("() => Array.from(document.querySelectorAll('table')).every(t => t.caption)")


def _rows(page: Any, caption: str) -> int:
    table = page.locator("table", has=page.locator("caption", has_text=caption))
    return int(table.locator("tbody tr").count())


def _eventually(check: Callable[[], bool], reload: Callable[[], Any], seconds: float = 30) -> None:
    """On PostgreSQL the views catch up in the `project` service: look again until they have."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "the page did not show the change in time"
        time.sleep(0.5)
        reload()


def test_signing_in_leads_back_to_the_page_asked_for(tab: Tab, world: World) -> None:
    page = tab.page
    page.goto("/ui/requests?sort=days_left")
    assert "/ui/login?next=" in page.url
    assert page.locator("form[action='/ui/login'] input[name=next]").get_attribute("value") == (
        "/ui/requests?sort=days_left"
    )
    tab.shot("01-login")
    page.get_by_label("User name").fill("officer-one")
    page.get_by_label("Password").fill("not the password")
    answer = None
    with page.expect_response(lambda r: r.url.endswith("/ui/login")) as info:
        page.get_by_role("button", name="Sign in").click()
    answer = info.value
    assert answer.status == 401
    assert page.get_by_role("alert").inner_text().startswith("The user name or password is wrong")
    assert page.get_by_label("User name").input_value() == ""  # the name typed is not echoed
    tab.shot("02-login-refused")
    page.get_by_label("User name").fill("officer-one")
    page.get_by_label("Password").fill(world.passwords["officer"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/ui/requests?sort=days_left")
    assert page.locator("h1").inner_text() == "Rights requests"
    assert page.get_by_text("Signed in as officer-one").count() == 1
    assert tab.problems() == []


def test_every_page_shows_the_sample_ledger_without_console_errors(tab: Tab, world: World) -> None:
    page = tab.page
    tab.sign_in("dpo")
    assert page.url.endswith("/ui/dashboard")
    response = page.goto("/ui/dashboard")
    assert response is not None and response.headers["content-security-policy"] == _PAGE_CSP
    assert response.headers["cache-control"] == "no-store"

    def visit(name: str, path: str, check: Callable[[], None]) -> None:
        answer = page.goto(path)
        assert answer is not None and answer.status == 200, (path, answer and answer.status)
        check()
        _accessible(page)
        assert not any(v in page.content() for v in world.values), f"{path} shows a personal value"
        tab.shot(name)

    def dashboard() -> None:
        assert page.locator(".summary-card").count() == 6
        assert _rows(page, "past their statutory due date") >= 1
        assert page.locator(f"a[href='/ui/requests/{world.alfie_request}']").count() == 1  # due this week
        assert page.get_by_text("Counters conserve").count() == 1
        assert page.get_by_text("Last signed checkpoint").count() == 1
        assert page.locator("nav[aria-label=Main] a[aria-current=page]").inner_text() == "Dashboard"

    def queue() -> None:
        assert _rows(page, "Rights requests") >= 3
        assert re.match(r"\d+ requests open; \d+ overdue", page.locator("p.lead").inner_text())
        assert re.match(r"Requests 1\u2013\d+ of \d+", page.locator("nav.pager p").inner_text())
        header = page.locator("th[aria-sort]")
        assert header.get_attribute("aria-sort") == "ascending"
        first = page.locator("tbody tr").first
        assert world.bea_request.split("-")[0] in first.inner_text()  # the overdue one first
        assert "overdue" in first.inner_text()

    def request_page() -> None:
        assert _rows(page, "what it did to the clock") == 3
        assert page.get_by_text("Pause starts").count() == 1
        assert _rows(page, "Pauses for clarification") == 1
        assert page.locator("select#step").count() == 1  # the DPO may record a step

    def subject_page() -> None:
        assert _rows(page, "Personal data held") >= 1
        assert page.get_by_text("Withheld").count() >= 1
        assert _rows(page, "Stored events of this subject") >= 2
        assert page.get_by_label("Reason for seeing these values").count() == 1
        assert _rows(page, "Consent per purpose") >= 1

    visit("03-dashboard", "/ui/dashboard", dashboard)
    visit("04-requests-by-days-left", "/ui/requests?sort=days_left", queue)
    visit("05-request-clock-history", f"/ui/requests/{world.bea_request}", request_page)
    visit(
        "06-subjects", "/ui/subjects", lambda: page.locator(f"a[href='/ui/subjects/{world.erin}']").wait_for()
    )
    visit("07-subject", f"/ui/subjects/{world.alfie}", subject_page)
    visit("08-alerts", "/ui/alerts", lambda: _rows(page, "Alerts") >= 1 or pytest.fail("no alert"))
    first_alert = page.locator("tbody a[href^='/ui/alerts/']").first.get_attribute("href")
    visit(
        "09-alert",
        str(first_alert),
        lambda: page.get_by_label("Note (no personal data: it is stored in clear)").first.wait_for(),
    )
    visit("10-complaints", "/ui/complaints", lambda: _rows(page, "Complaints") >= 1 or pytest.fail("none"))
    visit(
        "11-disclosures", "/ui/disclosures", lambda: _rows(page, "newest first") >= 10 or pytest.fail("none")
    )

    def transfers() -> None:
        table = page.locator("table", has=page.locator("caption", has_text="Outside the UK only"))
        countries = table.locator("tbody tr .country").all_inner_texts()
        assert countries and "GB" not in countries

    visit("12-transfers", "/ui/disclosures?kind=international", transfers)
    visit("13-ropa", "/ui/ropa", lambda: page.locator("table.record").count() >= 5 or pytest.fail("none"))
    visit(
        "14-retention",
        "/ui/retention",
        lambda: _rows(page, "Retention per subject") >= 1 or pytest.fail("none"),
    )
    visit("15-notices", "/ui/notices", lambda: _rows(page, "Notice obligations") >= 1 or pytest.fail("none"))
    visit("16-dead-letters", "/ui/dead-letters", lambda: page.get_by_text("UNKNOWN_CODE").first.wait_for())
    visit(
        "17-exports",
        "/ui/exports",
        lambda: page.get_by_label("Id of the subject, request or complaint").wait_for(),
    )
    visit("18-read-audit", "/ui/reads", lambda: page.locator("h1", has_text="Read audit").wait_for())
    visit(
        "19-erase-confirmation",
        f"/ui/subjects/{world.bea}/erase",
        lambda: page.get_by_label("I understand that erasure cannot be undone.").wait_for(),
    )
    answer = page.goto("/ui/no-such-page")
    assert answer is not None and answer.status == 404 and tab.problem() == "NOT_FOUND"
    tab.shot("20-not-found")
    assert tab.problems() == []


def test_the_administrator_sees_users_and_tokens_only(tab: Tab, world: World) -> None:
    page = tab.page
    tab.sign_in("admin")
    assert page.url.endswith("/ui/admin")
    assert _rows(page, "Staff users") >= 6
    assert [a.inner_text() for a in page.locator("nav[aria-label=Main] a").all()] == ["Users and tokens"]
    _accessible(page)
    tab.shot("21-admin")
    answer = page.goto("/ui/dashboard")
    assert answer is not None and answer.status == 403 and tab.problem() == "FORBIDDEN"
    assert tab.problems() == []


def test_the_keyboard_reaches_the_skip_link_and_the_navigation(tab: Tab, world: World) -> None:
    page = tab.page
    tab.sign_in("officer")
    page.goto("/ui/alerts")
    page.keyboard.press("Tab")
    focused = page.evaluate("() => document.activeElement.textContent.trim()")
    assert focused == "Skip to main content"
    outline = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # the focus is visible
    assert page.locator(".skip-link").bounding_box()["y"] >= 0  # shown when focused
    tab.shot("22-skip-link-focused")
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    page.goto("/ui/alerts")
    reached = []
    for _ in range(12):
        page.keyboard.press("Tab")
        reached.append(page.evaluate(_FOCUSED))
        if reached[-1] == "Main:Rights requests":
            break
    assert "Main:Rights requests" in reached
    page.keyboard.press("Enter")
    page.wait_for_url("**/ui/requests")
    assert page.locator("a[aria-current=page]").inner_text() == "Rights requests"
    assert tab.problems() == []


def test_an_erasure_through_the_pages_leaves_the_values_erased(tab: Tab, world: World) -> None:
    page = tab.page
    tab.sign_in("dpo")
    page.goto(f"/ui/subjects/{world.erin}")
    assert ERIN_EMAIL not in page.content()
    # Values show only behind a stated reason, and the read is recorded in the ledger.
    page.get_by_label("Reason for seeing these values").select_option("rights_request")
    page.get_by_role("button", name="Show values").click()
    page.wait_for_url(re.compile(r"/plaintext\?reason=rights_request"))
    assert page.get_by_text(ERIN_EMAIL).count() == 1 and page.get_by_text(ERIN_NAME).count() == 1
    assert page.get_by_role("note").inner_text().startswith("Personal values are shown.")
    tab.shot("23-subject-values-shown")
    page.get_by_role("link", name="Hide the values").click()
    reads = page.locator("table", has=page.locator("caption", has_text="Recorded views"))
    read = reads.locator("tbody tr").first.inner_text()
    assert "dpo-one" in read and "Handling a rights request" in read and "Web" in read
    # The erasure: a confirmation page, then the keys are destroyed.
    page.get_by_role("link", name="Erase this subject…").click()
    page.wait_for_url(f"**/ui/subjects/{world.erin}/erase")
    page.get_by_role("button", name="Erase now").click()  # not confirmed: the browser asks for the box
    assert page.url.endswith("/erase")
    page.get_by_label("I understand that erasure cannot be undone.").check()
    tab.shot("24-erase-confirm")
    page.get_by_role("button", name="Erase now").click()
    page.wait_for_url(f"**/ui/subjects/{world.erin}?done=erased")
    assert page.get_by_role("status").inner_text().startswith("The erasure was recorded")
    held = page.locator("table", has=page.locator("caption", has_text="Personal data held"))
    assert held.locator("td.value-state").all_inner_texts() == ["Erased", "Erased"]
    assert page.get_by_text("Erase this subject…").count() == 0
    tab.shot("25-subject-erased")
    # Even with a reason, nothing can be shown any more.
    page.goto(f"/ui/subjects/{world.erin}/plaintext?reason=rights_request")
    assert ERIN_EMAIL not in page.content() and ERIN_NAME not in page.content()
    assert held.locator("td.value-state").all_inner_texts() == ["Erased", "Erased"]
    assert tab.problems() == []


def test_a_regulator_sees_only_the_case_granted_to_it(tab: Tab, world: World, tmp_path: Path) -> None:
    page = tab.page
    tab.sign_in("regulator")
    assert page.url.endswith("/ui/exports")
    assert [a.inner_text() for a in page.locator("nav[aria-label=Main] a").all()] == ["Regulator exports"]
    granted = page.locator("table", has=page.locator("caption", has_text="Cases granted to you"))
    assert granted.locator("tbody tr").count() == 2  # Alfie, and Alfie's request
    assert world.alfie in granted.inner_text() and world.other not in page.content()
    _accessible(page)
    tab.shot("26-regulator-exports")
    with page.expect_download() as download:
        granted.locator("tbody tr").first.get_by_role("button", name=re.compile("Download bundle")).click()
    saved = tmp_path / "bundle.zip"
    download.value.save_as(saved)
    with zipfile.ZipFile(saved) as bundle:
        assert "export.json" in bundle.namelist()
    # A form edited to ask for another case: the page refuses it, and so would the export route itself.
    page.evaluate(
        "other => document.querySelector('form[action=\"/ui/exports/download\"] input[name=case_id]')"
        ".value = other",
        world.other,
    )
    with page.expect_response(lambda r: r.url.endswith("/ui/exports/download")) as info:
        granted.locator("tbody tr").first.get_by_role("button", name=re.compile("Download bundle")).click()
    assert info.value.status == 403 and tab.problem() == "OUT_OF_SCOPE"
    api = page.request.get(f"/api/v1/exports/subjects/{world.other}?reason=regulator_inquiry")
    assert api.status == 403 and api.json()["code"] == "OUT_OF_SCOPE"
    for path, code in (
        (f"/ui/subjects/{world.alfie}", "FORBIDDEN"),
        ("/ui/dashboard", "FORBIDDEN"),
        ("/ui/requests", "FORBIDDEN"),
    ):
        answer = page.goto(path)
        assert answer is not None and answer.status == 403 and tab.problem() == code, path
        assert "application/problem+json" not in (answer.headers.get("content-type") or "")
    tab.shot("27-regulator-refused")
    assert tab.problems() == []


def test_a_viewer_cannot_reveal_plaintext(tab: Tab, world: World) -> None:
    page = tab.page
    tab.sign_in("viewer")
    page.goto(f"/ui/subjects/{world.alfie}")
    assert page.get_by_role("button", name="Show values").count() == 0
    assert page.get_by_label("Reason for seeing these values").count() == 0
    assert page.get_by_text("Withheld").count() >= 1
    assert "Read audit" not in page.locator("nav[aria-label=Main]").inner_text()
    tab.shot("28-viewer-subject")
    answer = page.goto(f"/ui/subjects/{world.alfie}/plaintext?reason=rights_request")
    assert answer is not None and answer.status == 403 and tab.problem() == "FORBIDDEN"
    assert ALFIE_EMAIL not in page.content()
    tab.shot("29-viewer-refused")
    assert tab.problems() == []


def test_a_form_post_without_the_sessions_csrf_token_is_refused(tab: Tab, world: World) -> None:
    page = tab.page
    tab.sign_in("officer")
    page.goto("/ui/alerts?status=OPEN")
    page.locator("tbody a[href^='/ui/alerts/']").first.click()
    alert_path = page.url.split(world.base)[1]
    # A form whose token was tampered with, sent by the browser itself.
    page.evaluate(
        "() => document.querySelectorAll('input[name=csrf_token]').forEach(i => i.value = 'forged')"
    )
    with page.expect_response(lambda r: r.url.endswith("/acknowledge")) as info:
        page.get_by_role("button", name="Acknowledge alert").click()
    assert info.value.status == 403 and tab.problem() == "CSRF_FAILED"
    tab.shot("30-csrf-refused")
    page.goto(alert_path)
    token = tab.csrf()
    # Without a token, and with the right token from another site: refused; nothing is recorded.
    missing = page.request.post(f"{alert_path}/acknowledge", form={"note": "x"}, max_redirects=0)
    foreign = page.request.post(
        f"{alert_path}/acknowledge",
        form={"note": "x", "csrf_token": token},
        headers={"Origin": "https://evil.example.com"},
        max_redirects=0,
    )
    assert (missing.status, foreign.status) == (403, 403)
    page.goto(alert_path)
    assert page.locator(".badge-status-open").count() == 1
    assert tab.problems() == []


def test_staff_actions_store_one_event_each_and_show_their_effect(tab: Tab, world: World) -> None:
    page = tab.page
    tab.sign_in("officer")
    # A complaint acknowledged from the queue.
    page.goto("/ui/complaints")
    row = page.locator("tr", has=page.locator(f"a[href='/ui/subjects/{world.alfie}']"))
    row.get_by_role("button", name=re.compile("Acknowledge")).click()
    page.wait_for_url("**/ui/complaints?done=complaint_acknowledged")
    _eventually(
        lambda: (
            "Acknowledged"
            in page.locator("tr", has=page.locator(f"a[href='/ui/subjects/{world.alfie}']")).inner_text()
        ),
        page.reload,
    )
    # A rights-request step: the clarification pauses Alfie's clock.
    page.goto(f"/ui/requests/{world.alfie_request}")
    page.get_by_label("Step", exact=True).select_option("ClarificationRequested")
    page.get_by_role("button", name="Record step").click()
    page.wait_for_url(f"**/ui/requests/{world.alfie_request}?done=step_recorded")
    _eventually(lambda: _rows(page, "what it did to the clock") == 2, page.reload)
    _eventually(lambda: page.locator(".badge-status-paused").count() == 1, page.reload)
    tab.shot("31-request-step-recorded")
    # A double submit of one rendered form (the same idempotency key) stores nothing more.
    page.goto("/ui/alerts?status=OPEN")
    page.locator("tbody a[href^='/ui/alerts/']").first.click()
    alert_path = page.url.split(world.base)[1]
    form = {
        "csrf_token": tab.csrf(),
        "idempotency_key": str(
            page.locator("form[action$='/acknowledge'] input[name=idempotency_key]").get_attribute("value")
        ),
        "note": "Ticket DPO-42 opened.",
    }
    first = page.request.post(
        f"{alert_path}/acknowledge", form=form, headers={"Origin": world.base}, max_redirects=0
    )
    again = page.request.post(
        f"{alert_path}/acknowledge", form=form, headers={"Origin": world.base}, max_redirects=0
    )
    assert first.status == 303 and first.headers["location"].endswith("?done=alert_acknowledged")
    assert again.status == 303 and again.headers["location"].endswith("?done=already_recorded")
    page.goto(f"{alert_path}?done=already_recorded")
    assert page.get_by_role("status").inner_text().startswith("This form had already been sent")
    _eventually(lambda: page.locator(".badge-status-acknowledged").count() == 1, page.reload)
    page.get_by_label("Note (no personal data: it is stored in clear)").fill(
        "Safeguard signed; ticket DPO-42."
    )
    page.get_by_role("button", name="Resolve alert").click()
    page.wait_for_url(f"**{alert_path}?done=alert_resolved")
    _eventually(lambda: page.locator(".badge-status-resolved").count() == 1, page.reload)
    tab.shot("32-alert-resolved")
    # A legal hold placed and released on Bea.
    page.goto(f"/ui/subjects/{world.bea}")
    page.get_by_text("Place a legal hold").click()
    page.get_by_label("Reason", exact=True).select_option("litigation")
    page.get_by_label("Matter reference").fill("MATTER-2026-7")
    page.get_by_role("button", name="Place hold").click()
    page.wait_for_url(f"**/ui/subjects/{world.bea}?done=hold_placed")
    holds = page.locator("table", has=page.locator("caption", has_text="Legal holds in force"))
    assert holds.locator("tbody tr").count() == 1
    tab.shot("33-hold-placed")
    holds.get_by_role("button", name=re.compile("Release hold")).click()
    page.wait_for_url(f"**/ui/subjects/{world.bea}?done=hold_released")
    assert page.get_by_text("No legal hold is in force.").count() == 1
    assert tab.problems() == []


def test_signing_out_ends_the_session(tab: Tab, world: World) -> None:
    page = tab.page
    tab.sign_in("officer")
    page.goto("/ui/requests")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/ui/login?ended=logged_out")
    assert page.get_by_role("status").inner_text() == "You have signed out."
    tab.shot("34-signed-out")
    page.go_back()  # the page is not kept (no-store): going back asks the service, which sends to login
    assert "/ui/login?next=" in page.url
    page.goto("/ui/dashboard")
    assert "/ui/login?next=%2Fui%2Fdashboard" in page.url
    assert tab.problems() == []
