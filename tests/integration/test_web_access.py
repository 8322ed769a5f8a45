"""Deny by default (spec 8; the staff service's roles): one table decides every route.

The matrix walks every operation of the OpenAPI document with every role's token, with no credentials,
an expired token, a revoked token, a disabled user's token and another regulator's token, and checks
each answer against ``ledger.web.access.ACCESS``. A route without an entry in that table does not
start.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web_support import Sample, Staff, app_for, client, fill, staff

from ledger.web.access import ACCESS, Access, UndeclaredRoute, check_declared
from ledger.web.app import create_app
from ledger.web.roles import Role

SPOILT = ("none", "expired", "revoked", "disabled")
LABELS = (*[r.value for r in Role], "other_regulator", *SPOILT)
# The problem codes of a refusal by the gate (a wrong password at /login is not one).
_DENIALS = {"UNAUTHENTICATED": "unauthenticated", "FORBIDDEN": "forbidden", "OUT_OF_SCOPE": "forbidden"}


def _path_values(sample: Sample) -> dict[str, str]:
    return {
        "subject_id": sample.subject,
        "request_id": sample.request,
        "complaint_id": sample.complaint,
        "dlq_id": sample.dead_letter,
        # No such alert or hold: the gate decides before the handler looks (a 404 is "allowed").
        "alert_id": "00000000-0000-4000-8000-00000000a1e7",
        "hold_id": "00000000-0000-4000-8000-000000000401",
    }


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, ops in doc["paths"].items() for method, op in ops.items()]


def _call(
    c: TestClient, path: str, method: str, op: dict[str, Any], sample: Sample, headers: dict[str, str]
) -> tuple[int, str]:
    """The status and problem code (``""`` for a success) of one call."""
    url = path.format(**_path_values(sample))
    params = {
        p["name"]: "rights_request"
        for p in op.get("parameters", [])
        if p["in"] == "query" and p.get("required")
    }
    body = (
        {"json": {"username": "nobody-here", "password": "not the password"}}
        if op["operationId"] == "login"
        else {}
    )
    answer = c.request(method.upper(), url, params=params, headers=headers, follow_redirects=False, **body)
    kind = answer.headers.get("content-type", "")
    if kind == "application/problem+json":
        return answer.status_code, answer.json()["code"]
    # A page route answers a browser: no session -> 303 to the login page; a refusal -> an HTML page.
    if answer.status_code == 303 and answer.headers["location"].startswith("/ui/login?next="):
        return answer.status_code, "UNAUTHENTICATED"
    page = re.search(r'data-problem="([A-Z_]+)"', answer.text) if kind.startswith("text/html") else None
    return answer.status_code, page.group(1) if page else ""


def _expected(access: Access, label: str, staff_: Staff, path_case: str | None) -> str:
    """``allow``, ``unauthenticated`` or ``forbidden`` for a label on a route."""
    if access.public:
        return "allow"
    if label in SPOILT:
        return "unauthenticated"
    role = Role.REGULATOR if label == "other_regulator" else Role(label)
    if role not in access.roles:
        return "forbidden"
    if role is Role.REGULATOR and access.case is not None:
        kind, _ = access.case
        granted = staff_.users[label].scope
        assert path_case is not None
        return "allow" if granted.allows(kind, path_case) else "forbidden"
    return "allow"


@pytest.fixture
def service(open_ledger: Any) -> tuple[Any, Sample, Staff]:
    ledger = open_ledger()
    sample = fill(ledger)
    app = app_for(ledger)
    return app, sample, staff(app, sample)


def test_every_route_answers_every_role_as_the_access_table_says(service: tuple[Any, Sample, Staff]) -> None:
    app, sample, staff_ = service
    with client(app) as c:
        doc = c.get("/openapi.json").json()
        operations = _operations(doc)
        assert {op["operationId"] for _, _, op in operations} | {"openapi"} == set(ACCESS)
        wrong = []
        for path, method, op in operations:
            access = ACCESS[op["operationId"]]
            param = access.case[1] if access.case else None
            path_case = _path_values(sample)[param] if param else None
            for label in LABELS:
                status, code = _call(c, path, method, op, sample, staff_.auth(label))
                expected = _expected(access, label, staff_, path_case)
                seen = _DENIALS.get(code, "allow")
                if seen != expected or status >= 500:
                    wrong.append((op["operationId"], label, status, expected))
        assert wrong == []


def test_a_regulator_reaches_only_the_cases_granted_to_it(service: tuple[Any, Sample, Staff]) -> None:
    app, sample, staff_ = service
    with client(app) as c:
        reason = {"reason": "regulator_inquiry"}
        mine = c.get(
            f"/api/v1/exports/subjects/{sample.subject}", params=reason, headers=staff_.auth("regulator")
        )
        theirs = c.get(
            f"/api/v1/exports/subjects/{sample.subject}",
            params=reason,
            headers=staff_.auth("other_regulator"),
        )
        other_case = c.get(
            f"/api/v1/exports/subjects/{sample.other_subject}",
            params=reason,
            headers=staff_.auth("regulator"),
        )
        views = c.get("/api/v1/requests", headers=staff_.auth("regulator"))
    assert mine.status_code == 200 and mine.headers["content-type"] == "application/zip"
    assert theirs.status_code == 403 and theirs.json()["code"] == "OUT_OF_SCOPE"
    assert other_case.status_code == 403 and other_case.json()["code"] == "OUT_OF_SCOPE"
    assert views.status_code == 403 and views.json()["code"] == "FORBIDDEN"


def test_an_expired_revoked_or_disabled_credential_is_refused_like_none(
    service: tuple[Any, Sample, Staff],
) -> None:
    app, _, staff_ = service
    with client(app) as c:
        answers = {label: c.get("/api/v1/me", headers=staff_.auth(label)) for label in SPOILT}
        garbage = c.get("/api/v1/me", headers={"Authorization": "Bearer plt_0000000000000000_" + "A" * 43})
        basic = c.get("/api/v1/me", headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
    for answer in [*answers.values(), garbage, basic]:
        assert answer.status_code == 401
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["www-authenticate"].startswith("Bearer")
        assert answer.json()["code"] == "UNAUTHENTICATED"


def test_a_user_disabled_while_signed_in_loses_access_at_once(service: tuple[Any, Sample, Staff]) -> None:
    app, _, staff_ = service
    with client(app) as c:
        before = c.get("/api/v1/alerts", headers=staff_.auth("viewer"))
        app.state.web.directory.disable_user(staff_.users["viewer"].username)
        after = c.get("/api/v1/alerts", headers=staff_.auth("viewer"))
    assert (before.status_code, after.status_code) == (200, 401)


def test_an_app_with_a_route_missing_from_the_access_table_does_not_start(ledger: Any) -> None:
    app = create_app(ledger)

    @app.get("/api/v1/forgotten", name="forgotten")
    def forgotten() -> dict[str, str]:
        return {"secret": "never served"}

    with pytest.raises(UndeclaredRoute, match="forgotten"), TestClient(app):
        pass


def test_the_access_table_refuses_stale_entries_and_entries_without_roles() -> None:
    names = list(ACCESS)
    check_declared(names)
    with pytest.raises(UndeclaredRoute, match="name no route"):
        check_declared(names[1:])
    with pytest.raises(UndeclaredRoute, match="declares no role"):
        check_declared(names, {**ACCESS, "me": Access(roles=frozenset())})
    with pytest.raises(UndeclaredRoute, match="without a case"):
        check_declared(
            names,
            {
                **ACCESS,
                "me": Access(roles=frozenset({Role.REGULATOR}), reveals=ACCESS["export_subject"].reveals),
            },
        )
