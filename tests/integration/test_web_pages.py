"""The staff pages without a browser (the browser tests are tests/browser): what the gate does for a page
(login redirect, HTML refusals, CSP), the login form, the audited "show values" page, and the action
forms (CSRF, idempotency), on both backends."""

from __future__ import annotations

import re
from typing import Any

import pytest
from web_support import HTTPS, PLAINTEXT_MARKERS, Sample, Staff, app_for, client, fill, staff

from ledger.web.pages.render import PAGE_CSP
from ledger.web.roles import Role
from ledger.web.routes_pages import PAGE_ROUTES
from projections.service import Projections


@pytest.fixture
def service(open_ledger: Any) -> tuple[Any, Any, Sample, Staff]:
    ledger = open_ledger()
    sample = fill(ledger)
    app = app_for(ledger)
    return ledger, app, sample, staff(app, sample)


def _reads(ledger: Any, subject: str) -> list[dict[str, Any]]:
    return [e for e in ledger.subject_events(subject) if e["event_type"] == "PersonalDataViewed"]


PASSWORD = "correct horse battery staple"


def _officer(app: Any) -> str:
    """An officer whose password the test knows: its name."""
    app.state.web.directory.add_user("page-officer", Role.OFFICER, password=PASSWORD)
    return "page-officer"


def _sign_in(c: Any, name: str) -> None:
    answer = c.post(
        "/ui/login",
        data={"username": name, "password": PASSWORD, "next": "/ui/alerts"},
        headers={"Origin": HTTPS},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


def _problem(answer: Any) -> str | None:
    found = re.search(r'data-problem="([A-Z_]+)"', answer.text)
    return found.group(1) if found else None


def test_a_page_without_a_session_sends_the_browser_to_the_login_page(
    service: tuple[Any, Any, Sample, Staff],
) -> None:
    _, app, _, staff_ = service
    with client(app) as c:
        anonymous = c.get("/ui/requests", params={"sort": "days_left"}, follow_redirects=False)
        expired = c.get("/ui/dashboard", headers=staff_.auth("expired"), follow_redirects=False)
        api = c.get("/api/v1/requests")
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/ui/login?next=%2Fui%2Frequests%3Fsort%3Ddays_left"
    assert expired.status_code == 303 and expired.headers["location"] == "/ui/login?next=%2Fui%2Fdashboard"
    assert api.status_code == 401 and api.headers["content-type"] == "application/problem+json"


def test_a_page_refused_to_a_role_is_an_html_page_with_the_page_policy(
    service: tuple[Any, Any, Sample, Staff],
) -> None:
    _, app, sample, staff_ = service
    with client(app) as c:
        refused = c.get("/ui/dashboard", headers=staff_.auth("regulator"))
        out_of_scope = c.post(
            "/ui/exports/download",
            data={"kind": "subject", "case_id": sample.other_subject, "why": "regulator_inquiry"},
            headers=staff_.auth("regulator"),
        )
        granted = c.post(
            "/ui/exports/download",
            data={"kind": "subject", "case_id": sample.subject, "why": "regulator_inquiry"},
            headers=staff_.auth("regulator"),
            follow_redirects=False,
        )
        missing = c.get("/ui/nowhere", headers=staff_.auth("viewer"))
        shown = c.get("/ui/alerts", headers=staff_.auth("viewer"))
    for answer, status, code in (
        (refused, 403, "FORBIDDEN"),
        (out_of_scope, 403, "OUT_OF_SCOPE"),
        (missing, 404, "NOT_FOUND"),
    ):
        assert answer.status_code == status and _problem(answer) == code
        assert answer.headers["content-type"].startswith("text/html")
        assert answer.headers["content-security-policy"] == PAGE_CSP
    assert granted.status_code == 303
    assert (
        granted.headers["location"] == f"/api/v1/exports/subjects/{sample.subject}?reason=regulator_inquiry"
    )
    assert shown.headers["content-security-policy"] == PAGE_CSP
    assert "'unsafe-inline'" not in PAGE_CSP and "frame-ancestors 'none'" in PAGE_CSP
    assert shown.headers["x-frame-options"] == "DENY" and shown.headers["cache-control"] == "no-store"


def test_no_page_holds_a_script_an_inline_style_or_a_value_without_a_reason(
    service: tuple[Any, Any, Sample, Staff],
) -> None:
    _, app, sample, staff_ = service
    paths = [
        path.format(
            subject_id=sample.subject,
            request_id=sample.request,
            alert_id="00000000-0000-4000-8000-00000000a1e7",
        )
        for path, method, name, _ in PAGE_ROUTES
        if method == "GET" and name not in ("ui_subject_plaintext", "ui_export_download", "ui_home")
    ]
    with client(app) as c:
        for path in paths:
            for label in ("dpo", "admin", "break_glass", "regulator"):
                answer = c.get(path, headers=staff_.auth(label))
                assert answer.status_code in (200, 403, 404), (path, label, answer.status_code)
                text = answer.text.lower()
                assert "<script" not in text and " style=" not in text and "<style" not in text, path
                leaked = [v for v in sample.values if v in answer.text]
                leaked += [m for m in PLAINTEXT_MARKERS if m in answer.text]
                assert leaked == [], (path, label)


def test_the_login_form_starts_a_session_and_goes_back_to_a_page_of_this_site_only(
    service: tuple[Any, Any, Sample, Staff],
) -> None:
    app = service[1]
    name, password = _officer(app), PASSWORD
    with client(app) as c:
        form = c.get("/ui/login", params={"next": "/ui/alerts?status=OPEN"})
        home = c.post(
            "/ui/login",
            data={"username": name, "password": password, "next": "https://evil.example.com/ui/"},
            headers={"Origin": HTTPS},
            follow_redirects=False,
        )
        back = c.post(
            "/ui/login",
            data={"username": name, "password": password, "next": "/ui/alerts?status=OPEN"},
            headers={"Origin": HTTPS},
            follow_redirects=False,
        )
        page = c.get("/ui/alerts")
        wrong = c.post(
            "/ui/login",
            data={"username": name, "password": "not it", "next": "/ui/"},
            headers={"Origin": HTTPS},
        )
        foreign = c.post(
            "/ui/login",
            data={"username": name, "password": password},
            headers={"Origin": "https://evil.example.com"},
        )
    assert 'name="next" value="/ui/alerts?status=OPEN"' in form.text
    assert (home.status_code, home.headers["location"]) == (303, "/ui/")
    assert (back.status_code, back.headers["location"]) == (303, "/ui/alerts?status=OPEN")
    cookie = back.headers["set-cookie"]
    assert cookie.startswith("__Host-ledger_session=") and "HttpOnly" in cookie and "Secure" in cookie
    assert "samesite=strict" in cookie.lower()
    assert page.status_code == 200 and f"Signed in as <strong>{name}</strong>" in page.text
    assert (
        wrong.status_code == 401 and "password is wrong" in wrong.text and "set-cookie" not in wrong.headers
    )
    assert name not in wrong.text.split("<main", 1)[1]  # the name typed is not shown again
    assert foreign.status_code == 403 and _problem(foreign) == "CSRF_FAILED"


def test_the_login_form_over_plain_http_is_refused_outside_development(
    service: tuple[Any, Any, Sample, Staff],
) -> None:
    app = service[1]
    data = {"username": _officer(app), "password": PASSWORD}
    with client(app, base_url="http://testserver") as c:
        refused = c.post("/ui/login", data=data, headers={"Origin": "http://testserver"})
    with client(app_for(app.state.web.ledger, web_allow_http=True), base_url="http://testserver") as c:
        development = c.post(
            "/ui/login", data=data, headers={"Origin": "http://testserver"}, follow_redirects=False
        )
    assert refused.status_code == 403 and "https://" in refused.text and "set-cookie" not in refused.headers
    assert development.status_code == 303 and development.headers["set-cookie"].startswith("ledger_session=")


def test_showing_values_on_the_subject_page_is_recorded_once_as_a_web_read(
    service: tuple[Any, Any, Sample, Staff],
) -> None:
    ledger, app, sample, staff_ = service
    with client(app) as c:
        withheld = c.get(f"/ui/subjects/{sample.subject}", headers=staff_.auth("officer"))
        shown = c.get(
            f"/ui/subjects/{sample.subject}/plaintext",
            params={"reason": "rights_request", "case_id": ""},  # the form's "no particular case"
            headers=staff_.auth("officer"),
        )
        no_reason = c.get(f"/ui/subjects/{sample.subject}/plaintext", headers=staff_.auth("officer"))
        viewer = c.get(
            f"/ui/subjects/{sample.subject}/plaintext",
            params={"reason": "rights_request"},
            headers=staff_.auth("viewer"),
        )
        viewer_page = c.get(f"/ui/subjects/{sample.subject}", headers=staff_.auth("viewer"))
    assert not any(v in withheld.text for v in sample.values) and "Withheld" in withheld.text
    assert 'action="/ui/subjects/' in withheld.text and "Show values" in withheld.text
    assert shown.status_code == 200 and all(v in shown.text for v in sample.values)
    assert (no_reason.status_code, _problem(no_reason)) == (422, "MISSING_FIELD")
    assert (viewer.status_code, _problem(viewer)) == (403, "FORBIDDEN")
    assert not any(v in viewer.text for v in sample.values)
    assert "Show values" not in viewer_page.text
    reads = _reads(ledger, sample.subject)
    assert len(reads) == 1
    payload = reads[0]["payload"]
    assert (payload["interface"], payload["reason"], payload["role"]) == ("web", "rights_request", "officer")
    assert "case_id" not in payload


def test_an_action_form_needs_the_sessions_csrf_token_and_a_second_submit_stores_nothing(
    service: tuple[Any, Any, Sample, Staff],
) -> None:
    ledger, app = service[0], service[1]
    name = _officer(app)
    alert = next(
        a
        for a in app.state.web.query("alerts", as_of=app.state.web.now(), subject=None, filters={})
        if a["status"] == "OPEN"
    )
    path = f"/ui/alerts/{alert['alert_id']}"
    with client(app) as c:
        _sign_in(c, name)
        page = c.get(path)
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
        key = re.search(r'name="idempotency_key" value="([0-9a-f]+-ack)"', page.text)
        assert token and key
        form = {"note": "Ticket DPO-7 opened.", "idempotency_key": key.group(1)}
        before = ledger.head_seq()
        missing = c.post(f"{path}/acknowledge", data=form, headers={"Origin": HTTPS})
        forged = c.post(
            f"{path}/acknowledge", data={**form, "csrf_token": "0" * 64}, headers={"Origin": HTTPS}
        )
        assert (missing.status_code, _problem(missing), forged.status_code) == (403, "CSRF_FAILED", 403)
        assert ledger.head_seq() == before
        sent = {**form, "csrf_token": token.group(1)}
        first = c.post(f"{path}/acknowledge", data=sent, headers={"Origin": HTTPS}, follow_redirects=False)
        again = c.post(f"{path}/acknowledge", data=sent, headers={"Origin": HTTPS}, follow_redirects=False)
        Projections(ledger.store, ledger.keys, ledger.codes).catch_up()  # as `project` does on PostgreSQL
        after = c.get(path)
    assert (first.status_code, first.headers["location"]) == (303, f"{path}?done=alert_acknowledged")
    assert (again.status_code, again.headers["location"]) == (303, f"{path}?done=already_recorded")
    assert ledger.head_seq() == before + 1  # one AlertAcknowledged, however often the form was sent
    assert "badge-status-acknowledged" in after.text


def test_an_erasure_from_the_pages_is_the_dpos_and_needs_its_confirmation(
    service: tuple[Any, Any, Sample, Staff],
) -> None:
    ledger, app, sample, staff_ = service
    path = f"/ui/subjects/{sample.subject}/erase"
    with client(app) as c:
        officer = c.get(path, headers=staff_.auth("officer"))
        confirm = c.get(path, headers=staff_.auth("dpo"))
        unconfirmed = c.post(path, data={"categories": "*"}, headers=staff_.auth("dpo"))
        before = ledger.head_seq()
        erased = c.post(
            path,
            data={"categories": "*", "reason": "erasure_request", "confirm": "yes", "idempotency_key": "k1"},
            headers=staff_.auth("dpo"),
            follow_redirects=False,
        )
        page = c.get(
            f"/ui/subjects/{sample.subject}/plaintext",
            params={"reason": "rights_request"},
            headers=staff_.auth("dpo"),
        )
    assert (officer.status_code, _problem(officer)) == (403, "FORBIDDEN")
    assert confirm.status_code == 200 and "I understand that erasure cannot be undone." in confirm.text
    assert (unconfirmed.status_code, _problem(unconfirmed)) == (422, "MISSING_FIELD")
    assert f'href="{path}"' in unconfirmed.text  # back to the confirmation
    assert erased.status_code == 303 and erased.headers["location"].startswith(
        f"/ui/subjects/{sample.subject}?done="
    )
    assert ledger.head_seq() > before
    assert not any(v in page.text for v in sample.values) and "Erased" in page.text
