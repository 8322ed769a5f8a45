"""The staff API's read side: the views as `privacy-ledger query` answers them, page by page and as CSV,
checked filters, an OpenAPI 3.1 document of every route, and RFC 9457 problems for bad input that never
repeat the value sent and store nothing."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from web_support import Sample, Staff, app_for, client, fill, staff

from ledger.web.access import ACCESS, LIST_VIEWS
from ledger.web.roles import Role
from projections.query_options import QUERY_OPTIONS, accepted_values
from projections.service import Projections


@pytest.fixture
def service(open_ledger: Any) -> tuple[Any, Any, Sample, Staff]:
    ledger = open_ledger()
    sample = fill(ledger)
    app = app_for(ledger, web_page_size=7, web_max_page_size=40)
    staff_ = staff(app, sample)
    _read_trail(ledger, sample, staff_)
    return ledger, app, sample, staff_


def _read_trail(ledger: Any, sample: Sample, staff_: Staff) -> None:
    """Plaintext reads before AS_OF (two pages of them), so the read trail has rows too."""
    now = ledger.clock.now
    for day in range(1, 10):
        ledger.clock.now = datetime(2026, 10, day, 9, 0, tzinfo=UTC)
        ledger.record_read(
            sample.subject,
            actor_ref=staff_.users["officer"].user_id,
            role="officer",
            view="inventory",
            reason="rights_request",
            interface="api",
        )
    ledger.clock.now = now
    Projections(ledger.store, ledger.keys, ledger.codes).catch_up()  # as `project` does on PostgreSQL


def _lister(view: str) -> str:
    """The least role that may list ``view`` (the read trail is not every viewer's)."""
    return "viewer" if Role.VIEWER in ACCESS[f"list_{view}"].roles else "officer"


AS_OF = "2026-10-15T12:00:00Z"


def _all_pages(c: Any, view: str, headers: dict[str, str], **params: Any) -> tuple[list[Any], int]:
    items: list[Any] = []
    pages = 0
    answer = c.get(f"/api/v1/{view}", params=params, headers=headers).json()
    while True:
        pages += 1
        items.extend(answer["items"])
        assert len(answer["items"]) <= 7
        if answer["next_cursor"] is None:
            return items, pages
        answer = c.get(
            f"/api/v1/{view}", params={**params, "cursor": answer["next_cursor"]}, headers=headers
        ).json()


def test_every_list_view_pages_through_exactly_what_the_query_service_answers(
    service: tuple[Any, Any, Sample, Staff],
) -> None:
    _, app, _, staff_ = service
    from ledger.domain.timeutil import canonical_timestamp

    web = app.state.web
    with client(app) as c:
        for view in LIST_VIEWS:
            items, pages = _all_pages(c, view, staff_.auth(_lister(view)), as_of=AS_OF)
            expected = web.query(view, as_of=canonical_timestamp(AS_OF), subject=None, filters={})
            rows = expected["purposes"] if view == "ropa" else expected
            assert rows, view  # the sample fills every view: an empty answer would prove nothing
            assert items == rows, view
            assert pages == max(1, -(-len(rows) // 7)), view


def test_a_cursor_keeps_its_instant_while_time_passes(service: tuple[Any, Any, Sample, Staff]) -> None:
    ledger, app, _, staff_ = service
    viewer = staff_.auth("viewer")
    with client(app) as c:
        first = c.get("/api/v1/notices", headers=viewer).json()
        ledger.clock.now += timedelta(days=30)
        second = c.get("/api/v1/notices", params={"cursor": first["next_cursor"]}, headers=viewer)
        then = c.get("/api/v1/notices", params={"as_of": first["as_of"], "limit": 14}, headers=viewer).json()
        fresh = c.get("/api/v1/notices", headers=viewer).json()
    assert second.status_code == 200
    assert second.json()["as_of"] == first["as_of"] != fresh["as_of"]
    assert first["items"] + second.json()["items"] == then["items"]


def test_a_cursor_of_another_question_is_refused(service: tuple[Any, Any, Sample, Staff]) -> None:
    _, app, _, staff_ = service
    headers = staff_.auth("viewer")
    with client(app) as c:
        cursor = c.get("/api/v1/alerts", headers=headers).json()["next_cursor"]
        assert cursor is not None
        answers = [
            c.get("/api/v1/alerts", params={"cursor": cursor, "status": "OPEN"}, headers=headers),
            c.get("/api/v1/requests", params={"cursor": cursor}, headers=headers),
            c.get("/api/v1/alerts", params={"cursor": cursor, "as_of": AS_OF}, headers=headers),
            c.get("/api/v1/alerts", params={"cursor": cursor[:-4] + "AAAA"}, headers=headers),
            c.get("/api/v1/alerts", params={"cursor": "' OR 1=1 --"}, headers=headers),
        ]
    for answer in answers:
        assert answer.status_code == 422
        assert answer.json()["code"] == "INVALID_CURSOR"


def test_no_page_is_larger_than_the_maximum(service: tuple[Any, Any, Sample, Staff]) -> None:
    _, app, _, staff_ = service
    with client(app) as c:
        too_many = c.get("/api/v1/alerts", params={"limit": 41}, headers=staff_.auth("viewer"))
        most = c.get("/api/v1/alerts", params={"limit": 40}, headers=staff_.auth("viewer"))
        zero = c.get("/api/v1/alerts", params={"limit": 0}, headers=staff_.auth("viewer"))
    assert too_many.status_code == zero.status_code == 422
    assert too_many.json()["errors"][0] == {
        "in": "query",
        "name": "limit",
        "code": "INVALID_VALUE",
        "detail": "must be at most 40",
    }
    assert most.status_code == 200 and len(most.json()["items"]) <= 40


def test_every_list_view_downloads_as_csv_with_the_rows_of_the_query(
    service: tuple[Any, Any, Sample, Staff],
) -> None:
    _, app, _, staff_ = service
    with client(app) as c:
        for view in (*LIST_VIEWS, "dead-letters"):
            reader = staff_.auth("viewer" if view == "dead-letters" else _lister(view))
            answer = c.get(f"/api/v1/{view}.csv", headers=reader)
            assert answer.status_code == 200, view
            assert answer.headers["content-type"].startswith("text/csv")
            assert answer.headers["content-disposition"].startswith("attachment")
            rows = list(csv.DictReader(io.StringIO(answer.text)))
            if view == "dead-letters":
                assert len(rows) == 1
                continue
            items, _ = _all_pages(c, view, reader, as_of=AS_OF)
            dated = list(
                csv.DictReader(
                    io.StringIO(c.get(f"/api/v1/{view}.csv", params={"as_of": AS_OF}, headers=reader).text)
                )
            )
            assert len(dated) == len(items), view
            if items:
                assert list(dated[0]) == list(items[0])


@pytest.mark.parametrize(
    "view", [v for v in LIST_VIEWS if accepted_values(v, "status") or accepted_values(v, "code")]
)
def test_a_filter_outside_its_list_is_refused_naming_the_accepted_values(
    service: tuple[Any, Any, Sample, Staff], view: str
) -> None:
    _, app, _, staff_ = service
    option = "status" if accepted_values(view, "status") else "code"
    sent = "robin.sample@example.com"
    with client(app) as c:
        answer = c.get(f"/api/v1/{view}", params={option: sent}, headers=staff_.auth("viewer"))
        folded = c.get(
            f"/api/v1/{view}",
            params={option: accepted_values(view, option)[0].lower()},
            headers=staff_.auth("viewer"),
        )
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["code"] == "UNKNOWN_CODE"
    assert problem["errors"][0]["allowed"] == list(accepted_values(view, option))
    assert sent not in answer.text
    assert folded.status_code == 200


def test_an_option_the_view_does_not_take_is_refused(service: tuple[Any, Any, Sample, Staff]) -> None:
    _, app, _, staff_ = service
    with client(app) as c:
        for view in LIST_VIEWS:
            taken = set(QUERY_OPTIONS[view])
            for option in ("status", "severity", "include_closed", "subject", "colour"):
                if option in taken:
                    continue
                answer = c.get(f"/api/v1/{view}", params={option: "x"}, headers=staff_.auth(_lister(view)))
                assert answer.status_code == 422, (view, option)
                assert answer.json()["code"] == "UNKNOWN_PARAMETER"


def test_an_unknown_subject_is_404_not_an_empty_answer(service: tuple[Any, Any, Sample, Staff]) -> None:
    _, app, _, staff_ = service
    unknown = "00000000-0000-4000-8000-0000000000aa"
    with client(app) as c:
        answers = [
            c.get(f"/api/v1/subjects/{unknown}/consent", headers=staff_.auth("viewer")),
            c.get("/api/v1/requests", params={"subject": unknown}, headers=staff_.auth("viewer")),
        ]
    for answer in answers:
        assert answer.status_code == 404
        assert answer.json()["code"] == "UNKNOWN_SUBJECT"


def test_a_subject_filter_narrows_a_view_and_matches_the_subject_routes(
    service: tuple[Any, Any, Sample, Staff],
) -> None:
    _, app, sample, staff_ = service
    with client(app) as c:
        requests = c.get(
            "/api/v1/requests",
            params={"subject": sample.subject.upper(), "include_closed": "true"},
            headers=staff_.auth("viewer"),
        ).json()["items"]
        consent = c.get(f"/api/v1/subjects/{sample.subject}/consent", headers=staff_.auth("viewer"))
        portability = c.get(f"/api/v1/subjects/{sample.subject}/portability", headers=staff_.auth("viewer"))
    assert [r["request_id"] for r in requests] == [sample.request]
    assert consent.status_code == portability.status_code == 200
    assert consent.json()["subject_id"] == sample.subject


INJECTIONS = [
    "' OR '1'='1",
    "1; DROP TABLE ledger_chain; --",
    "{{7*7}}",
    "${jndi:ldap://x.example.com/a}",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "alex.sample@example.com",
    "x" * 3000,
    "\u0000\u202e",
]


def test_bad_input_is_a_4xx_problem_that_echoes_nothing_and_stores_nothing(
    service: tuple[Any, Any, Sample, Staff],
) -> None:
    ledger, app, sample, staff_ = service
    before = ledger.head_seq()
    headers = staff_.auth("dpo")
    with client(app) as c:
        doc = c.get("/openapi.json").json()
        for path, ops in doc["paths"].items():
            for method, op in ops.items():
                params = [p for p in op.get("parameters", []) if p["in"] in ("query", "path")]
                for param in params:
                    for bad in INJECTIONS:
                        values = {
                            "subject_id": sample.subject,
                            "request_id": sample.request,
                            "complaint_id": sample.complaint,
                            "dlq_id": sample.dead_letter,
                            "alert_id": "00000000-0000-4000-8000-00000000a1e7",
                            "hold_id": "00000000-0000-4000-8000-000000000401",
                        }
                        query = {
                            p["name"]: "rights_request"
                            for p in params
                            if p["in"] == "query" and p.get("required")
                        }
                        if param["in"] == "path":
                            values[param["name"]] = quote(bad, safe="")
                        else:
                            query[param["name"]] = bad
                        url = (
                            path.replace("{", "{0[").replace("}", "]}").format(values)
                            if "{" in path
                            else path
                        )
                        answer = c.request(
                            method.upper(), url, params=query, headers=headers, follow_redirects=False
                        )
                        where = (op["operationId"], param["name"], bad[:20])
                        assert "Traceback" not in answer.text
                        if len(bad) > 3:
                            assert bad not in answer.text, where
                        if "pages" in op.get("tags", []):
                            # A page answers a person: an HTML page naming the code, never JSON. Where to
                            # go after login and the status message codes fall back to defaults instead.
                            lenient = param["name"] in ("next", "done", "ended")
                            assert lenient or 400 <= answer.status_code < 500, (*where, answer.status_code)
                            assert answer.status_code < 500, where
                            assert answer.headers["content-type"].startswith("text/html"), where
                            assert lenient or 'data-problem="' in answer.text, where
                            continue
                        assert 400 <= answer.status_code < 500, (*where, answer.status_code)
                        assert answer.headers["content-type"] == "application/problem+json", where
                        assert set(answer.json()) >= {"type", "title", "status", "code"}
    assert ledger.head_seq() == before  # no audit event, nothing else stored


def test_huge_and_malformed_bodies_are_refused_before_use(service: tuple[Any, Any, Sample, Staff]) -> None:
    _, app, _, _ = service
    with client(app) as c:
        huge = c.post(
            "/login", content=b"{" + b" " * (70 * 1024) + b"}", headers={"content-type": "application/json"}
        )
        broken = c.post("/login", content=b'{"username": ', headers={"content-type": "application/json"})
        wrong = c.post("/login", json={"username": ["admin"], "password": {"$ne": None}})
        xml = c.post("/login", content=b"<login/>", headers={"content-type": "application/xml"})
        long_query = c.get("/api/v1/alerts", params={"status": "A" * 5000})
    assert (huge.status_code, huge.json()["code"]) == (413, "PAYLOAD_TOO_LARGE")
    assert (broken.status_code, broken.json()["code"]) == (400, "MALFORMED_JSON")
    assert (wrong.status_code, wrong.json()["code"]) == (422, "INVALID_VALUE")
    assert "$ne" not in wrong.text
    assert xml.status_code == 415
    assert (long_query.status_code, long_query.json()["code"]) == (414, "URI_TOO_LONG")


def test_unknown_routes_and_methods_are_problems(service: tuple[Any, Any, Sample, Staff]) -> None:
    _, app, _, staff_ = service
    with client(app) as c:
        missing = c.get("/api/v1/subjects/alex.sample@example.com", headers=staff_.auth("viewer"))
        method = c.delete("/api/v1/alerts", headers=staff_.auth("viewer"))
    assert (missing.status_code, missing.json()["code"]) == (404, "NOT_FOUND")
    assert "example.com" not in missing.text
    assert (method.status_code, method.json()["code"]) == (405, "METHOD_NOT_ALLOWED")


def test_the_openapi_document_describes_every_route_parameter_and_error(
    service: tuple[Any, Any, Sample, Staff],
) -> None:
    _, app, _, _ = service
    with client(app) as c:
        doc = c.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    assert set(doc["components"]["securitySchemes"]) == {"bearerAuth", "sessionCookie"}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            where = (method, path)
            assert op.get("summary") and op.get("x-roles"), where
            for param in op.get("parameters", []):
                assert param.get("description") or param["schema"].get("description"), (*where, param["name"])
            responses = op["responses"]
            assert "500" in responses, where
            page = "pages" in op.get("tags", [])  # a browser's page: no session -> 303 to the login page
            if op["x-roles"] != ["public"]:
                assert ({"303", "403"} if page else {"401", "403"}) <= set(responses), where
                assert op["security"], where
            for status, response in responses.items():
                if status[0] in "45" and page:
                    assert set(response["content"]) == {"text/html"}, (*where, status)
                elif status[0] in "45":
                    schema = response["content"]["application/problem+json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Problem"}, (*where, status)
            if any(p["in"] == "path" for p in op.get("parameters", [])):
                assert "404" in responses or op["operationId"] in ("dead_letter_payload",), where
    alerts = doc["paths"]["/api/v1/alerts"]["get"]
    status = next(p for p in alerts["parameters"] if p["name"] == "status")
    assert status["schema"]["enum"] == list(accepted_values("alerts", "status") or ())


def test_answers_carry_security_headers_and_are_not_cached(service: tuple[Any, Any, Sample, Staff]) -> None:
    _, app, _, staff_ = service
    with client(app) as c:
        answers = [
            c.get("/api/v1/alerts", headers=staff_.auth("viewer")),
            c.get("/api/v1/alerts"),
            c.get("/livez"),
        ]
    for answer in answers:
        assert answer.headers["cache-control"] == "no-store"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert answer.headers["strict-transport-security"].startswith("max-age=")
