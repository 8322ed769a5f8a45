"""Spec 8: every read of plaintext personal data is recorded as a non-personal audit event in the ledger.

Every route the OpenAPI document marks ``x-audited-view`` leaves exactly one ``PersonalDataViewed`` per
answer (who, role, view, reason, case, subject; no value), before the answer is sent; a refused or
failed read leaves none; no other route answers with a personal value; and when the record cannot be
written nothing is shown.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.routing import Route
from web_support import PLAINTEXT_MARKERS, Sample, Staff, app_for, client, fill, staff

from ledger.web.access import ACCESS, Access
from ledger.web.gate import Gate
from ledger.web.roles import Role, View

# The role that reads each audited route in these tests, the reason it states, and the case it names.
READERS = {
    "subject_inventory_plaintext": ("officer", "rights_request"),
    "dead_letter_payload": ("break_glass", "dead_letter_repair"),
    "export_subject": ("dpo", "regulator_inquiry"),
    "export_access_pack": ("dpo", "rights_request"),
    "export_request": ("regulator", "regulator_inquiry"),
    "export_complaint": ("regulator", "complaint_handling"),
    "ui_subject_plaintext": ("officer", "rights_request"),  # the subject page with its values shown
}


@pytest.fixture
def service(open_ledger: Any) -> tuple[Any, Any, Sample, Staff]:
    ledger = open_ledger()
    sample = fill(ledger)
    app = app_for(ledger)
    return ledger, app, sample, staff(app, sample)


def _audit_events(ledger: Any) -> list[dict[str, Any]]:
    with ledger.store.read() as cur:
        rows = cur.execute(
            "SELECT event_id, subject_id, seq FROM {t:ledger_chain} "
            "WHERE event_type = 'PersonalDataViewed' ORDER BY seq"
        ).all()
    out = []
    for row in rows:
        events = [
            e for e in ledger.subject_events(str(row["subject_id"])) if e["event_id"] == row["event_id"]
        ]
        out.extend(events)
    return out


def _url(path: str, sample: Sample) -> str:
    return path.format(
        subject_id=sample.subject,
        request_id=sample.request,
        complaint_id=sample.complaint,
        dlq_id=sample.dead_letter,
        alert_id="00000000-0000-4000-8000-00000000a1e7",  # no such alert: a 404 page
        hold_id="00000000-0000-4000-8000-000000000401",
    )


def test_every_audited_route_leaves_exactly_one_audit_event_per_answer(
    service: tuple[Any, Any, Sample, Staff],
) -> None:
    ledger, app, sample, staff_ = service
    with client(app) as c:
        doc = c.get("/openapi.json").json()
        audited = {
            op["operationId"]: path
            for path, ops in doc["paths"].items()
            for op in ops.values()
            if "x-audited-view" in op
        }
        # A route added with plaintext must be declared (and read) here: the two lists are one.
        assert set(audited) == {name for name, a in ACCESS.items() if a.reveals is not None} == set(READERS)
        for name, path in sorted(audited.items()):
            label, reason = READERS[name]
            before = len(_audit_events(ledger))
            params = {"reason": reason}
            # A read for a rights request names it.
            if name in ("subject_inventory_plaintext", "ui_subject_plaintext"):
                params["case_id"] = sample.request
            answer = c.get(_url(path, sample), params=params, headers=staff_.auth(label))
            assert answer.status_code == 200, (name, answer.text)
            events = _audit_events(ledger)
            assert len(events) == before + 1, name
            recorded = events[-1]
            payload = recorded["payload"]
            assert recorded["producer"] == {"system": "ledger"}
            assert recorded["subject_id"] == sample.subject
            assert payload["actor_ref"] == staff_.users[label].user_id
            assert payload["role"] == label
            assert payload["view"] == str(ACCESS[name].reveals)
            assert payload["reason"] == reason
            assert payload["interface"] == ("web" if name.startswith("ui_") else "api")
            expected_case = {
                "subject_inventory_plaintext": sample.request,
                "ui_subject_plaintext": sample.request,
                "dead_letter_payload": sample.dead_letter,
                "export_request": sample.request,
                "export_complaint": sample.complaint,
            }.get(name)
            assert payload.get("case_id") == expected_case
            assert set(payload) <= {"actor_ref", "role", "view", "reason", "interface", "case_id"}


def test_the_plaintext_inventory_shows_values_and_the_viewer_one_withholds_them(
    service: tuple[Any, Any, Sample, Staff],
) -> None:
    _, app, sample, staff_ = service
    with client(app) as c:
        plain = c.get(
            f"/api/v1/subjects/{sample.subject}/inventory/plaintext",
            params={"reason": "data_quality"},
            headers=staff_.auth("officer"),
        )
        withheld = c.get(f"/api/v1/subjects/{sample.subject}/inventory", headers=staff_.auth("viewer"))
        viewer_plain = c.get(
            f"/api/v1/subjects/{sample.subject}/inventory/plaintext",
            params={"reason": "data_quality"},
            headers=staff_.auth("viewer"),
        )
    assert sample.values and all(v in plain.text for v in sample.values)
    assert not any(v in withheld.text for v in sample.values)
    assert all(i["value"] is None for i in withheld.json()["items"])
    assert any(i["value_withheld"] for i in withheld.json()["items"])
    assert viewer_plain.status_code == 403


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({}, 422),  # no reason stated
        ({"reason": "because I can"}, 422),
        ({"reason": "rights_request", "case_id": "not-a-uuid"}, 422),
        ({"reason": "rights_request", "colour": "red"}, 422),
    ],
)
def test_a_refused_plaintext_read_leaves_no_audit_event(
    service: tuple[Any, Any, Sample, Staff], params: dict[str, str], status: int
) -> None:
    ledger, app, sample, staff_ = service
    with client(app) as c:
        answer = c.get(
            f"/api/v1/subjects/{sample.subject}/inventory/plaintext",
            params=params,
            headers=staff_.auth("dpo"),
        )
        unknown = c.get(
            "/api/v1/subjects/00000000-0000-4000-8000-00000000dead/inventory/plaintext",
            params={"reason": "rights_request"},
            headers=staff_.auth("dpo"),
        )
        forbidden = c.get(
            f"/api/v1/subjects/{sample.subject}/inventory/plaintext",
            params={"reason": "rights_request"},
            headers=staff_.auth("viewer"),
        )
    assert answer.status_code == status
    assert (unknown.status_code, forbidden.status_code) == (404, 403)
    assert _audit_events(ledger) == []


def test_when_the_read_cannot_be_recorded_nothing_is_shown(
    service: tuple[Any, Any, Sample, Staff], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, app, sample, staff_ = service

    def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(app.state.web, "record_read", broken)
    with client(app) as c:
        answer = c.get(
            f"/api/v1/subjects/{sample.subject}/inventory/plaintext",
            params={"reason": "rights_request"},
            headers=staff_.auth("officer"),
        )
    assert answer.status_code == 503
    assert answer.json()["code"] == "AUDIT_UNAVAILABLE"
    assert not any(v in answer.text for v in sample.values)


def test_no_unaudited_route_answers_with_a_personal_value(service: tuple[Any, Any, Sample, Staff]) -> None:
    _, app, sample, staff_ = service
    roles = [r.value for r in Role]
    with client(app) as c:
        doc = c.get("/openapi.json").json()
        for path, ops in doc["paths"].items():
            for method, op in ops.items():
                if method != "get" or "x-audited-view" in op:
                    continue
                for label in roles:
                    answer = c.get(_url(path, sample), headers=staff_.auth(label))
                    text = answer.text
                    leaked = [v for v in sample.values if v in text] + [
                        m for m in PLAINTEXT_MARKERS if m in text
                    ]
                    assert leaked == [], (op["operationId"], label)


def test_the_audit_trail_is_in_the_chain_and_changes_no_view(service: tuple[Any, Any, Sample, Staff]) -> None:
    ledger, app, sample, staff_ = service
    with client(app) as c:
        before = {
            v: c.get(f"/api/v1/{v}", params={"limit": 500}, headers=staff_.auth("viewer")).json()["items"]
            for v in ("requests", "alerts", "retention", "notices")
        }
        c.get(
            f"/api/v1/subjects/{sample.subject}/inventory/plaintext",
            params={"reason": "internal_audit"},
            headers=staff_.auth("dpo"),
        )
        after = {
            v: c.get(f"/api/v1/{v}", params={"limit": 500}, headers=staff_.auth("viewer")).json()["items"]
            for v in ("requests", "alerts", "retention", "notices")
        }
    assert before == after
    assert ledger.verify().valid
    assert ledger.counters()["system_events"] >= 1
    assert [e["event_type"] for e in ledger.subject_events(sample.subject)][-1] == "PersonalDataViewed"


def test_a_page_is_served_by_the_same_client_after_a_plaintext_read(
    service: tuple[Any, Any, Sample, Staff],
) -> None:
    """The read audit takes the writer's lock briefly: reads around it go on (no lock left behind)."""
    _, app, sample, staff_ = service
    with client(app) as c:
        for _ in range(3):
            assert (
                c.get(
                    f"/api/v1/subjects/{sample.subject}/inventory/plaintext",
                    params={"reason": "rights_request"},
                    headers=staff_.auth("officer"),
                ).status_code
                == 200
            )
            assert c.get("/api/v1/alerts", headers=staff_.auth("officer")).status_code == 200


def test_a_plaintext_answer_that_does_not_name_its_subject_and_reason_is_withheld(
    service: tuple[Any, Any, Sample, Staff],
) -> None:
    """The gate fails closed: a plaintext route whose handler forgot the audit facts shows nothing."""
    ledger, app, _, staff_ = service

    async def forgetful(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
        )
        await send({"type": "http.response.body", "body": b"alex.sample@example.com"})

    route = Route("/leak", endpoint=lambda request: None, name="leak")
    table = {"leak": Access(roles=frozenset(Role), reveals=View.INVENTORY)}
    gate = Gate(forgetful, web=app.state.web, routes=[route], table=table)
    answer = TestClient(gate, base_url="https://testserver", raise_server_exceptions=False).get(
        "/leak", headers=staff_.auth("dpo")
    )
    assert answer.status_code == 500
    assert answer.json()["code"] == "INTERNAL_ERROR"
    assert "example.com" not in answer.text
    assert _audit_events(ledger) == []
