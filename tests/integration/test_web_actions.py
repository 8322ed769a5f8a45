"""Staff actions are events: acknowledging and resolving alerts (spec 4.7), rights-request steps (4.4),
complaint acknowledgement (4.6), legal holds and erasure (4.2, 5.1) each store exactly one catalogue
event through the append path of `ingest`, visible in the views; an Idempotency-Key makes a retried
POST store nothing more; bad or refused requests are problems that store nothing and echo nothing."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from web_support import Sample, Staff, app_for, client, fill, staff

from ledger.domain.timeutil import format_instant
from ledger.store.messages import Message
from ledger.testing import event
from ledger.web import actions
from ledger.web.roles import Role

ALERT_NOTE = {"note": "Ticket DPO-123 opened."}
UNKNOWN = "00000000-0000-4000-8000-0000000000ab"


@pytest.fixture
def service(open_ledger: Any) -> tuple[Any, Any, Sample, Staff]:
    ledger = open_ledger()
    sample = fill(ledger)
    app = app_for(ledger)
    return ledger, app, sample, staff(app, sample)


# -- helpers ---------------------------------------------------------------------------------------


def _count(ledger: Any, event_type: str | None = None) -> int:
    """Stored events (of one type), from the chain."""
    with ledger.store.read() as cur:
        if event_type is None:
            return int(cur.execute("SELECT COUNT(*) AS n FROM {t:ledger_chain}").scalar())
        return int(
            cur.execute(
                "SELECT COUNT(*) AS n FROM {t:ledger_chain} WHERE event_type = ?", (event_type,)
            ).scalar()
        )


def _by_type(ledger: Any) -> dict[str, int]:
    """Stored events per type."""
    return dict(ledger.counts()["events_by_type"])


def _added(ledger: Any, before: dict[str, int]) -> dict[str, int]:
    """Events stored since ``before``, per type."""
    now = _by_type(ledger)
    return {t: n - before.get(t, 0) for t, n in now.items() if n != before.get(t, 0)}


def _footprint(ledger: Any) -> tuple[int, int, dict[str, int]]:
    """What a request may leave behind: stored events, dead letters, the ingestion counters."""
    with ledger.store.read() as cur:
        letters = int(cur.execute("SELECT COUNT(*) AS n FROM {t:ledger_dead_letters}").scalar())
    return _count(ledger), letters, ledger.counters()


def _stored(ledger: Any, event_id: str) -> dict[str, Any]:
    """The stored record of an event (personal fields as stored: encrypted)."""
    import json

    with ledger.store.read() as cur:
        row = cur.execute(
            "SELECT e.state FROM {t:ledger_chain} c "
            f"JOIN {ledger.store.events_table} e ON e.{ledger.store.notification_column} = c.notification_id "
            "WHERE c.event_id = ?",
            (event_id,),
        ).one()
    assert row is not None
    record: dict[str, Any] = json.loads(bytes(row["state"]))["record"]
    return record


def _catch_up(app: Any) -> None:
    """What `privacy-ledger project` does on PostgreSQL (on SQLite the service does it itself)."""
    app.state.web.projections.catch_up()


def _rows(c: Any, view: str, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    answer = c.get(f"/api/v1/{view}", params={"limit": 500, **params}, headers=headers)
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def _open_alert(c: Any, staff_: Staff) -> str:
    alerts = _rows(c, "alerts", staff_.auth("viewer"), status="OPEN")
    assert alerts, "the sample raises alerts"
    return str(alerts[0]["alert_id"])


def _open_request(c: Any, app: Any, staff_: Staff, subject: str) -> dict[str, Any]:
    """A rights request received a week ago (the sample's are all closed by the tests' clock)."""
    ledger = app.state.web.ledger
    request = str(uuid.uuid4())
    received = event(
        "RightsRequestReceived",
        subject,
        {"request_id": request, "request_type": "access", "channel": "email", "via_third_party": False},
        occurred_at=format_instant(ledger.clock() - timedelta(days=7)),
    )
    assert ledger.ingest_messages([Message("test", None, None, event=received)]).stored == 1
    _catch_up(app)
    return next(r for r in _rows(c, "requests", staff_.auth("viewer")) if r["request_id"] == request)


def _new_complaint(c: Any, app: Any, staff_: Staff, subject: str) -> dict[str, Any]:
    """A complaint received yesterday (the sample's are all acknowledged by the tests' clock)."""
    ledger = app.state.web.ledger
    complaint = str(uuid.uuid4())
    received = event(
        "ComplaintReceived",
        subject,
        {"complaint_id": complaint, "channel": "email"},
        occurred_at=format_instant(ledger.clock() - timedelta(days=1)),
    )
    assert ledger.ingest_messages([Message("test", None, None, event=received)]).stored == 1
    _catch_up(app)
    return next(r for r in _rows(c, "complaints", staff_.auth("viewer")) if r["complaint_id"] == complaint)


def _key(c: Any, staff_: Staff, label: str, url: str, key: str, body: Any = None) -> Any:
    headers = {**staff_.auth(label), "Idempotency-Key": key}
    return c.post(url, json=body, headers=headers) if body is not None else c.post(url, headers=headers)


# -- each action stores one event, seen through the views ------------------------------------------


def test_acknowledging_and_resolving_an_alert_stores_one_event_each_that_the_alerts_view_shows(
    service: tuple[Any, Any, Sample, Staff],
) -> None:
    ledger, app, _, staff_ = service
    with client(app) as c:
        alert = _open_alert(c, staff_)
        before = _count(ledger)
        ack = c.post(f"/api/v1/alerts/{alert}/acknowledge", json=ALERT_NOTE, headers=staff_.auth("officer"))
        assert ack.status_code == 201, ack.text
        assert _count(ledger) == before + 1
        _catch_up(app)
        acknowledged = {
            a["alert_id"] for a in _rows(c, "alerts", staff_.auth("viewer"), status="ACKNOWLEDGED")
        }
        resolved = c.post(
            f"/api/v1/alerts/{alert}/resolve", json={"note": "Fixed upstream."}, headers=staff_.auth("dpo")
        )
        assert resolved.status_code == 201, resolved.text
        _catch_up(app)
        now_resolved = {a["alert_id"] for a in _rows(c, "alerts", staff_.auth("viewer"), status="RESOLVED")}
    assert ack.json()["event_type"] == "AlertAcknowledged" and ack.json()["replayed"] is False
    assert resolved.json()["event_type"] == "AlertResolved"
    assert alert in acknowledged and alert in now_resolved
    assert _count(ledger) == before + 2
    record = _stored(ledger, ack.json()["event_id"])
    assert record["producer"] == {"system": "ledger.web"}
    assert record["actor_ref"] == staff_.users["officer"].user_id
    assert record["payload"] == {"alert_id": alert, "note": ALERT_NOTE["note"]}
    assert "subject_id" not in record  # spec 3.1: optional for alert handling
    assert _stored(ledger, resolved.json()["event_id"])["actor_ref"] == staff_.users["dpo"].user_id
    assert ledger.verify().valid


def test_a_request_step_is_stored_on_the_request_encrypted_and_changes_its_status(
    service: tuple[Any, Any, Sample, Staff],
) -> None:
    ledger, app, sample, staff_ = service
    notes = "Sent the copy to robin.sample@example.com"
    with client(app) as c:
        request = _open_request(c, app, staff_, sample.subject)
        before = _count(ledger, "RequestFulfilled")
        answer = c.post(
            f"/api/v1/requests/{request['request_id']}/steps",
            json={"step": "RequestFulfilled", "outcome": "partial", "notes": notes},
            headers=staff_.auth("officer"),
        )
        assert answer.status_code == 201, answer.text
        _catch_up(app)
        rows = _rows(c, "requests", staff_.auth("viewer"), include_closed="true")
    row = next(r for r in rows if r["request_id"] == request["request_id"])
    assert row["status"] == "PARTIALLY_FULFILLED" != request["status"]
    assert _count(ledger, "RequestFulfilled") == before + 1
    event_id = answer.json()["event_id"]
    stored = _stored(ledger, event_id)
    assert stored["subject_id"] == request["subject_id"]
    assert set(stored["payload"]["notes"]) >= {"enc", "kid", "cat"}  # spec 3.2: encrypted at rest
    assert stored["payload"]["notes"]["cat"] == "correspondence"
    assert notes not in str(stored)
    decrypted = next(e for e in ledger.subject_events(request["subject_id"]) if e["event_id"] == event_id)
    assert decrypted["payload"]["notes"] == notes
    assert notes not in answer.text


def test_every_staff_step_is_a_catalogue_request_event_the_api_takes() -> None:
    from ledger.domain.catalogue import EVENT_TYPES
    from ledger.web.routes_actions import RequestStep

    assert set(actions.ACTION_STEPS) == {
        name for name, spec in EVENT_TYPES.items() if spec.section == "4.4" and spec.creates != "request"
    }
    from pydantic import TypeAdapter

    schema = TypeAdapter(RequestStep).json_schema()
    assert set(schema["discriminator"]["mapping"]) == set(actions.ACTION_STEPS)


def test_acknowledging_a_complaint_stores_a_complaint_acknowledged_the_complaints_view_shows(
    service: tuple[Any, Any, Sample, Staff],
) -> None:
    ledger, app, sample, staff_ = service
    with client(app) as c:
        complaint = _new_complaint(c, app, staff_, sample.subject)
        assert complaint["acknowledged_date"] is None
        answer = c.post(
            f"/api/v1/complaints/{complaint['complaint_id']}/acknowledge", headers=staff_.auth("officer")
        )
        assert answer.status_code == 201, answer.text
        _catch_up(app)
        after = next(
            r
            for r in _rows(c, "complaints", staff_.auth("viewer"))
            if r["complaint_id"] == complaint["complaint_id"]
        )
    assert answer.json()["event_type"] == "ComplaintAcknowledged"
    assert after["acknowledged_date"] is not None
    assert _stored(ledger, answer.json()["event_id"])["subject_id"] == complaint["subject_id"]


def test_a_legal_hold_defers_an_erasure_until_it_is_released(service: tuple[Any, Any, Sample, Staff]) -> None:
    ledger, app, sample, staff_ = service
    subject = sample.subject
    inventory = f"/api/v1/subjects/{subject}/inventory"
    before = _by_type(ledger)
    with client(app) as c:
        hold = c.post(
            f"/api/v1/subjects/{subject}/holds",
            json={"categories": ["*"], "reason": "litigation", "matter_ref": "MATTER-2026-17"},
            headers=staff_.auth("officer"),
        )
        assert hold.status_code == 201, hold.text
        hold_id = hold.json()["detail"]["hold_id"]
        erase = c.post(
            f"/api/v1/subjects/{subject}/erase",
            json={"categories": ["*"], "reason": "erasure_request"},
            headers=staff_.auth("dpo"),
        )
        assert erase.status_code == 201, erase.text
        _catch_up(app)
        held = c.get(inventory, headers=staff_.auth("viewer")).json()["items"]
        release = c.post(
            f"/api/v1/subjects/{subject}/holds/{hold_id}/release", headers=staff_.auth("officer")
        )
        assert release.status_code == 201, release.text
        again = c.post(f"/api/v1/subjects/{subject}/holds/{hold_id}/release", headers=staff_.auth("officer"))
        _catch_up(app)
        erased = c.get(inventory, headers=staff_.auth("viewer")).json()["items"]
    categories = erase.json()["detail"]["categories"]
    assert categories and all(v["outcome"] == "deferred" for v in categories.values())
    assert all(v["hold_ids"] == [hold_id] for v in categories.values())
    assert held and all(i["value_state"] != "erased" for i in held)
    assert release.json()["event_type"] == "LegalHoldReleased"
    assert (again.status_code, again.json()["code"]) == (409, "HOLD_NOT_ACTIVE")
    assert erased and all(i["value_state"] == "erased" for i in erased)
    added = _added(ledger, before)
    assert added.pop("KeyShredded") >= 1  # at the release
    assert added == {"LegalHoldPlaced": 1, "DataErased": 1, "ErasureDeferred": 1, "LegalHoldReleased": 1}


def test_an_erasure_destroys_the_keys_so_the_inventory_shows_the_values_erased(
    service: tuple[Any, Any, Sample, Staff],
) -> None:
    ledger, app, sample, staff_ = service
    before = _by_type(ledger)
    with client(app) as c:
        answer = c.post(
            f"/api/v1/subjects/{sample.subject}/erase",
            json={"categories": ["*"], "reason": "erasure_request"},
            headers=staff_.auth("dpo"),
        )
        assert answer.status_code == 201, answer.text
        _catch_up(app)
        plain = c.get(
            f"/api/v1/subjects/{sample.subject}/inventory/plaintext",
            params={"reason": "rights_request"},
            headers=staff_.auth("dpo"),
        )
    detail = answer.json()["detail"]
    assert detail["subject_id"] == sample.subject
    assert detail["categories"] and all(v["outcome"] == "erased" for v in detail["categories"].values())
    assert plain.status_code == 200
    items = plain.json()["items"]
    assert items and all(i["value_state"] == "erased" and i["value"] is None for i in items)
    assert not any(v in plain.text for v in sample.values)
    added = _added(ledger, before)
    assert added.pop("PersonalDataViewed") == 1  # the plaintext read
    assert added.pop("KeyShredded") == sum(len(v["key_versions"]) for v in detail["categories"].values())
    assert added == {"DataErased": 1}
    assert ledger.verify().valid  # erasure changes no stored byte


# -- Idempotency-Key -------------------------------------------------------------------------------


def _actions(sample: Sample, alert: str, request: str) -> list[tuple[str, str, Any]]:
    """(role, url, body) of one POST per action."""
    return [
        ("officer", f"/api/v1/alerts/{alert}/acknowledge", ALERT_NOTE),
        ("dpo", f"/api/v1/alerts/{alert}/resolve", {"note": "Fixed upstream."}),
        (
            "officer",
            f"/api/v1/requests/{request}/steps",
            {"step": "ClarificationRequested", "question": "Which of your accounts?"},
        ),
        ("officer", f"/api/v1/complaints/{sample.complaint}/acknowledge", None),
        (
            "officer",
            f"/api/v1/subjects/{sample.subject}/holds",
            {"categories": ["name"], "reason": "litigation", "matter_ref": "MATTER-1"},
        ),
        (
            "dpo",
            f"/api/v1/subjects/{sample.subject}/erase",
            {"categories": ["contact_details", "name"], "reason": "erasure_request"},
        ),
    ]


def test_a_retried_post_with_the_same_idempotency_key_stores_once_and_answers_the_same_event(
    service: tuple[Any, Any, Sample, Staff],
) -> None:
    ledger, app, sample, staff_ = service
    with client(app) as c:
        alert, request = _open_alert(c, staff_), _open_request(c, app, staff_, sample.subject)["request_id"]
        before = _by_type(ledger)
        for number, (label, url, body) in enumerate(_actions(sample, alert, request)):
            key = f"retry-{number}"
            first = _key(c, staff_, label, url, key, body)
            assert first.status_code == 201, (url, first.text)
            stored = _footprint(ledger)
            ledger.clock.now += timedelta(seconds=3)  # a retry's occurred_at differs from the first's
            retry = _key(c, staff_, label, url, key, body)
            assert retry.status_code == 200, (url, retry.text)
            assert retry.json() == {**first.json(), "replayed": True}, url
            assert _footprint(ledger) == stored, url  # no event, no dead letter, no counter moved
            hold_release = first.json()["detail"].get("hold_id")
            if hold_release:
                release = f"/api/v1/subjects/{sample.subject}/holds/{hold_release}/release"
                once = _key(c, staff_, label, release, "release-1")
                twice = _key(c, staff_, label, release, "release-1")
                assert (once.status_code, twice.status_code) == (201, 200)
                assert once.json()["event_id"] == twice.json()["event_id"]
    added = _added(ledger, before)
    assert added.pop("KeyShredded") >= 1
    assert added == {
        "AlertAcknowledged": 1,
        "AlertResolved": 1,
        "ClarificationRequested": 1,
        "ComplaintAcknowledged": 1,
        "LegalHoldPlaced": 1,
        "LegalHoldReleased": 1,
        "DataErased": 1,
    }


def test_the_same_key_with_another_request_is_refused_and_stores_nothing(
    service: tuple[Any, Any, Sample, Staff],
) -> None:
    ledger, app, sample, staff_ = service
    secret = "about robin.sample@example.com"
    with client(app) as c:
        alert = _open_alert(c, staff_)
        other = next(
            a["alert_id"] for a in _rows(c, "alerts", staff_.auth("viewer")) if a["alert_id"] != alert
        )
        url = f"/api/v1/alerts/{alert}/acknowledge"
        first = _key(c, staff_, "officer", url, "k-1", ALERT_NOTE)
        assert first.status_code == 201
        stored = _footprint(ledger)
        refused = [
            _key(c, staff_, "officer", url, "k-1", {"note": secret}),  # another body
            _key(c, staff_, "officer", f"/api/v1/alerts/{other}/acknowledge", "k-1", ALERT_NOTE),  # target
            _key(c, staff_, "officer", f"/api/v1/alerts/{alert}/resolve", "k-1", ALERT_NOTE),  # route
            _key(
                c,
                staff_,
                "officer",
                f"/api/v1/subjects/{sample.subject}/holds",
                "k-1",
                {"categories": ["*"], "reason": "litigation", "matter_ref": "M-1"},
            ),
        ]
        assert _footprint(ledger) == stored
        # Keys are each user's own: another user's "k-1" is another action.
        theirs = _key(c, staff_, "dpo", url, "k-1", ALERT_NOTE)
    for answer in refused:
        assert answer.status_code == 409, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
        assert secret not in answer.text
    assert theirs.status_code == 201 and theirs.json()["event_id"] != first.json()["event_id"]
    assert _count(ledger, "AlertAcknowledged") == 2


def test_without_a_key_every_post_stores_an_event(service: tuple[Any, Any, Sample, Staff]) -> None:
    ledger, app, _, staff_ = service
    with client(app) as c:
        alert = _open_alert(c, staff_)
        answers = [
            c.post(f"/api/v1/alerts/{alert}/acknowledge", json=ALERT_NOTE, headers=staff_.auth("officer"))
            for _ in range(2)
        ]
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json()["event_id"] != answers[1].json()["event_id"]
    assert _count(ledger, "AlertAcknowledged") == 2


class _Ticking:
    """A ledger clock that moves on at every reading (so no two attempts share an occurred_at)."""

    def __init__(self, start: datetime) -> None:
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            self.now += timedelta(milliseconds=1)
            return self.now


def _race(count: int, attempt: Callable[[], actions.ActionOutcome]) -> list[Any]:
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = attempt()
        except Exception as exc:  # reported by the assertions
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def test_concurrent_identical_retries_store_exactly_one_event(
    service: tuple[Any, Any, Sample, Staff],
) -> None:
    ledger, app, _, staff_ = service
    web = app.state.web
    with client(app) as c:
        alert = _open_alert(c, staff_)
    principal = web.directory.authenticate_token(staff_.tokens["officer"])
    ledger.clock = _Ticking(ledger.clock())
    stored = _footprint(ledger)[1:]
    results = _race(
        6, lambda: actions.acknowledge_alert(web, principal, alert, ALERT_NOTE["note"], "same-click")
    )
    assert all(isinstance(r, actions.ActionOutcome) for r in results), results
    assert len({r.event_id for r in results}) == 1
    assert sorted(r.replayed for r in results) == [False, True, True, True, True, True]
    assert _count(ledger, "AlertAcknowledged") == 1
    assert _footprint(ledger)[1] == stored[0]  # no dead letter


def test_attempts_that_race_past_the_lookup_still_store_one_event_and_no_dead_letter(
    service: tuple[Any, Any, Sample, Staff], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As two service processes would: neither sees the other's event before appending its own."""
    ledger, app, _, staff_ = service
    web = app.state.web
    with client(app) as c:
        alert = _open_alert(c, staff_)
    principal = web.directory.authenticate_token(staff_.tokens["officer"])
    ledger.clock = _Ticking(ledger.clock())
    letters = _footprint(ledger)[1]
    real_lookup = actions._stored_event
    both_looked = threading.Barrier(2)
    first_look: set[int] = set()

    def blind_first_look(web_: Any, event_id: str) -> Any:
        me = threading.get_ident()
        if me not in first_look:
            first_look.add(me)
            both_looked.wait(timeout=30)
            return None  # both go on to append
        return real_lookup(web_, event_id)

    class _NoTurns:
        def __enter__(self) -> None:
            return None

        def __exit__(self, *exc: object) -> None:
            return None

    monkeypatch.setattr(actions, "_stored_event", blind_first_look)
    monkeypatch.setattr(actions, "_turn", lambda event_id: _NoTurns())  # another process: no shared lock
    results = _race(
        2, lambda: actions.acknowledge_alert(web, principal, alert, ALERT_NOTE["note"], "raced-click")
    )
    assert all(isinstance(r, actions.ActionOutcome) for r in results), results
    assert results[0].event_id == results[1].event_id
    assert sorted(r.replayed for r in results) == [False, True]
    assert _count(ledger, "AlertAcknowledged") == 1
    assert _footprint(ledger)[1] == letters


# -- refusals --------------------------------------------------------------------------------------

INJECTIONS = ("' OR 1=1 --", "{{7*7}}", "${jndi:ldap://x.example.com/a}", "robin.sample@example.com")


def _bad_bodies(sample: Sample, alert: str, request: str) -> list[tuple[str, str, Any, int, str]]:
    """(role, url, body, status, code): each refused before anything is stored."""
    hold = f"/api/v1/subjects/{sample.subject}/holds"
    erase = f"/api/v1/subjects/{sample.subject}/erase"
    steps = f"/api/v1/requests/{request}/steps"
    ack = f"/api/v1/alerts/{alert}/acknowledge"
    out: list[tuple[str, str, Any, int, str]] = [
        ("officer", ack, {"note": 5}, 422, "INVALID_VALUE"),
        ("officer", ack, {"note": ""}, 422, "INVALID_VALUE"),
        ("officer", ack, {"note": "n" * 501}, 422, "INVALID_VALUE"),
        ("officer", ack, {}, 422, "MISSING_FIELD"),
        ("officer", ack, [ALERT_NOTE], 422, "INVALID_VALUE"),
        ("officer", ack, {"note": "ok", "robin_sample": "x"}, 422, "INVALID_VALUE"),
        ("officer", ack, {"note": "x" * 70_000}, 413, "PAYLOAD_TOO_LARGE"),
        ("officer", steps, {"step": "RightsRequestReceived"}, 422, "UNKNOWN_CODE"),
        (
            "officer",
            steps,
            {"step": "FeeRequested", "amount_pence": "500", "reason": "further_copies"},
            422,
            "INVALID_VALUE",
        ),
        (
            "officer",
            steps,
            {"step": "FeeRequested", "amount_pence": 0, "reason": "further_copies"},
            422,
            "INVALID_VALUE",
        ),
        ("officer", steps, {"step": "FeePaid", "amount_pence": True}, 422, "INVALID_VALUE"),
        (
            "officer",
            steps,
            {
                "step": "RequestExtended",
                "reason": "complexity",
                "reasons_stated": True,
                "notice_sent_at": "yesterday",
            },
            422,
            "INVALID_TIMESTAMP",
        ),
        (
            "officer",
            steps,
            {"step": "RequestFulfilled", "outcome": "full", "retained_categories": ["nope"]},
            422,
            "UNKNOWN_CODE",
        ),
        (
            "officer",
            hold,
            {"categories": [], "reason": "litigation", "matter_ref": "M"},
            422,
            "INVALID_VALUE",
        ),
        (
            "officer",
            hold,
            {"categories": "name", "reason": "litigation", "matter_ref": "M"},
            422,
            "INVALID_VALUE",
        ),
        (
            "officer",
            hold,
            {"categories": ["name"], "reason": "litigation", "matter_ref": "M" * 129},
            422,
            "INVALID_VALUE",
        ),
        ("dpo", erase, {"categories": ["*"]}, 422, "MISSING_FIELD"),
    ]
    for bad in INJECTIONS:
        out += [
            ("officer", steps, {"step": "RequestClosed", "reason": bad}, 422, "UNKNOWN_CODE"),
            ("officer", steps, {"step": bad}, 422, "UNKNOWN_CODE"),
            (
                "officer",
                hold,
                {"categories": [bad], "reason": "litigation", "matter_ref": "M-1"},
                422,
                "UNKNOWN_CODE",
            ),
            (
                "officer",
                hold,
                {"categories": ["name"], "reason": bad, "matter_ref": "M-1"},
                422,
                "UNKNOWN_CODE",
            ),
            ("dpo", erase, {"categories": [bad], "reason": "erasure_request"}, 422, "UNKNOWN_CODE"),
            ("dpo", erase, {"categories": ["*"], "reason": bad}, 422, "UNKNOWN_CODE"),
            ("officer", ack, {"note": bad, bad[:3]: 1}, 422, "INVALID_VALUE"),
        ]
    return out


def test_bad_bodies_are_problems_that_echo_nothing_and_store_nothing(
    service: tuple[Any, Any, Sample, Staff],
) -> None:
    ledger, app, sample, staff_ = service
    with client(app) as c:
        alert, request = _open_alert(c, staff_), _open_request(c, app, staff_, sample.subject)["request_id"]
        stored = _footprint(ledger)
        for label, url, body, status, code in _bad_bodies(sample, alert, request):
            answer = c.post(url, json=body, headers=staff_.auth(label))
            where = (url.rsplit("/", 1)[-1], str(body)[:60])
            assert answer.status_code == status, (*where, answer.text)
            assert answer.headers["content-type"] == "application/problem+json", where
            assert answer.json()["code"] == code, (*where, answer.text)
            assert "Traceback" not in answer.text
            for value in INJECTIONS:
                assert value not in answer.text, where
            assert "49" not in answer.text, where  # no template ran
            assert "robin" not in answer.text, where
        not_json = c.post(
            f"/api/v1/alerts/{alert}/acknowledge",
            content=b'{"note": ',
            headers={**staff_.auth("officer"), "content-type": "application/json"},
        )
        assert not_json.status_code == 422 and not_json.json()["code"] == "MALFORMED_JSON"
        assert _footprint(ledger) == stored


@pytest.mark.parametrize("key", ["", "tr\u00e4iling", "tab\there", "x" * 129, "' OR 1=1 --\u202e"], ids=repr)
def test_an_idempotency_key_outside_printable_ascii_or_over_128_characters_is_refused(
    service: tuple[Any, Any, Sample, Staff], key: str
) -> None:
    ledger, app, _, staff_ = service
    with client(app) as c:
        alert = _open_alert(c, staff_)
        stored = _footprint(ledger)
        answer = c.post(
            f"/api/v1/alerts/{alert}/acknowledge",
            json=ALERT_NOTE,
            headers={**staff_.auth("officer"), "Idempotency-Key": key.encode("utf-8")},
        )
        longest = _key(c, staff_, "officer", f"/api/v1/alerts/{alert}/acknowledge", "k" * 128, ALERT_NOTE)
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "INVALID_VALUE"
    assert answer.json()["errors"][0]["name"] == "Idempotency-Key"
    assert longest.status_code == 201
    assert _footprint(ledger)[0] == stored[0] + 1


def test_a_rejected_event_is_a_422_with_its_code_and_field_and_leaves_no_event_or_dead_letter(
    service: tuple[Any, Any, Sample, Staff],
) -> None:
    """The extension notice before the request's receipt is refused by the append path (a dead letter
    for a producer): the action reports it and stores nothing, not even the dead letter."""
    ledger, app, sample, staff_ = service
    with client(app) as c:
        request = _open_request(c, app, staff_, sample.subject)["request_id"]
        stored = _footprint(ledger)
        answer = c.post(
            f"/api/v1/requests/{request}/steps",
            json={
                "step": "RequestExtended",
                "reason": "complexity",
                "reasons_stated": True,
                "notice_sent_at": "2001-01-01T00:00:00Z",
            },
            headers={**staff_.auth("officer"), "Idempotency-Key": "extend-1"},
        )
        fixed = c.post(
            f"/api/v1/requests/{request}/steps",
            json={"step": "RequestExtended", "reason": "complexity", "reasons_stated": True},
            headers={**staff_.auth("officer"), "Idempotency-Key": "extend-1"},
        )
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["code"] == "INCONSISTENT_FIELDS"
    assert problem["errors"][0]["name"] == "notice_sent_at"
    assert "2001" not in answer.text
    assert fixed.status_code == 201  # the key stored nothing: it is free for the corrected request
    assert _footprint(ledger)[:2] == (stored[0] + 1, stored[1])


def test_unknown_alerts_requests_complaints_subjects_and_holds_are_404_and_store_nothing(
    service: tuple[Any, Any, Sample, Staff],
) -> None:
    ledger, app, sample, staff_ = service
    with client(app) as c:
        stored = _footprint(ledger)
        hold = {"categories": ["*"], "reason": "litigation", "matter_ref": "M-1"}
        answers = {
            "UNKNOWN_ALERT": c.post(
                f"/api/v1/alerts/{UNKNOWN}/acknowledge", json=ALERT_NOTE, headers=staff_.auth("officer")
            ),
            "UNKNOWN_REQUEST": c.post(
                f"/api/v1/requests/{UNKNOWN}/steps",
                json={"step": "RequestWithdrawn"},
                headers=staff_.auth("officer"),
            ),
            "UNKNOWN_COMPLAINT": c.post(
                f"/api/v1/complaints/{UNKNOWN}/acknowledge", headers=staff_.auth("officer")
            ),
            "UNKNOWN_SUBJECT": c.post(
                f"/api/v1/subjects/{UNKNOWN}/holds", json=hold, headers=staff_.auth("officer")
            ),
            "UNKNOWN_HOLD": c.post(
                f"/api/v1/subjects/{sample.subject}/holds/{UNKNOWN}/release", headers=staff_.auth("officer")
            ),
        }
        erase = c.post(
            f"/api/v1/subjects/{UNKNOWN}/erase",
            json={"categories": ["*"], "reason": "erasure_request"},
            headers=staff_.auth("dpo"),
        )
        # A hold of another subject is not this subject's to release.
        placed = c.post(
            f"/api/v1/subjects/{sample.other_subject}/holds", json=hold, headers=staff_.auth("officer")
        )
        after_placed = _footprint(ledger)
        elsewhere = c.post(
            f"/api/v1/subjects/{sample.subject}/holds/{placed.json()['detail']['hold_id']}/release",
            headers=staff_.auth("officer"),
        )
        bad_id = c.post(
            "/api/v1/alerts/not-a-uuid/acknowledge", json=ALERT_NOTE, headers=staff_.auth("officer")
        )
    for code, answer in answers.items():
        assert (answer.status_code, answer.json()["code"]) == (404, code), answer.text
    assert (erase.status_code, erase.json()["code"]) == (404, "UNKNOWN_SUBJECT")
    assert (elsewhere.status_code, elsewhere.json()["code"]) == (404, "UNKNOWN_HOLD")
    assert (bad_id.status_code, bad_id.json()["code"]) == (422, "INVALID_UUID")
    assert "not-a-uuid" not in bad_id.text
    assert after_placed[0] == stored[0] + 1 and _footprint(ledger) == after_placed
    assert after_placed[1] == stored[1]


def test_only_officers_and_the_dpo_act_and_only_the_dpo_erases(
    service: tuple[Any, Any, Sample, Staff],
) -> None:
    ledger, app, sample, staff_ = service
    with client(app) as c:
        alert = _open_alert(c, staff_)
        stored = _footprint(ledger)
        refused = []
        for label in ("viewer", "regulator", "admin", "break_glass", "none", "expired", "revoked"):
            for _, url, body in _actions(sample, alert, sample.request):
                answer = (
                    c.post(url, json=body, headers=staff_.auth(label))
                    if body
                    else c.post(url, headers=staff_.auth(label))
                )
                refused.append((label, answer.status_code, answer.json()["code"]))
        officer_erase = c.post(
            f"/api/v1/subjects/{sample.subject}/erase",
            json={"categories": ["*"], "reason": "erasure_request"},
            headers=staff_.auth("officer"),
        )
        assert _footprint(ledger) == stored
    for label, status, code in refused:
        expected = (401, "UNAUTHENTICATED") if label in ("none", "expired", "revoked") else (403, "FORBIDDEN")
        assert (status, code) == expected, label
    assert (officer_erase.status_code, officer_erase.json()["code"]) == (403, "FORBIDDEN")


def test_a_session_post_without_its_csrf_token_is_refused(service: tuple[Any, Any, Sample, Staff]) -> None:
    ledger, app, _, staff_ = service
    app.state.web.directory.add_user("officer-dee", Role.OFFICER, password="correct horse battery staple")
    with client(app) as c:
        alert = _open_alert(c, staff_)
        token = c.post(
            "/login", json={"username": "officer-dee", "password": "correct horse battery staple"}
        ).json()["csrf_token"]
        stored = _footprint(ledger)
        url = f"/api/v1/alerts/{alert}/acknowledge"
        missing = c.post(url, json=ALERT_NOTE)
        foreign = c.post(
            url, json=ALERT_NOTE, headers={"X-CSRF-Token": token, "Origin": "https://evil.example.com"}
        )
        assert _footprint(ledger) == stored
        allowed = c.post(url, json=ALERT_NOTE, headers={"X-CSRF-Token": token})
    assert (missing.status_code, missing.json()["code"]) == (403, "CSRF_FAILED")
    assert (foreign.status_code, foreign.json()["code"]) == (403, "CSRF_FAILED")
    assert allowed.status_code == 201
    assert _count(ledger, "AlertAcknowledged") == 1


def test_the_openapi_document_describes_each_action_its_body_key_and_answers(
    service: tuple[Any, Any, Sample, Staff],
) -> None:
    _, app, _, _ = service
    with client(app) as c:
        doc = c.get("/openapi.json").json()
    ops = {
        op["operationId"]: op
        for ops in doc["paths"].values()
        for method, op in ops.items()
        if method == "post"
        and op["operationId"]
        in {
            "acknowledge_alert",
            "resolve_alert",
            "record_request_step",
            "acknowledge_complaint",
            "place_hold",
            "release_hold",
            "erase_subject",
        }
    }
    assert len(ops) == 7
    for name, op in ops.items():
        key = next(p for p in op["parameters"] if p["in"] == "header")
        assert key["name"] == "Idempotency-Key" and key["description"], name
        assert {"200", "201", "401", "403", "404", "409", "413", "422"} <= set(op["responses"]), name
        assert op["x-roles"] == (["dpo"] if name == "erase_subject" else ["dpo", "officer"]), name
    schemas = doc["components"]["schemas"]
    for model in ("AlertNote", "HoldPlacement", "Erasure", "FeeRequestedStep", "RequestRefusedStep"):
        for field, schema in schemas[model]["properties"].items():
            assert schema.get("description") or field == "step", (model, field)
    assert "litigation" in schemas["HoldPlacement"]["properties"]["reason"]["enum"]
    assert "*" in schemas["Erasure"]["properties"]["categories"]["items"]["enum"]
