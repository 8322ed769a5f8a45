"""Identity for the staff service: Argon2id passwords and hashed tokens at rest, browser sessions in
HttpOnly + Secure + SameSite=Strict cookies with a CSRF token, refused over plain HTTP outside
development, and logins paused after too many failures."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from conftest import database_bytes
from web_support import Sample, app_for, client, fill

from ledger.web.gate import DEV_SESSION_COOKIE, SESSION_COOKIE
from ledger.web.identity import IdentityError, Scope
from ledger.web.roles import Role

PASSWORD = "correct horse battery staple"


@pytest.fixture
def service(open_ledger: Any) -> tuple[Any, Any, Sample]:
    ledger = open_ledger()
    sample = fill(ledger)
    return ledger, app_for(ledger, web_login_max_failures=3, web_login_window_seconds=600), sample


def _add(app: Any, name: str, role: Role = Role.OFFICER, **kw: Any) -> Any:
    user, _ = app.state.web.directory.add_user(name, role, password=PASSWORD, **kw)
    return user


def _login(c: Any, name: str, password: str = PASSWORD) -> Any:
    return c.post("/login", json={"username": name, "password": password})


def test_login_sets_a_host_only_secure_httponly_strict_cookie_and_gives_the_csrf_token(
    service: tuple[Any, Any, Sample],
) -> None:
    _, app, _ = service
    _add(app, "officer-ann")
    with client(app) as c:
        answer = _login(c, "officer-ann")
        me = c.get("/api/v1/me")
    assert answer.status_code == 200
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{SESSION_COOKIE}=")
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "secure", "samesite", "path", "max-age"} <= attributes
    assert "samesite=strict" in cookie.lower() and "domain" not in attributes
    assert me.status_code == 200
    assert me.json()["csrf_token"] == answer.json()["csrf_token"]
    assert me.json()["via"] == "session" and me.json()["role"] == "officer"


def test_a_session_post_needs_its_csrf_token(service: tuple[Any, Any, Sample]) -> None:
    _, app, _ = service
    _add(app, "officer-ben")
    with client(app) as c:
        token = _login(c, "officer-ben").json()["csrf_token"]
        missing = c.post("/logout")
        wrong = c.post("/logout", headers={"X-CSRF-Token": "0" * 64})
        foreign = c.post("/logout", headers={"X-CSRF-Token": token, "Origin": "https://evil.example.com"})
        still_in = c.get("/api/v1/me")
        out = c.post("/logout", headers={"X-CSRF-Token": token})
        after = c.get("/api/v1/me")
    for refused in (missing, wrong, foreign):
        assert (refused.status_code, refused.json()["code"]) == (403, "CSRF_FAILED")
    assert still_in.status_code == 200
    assert out.status_code == 204
    assert after.status_code == 401


def test_a_form_post_may_carry_the_csrf_token_as_a_field(service: tuple[Any, Any, Sample]) -> None:
    _, app, _ = service
    _add(app, "officer-cat")
    with client(app) as c:
        login = c.post("/login", data={"username": "officer-cat", "password": PASSWORD})
        out = c.post("/logout", data={"csrf_token": login.json()["csrf_token"]})
    assert login.status_code == 200
    assert out.status_code == 204


def test_a_login_form_posted_from_another_site_is_refused(service: tuple[Any, Any, Sample]) -> None:
    _, app, _ = service
    _add(app, "officer-dan")
    with client(app) as c:
        answer = c.post(
            "/login",
            json={"username": "officer-dan", "password": PASSWORD},
            headers={"Origin": "https://evil.example"},
        )
    assert (answer.status_code, answer.json()["code"]) == (403, "CSRF_FAILED")
    assert "set-cookie" not in answer.headers


def test_sessions_are_refused_over_plain_http_outside_development(service: tuple[Any, Any, Sample]) -> None:
    ledger, app, _ = service
    _add(app, "officer-eve")
    with client(app) as secure:
        session = _login(secure, "officer-eve").headers["set-cookie"].split(";")[0].split("=", 1)[1]
    with client(app, base_url="http://testserver") as plain:
        login = _login(plain, "officer-eve")
        plain.cookies.set(SESSION_COOKIE, session)
        replayed = plain.get("/api/v1/me")
    assert (login.status_code, login.json()["code"]) == (403, "HTTPS_REQUIRED")
    assert (replayed.status_code, replayed.json()["code"]) == (403, "HTTPS_REQUIRED")
    dev = app_for(ledger, web_allow_http=True)
    with client(dev, base_url="http://testserver") as plain:
        answer = _login(plain, "officer-eve")
        me = plain.get("/api/v1/me")
    assert answer.status_code == 200
    assert answer.headers["set-cookie"].startswith(f"{DEV_SESSION_COOKIE}=")
    assert "secure" not in answer.headers["set-cookie"].lower()
    assert me.status_code == 200


def test_failed_logins_pause_logins_for_that_name_and_say_when_to_retry(
    service: tuple[Any, Any, Sample],
) -> None:
    ledger, app, _ = service
    _add(app, "officer-fay")
    with client(app) as c:
        wrong = [_login(c, "officer-fay", "guess") for _ in range(3)]
        paused = _login(c, "officer-fay")
        ledger.clock.now += timedelta(seconds=601)
        again = _login(c, "officer-fay")
    assert [w.json()["code"] for w in wrong] == ["INVALID_CREDENTIALS"] * 3
    assert (paused.status_code, paused.json()["code"]) == (429, "RATE_LIMITED")
    assert 1 <= int(paused.headers["retry-after"]) <= 601
    assert again.status_code == 200


def test_an_unknown_name_a_wrong_password_and_a_disabled_user_look_alike(
    service: tuple[Any, Any, Sample],
) -> None:
    _, app, _ = service
    _add(app, "officer-gus")
    _add(app, "officer-hal")
    app.state.web.directory.disable_user("officer-hal")
    with client(app) as c:
        answers = [_login(c, "nobody-at-all"), _login(c, "officer-gus", "wrong"), _login(c, "officer-hal")]
    assert {(a.status_code, a.json()["code"], a.json()["detail"]) for a in answers} == {
        (401, "INVALID_CREDENTIALS", answers[0].json()["detail"])
    }


def test_disabling_a_user_ends_its_sessions(service: tuple[Any, Any, Sample]) -> None:
    _, app, _ = service
    _add(app, "officer-ida")
    with client(app) as c:
        _login(c, "officer-ida")
        app.state.web.directory.disable_user("officer-ida")
        answer = c.get("/api/v1/me")
    assert answer.status_code == 401


def test_a_session_expires(service: tuple[Any, Any, Sample]) -> None:
    ledger, app, _ = service
    _add(app, "officer-jo")
    with client(app) as c:
        _login(c, "officer-jo")
        ledger.clock.now += timedelta(seconds=app.state.web.settings.web_session_seconds + 1)
        answer = c.get("/api/v1/me")
    assert answer.status_code == 401


def test_no_password_token_or_session_id_is_stored_in_the_clear(
    service: tuple[Any, Any, Sample], backend: dict[str, Any]
) -> None:
    ledger, app, _ = service
    directory = app.state.web.directory
    _add(app, "officer-kim")
    token, _ = directory.create_token("officer-kim")
    with client(app) as c:
        session = _login(c, "officer-kim").headers["set-cookie"].split(";")[0].split("=", 1)[1]
    with ledger.store.read() as cur:
        stored = cur.execute(
            "SELECT password_hash FROM {t:web_users} WHERE username = 'officer-kim'"
        ).scalar()
    assert str(stored).startswith("$argon2id$")
    everything = database_bytes(ledger, backend)
    for secret in (PASSWORD, token.split("_", 2)[2], session):
        assert secret.encode() not in everything


def test_a_token_acts_with_a_lesser_role_at_most_and_expires_with_its_user(
    service: tuple[Any, Any, Sample],
) -> None:
    ledger, app, sample = service
    directory = app.state.web.directory
    _add(app, "dpo-lee", Role.DPO)
    viewer_token, _ = directory.create_token("dpo-lee", role=Role.VIEWER)
    with pytest.raises(IdentityError):
        directory.create_token("dpo-lee", role=Role.ADMIN)
    with pytest.raises(IdentityError):
        directory.create_token("dpo-lee", days=91)
    now = ledger.clock.now
    _add(
        app,
        "regulator-mo",
        Role.REGULATOR,
        expires_at=now + timedelta(days=3),
        scope=Scope.of({"subjects": [sample.subject]}),
    )
    _, info = directory.create_token("regulator-mo")
    assert info.expires_at.startswith((now + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"))
    with client(app) as c:
        as_viewer = c.get(
            f"/api/v1/subjects/{sample.subject}/inventory/plaintext",
            params={"reason": "rights_request"},
            headers={"Authorization": f"Bearer {viewer_token}"},
        )
    assert (as_viewer.status_code, as_viewer.json()["code"]) == (403, "FORBIDDEN")


@pytest.mark.parametrize(
    ("role", "kw", "message"),
    [
        (Role.REGULATOR, {}, "regulator needs"),
        (Role.BREAK_GLASS, {}, "break_glass user needs"),
        (Role.BREAK_GLASS, {"expires_at": "days:2"}, "break_glass user needs"),
        (
            Role.OFFICER,
            {"scope": Scope.of({"subjects": ["5f0c2b8e-8e0a-4b7b-a6d4-1f2e3d4c5b6a"]})},
            "only a regulator",
        ),
    ],
)
def test_time_limited_and_scoped_roles_are_refused_without_their_limits(
    service: tuple[Any, Any, Sample], role: Role, kw: dict[str, Any], message: str
) -> None:
    ledger, app, _ = service
    if kw.get("expires_at") == "days:2":
        kw["expires_at"] = ledger.clock.now + timedelta(days=2)
    with pytest.raises(IdentityError, match=message):
        app.state.web.directory.add_user("limited-one", role, **kw)
