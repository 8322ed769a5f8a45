"""Observability in-process, on both backends: the metrics every process exposes (names by Prometheus
conventions, values from the database in one read, no personal value), the process counters of keys and
erasures, the readiness checks, and the staff service's probes."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from conftest import Clock
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from consumers.metrics import ConsumerMetrics
from ledger.bootstrap import Ledger
from ledger.collector import record_verify_result
from ledger.observability import PROCESS_REGISTRY
from ledger.ops import caught_up_check, database_check, exposition_registry, readiness
from ledger.sample import generate_events
from ledger.store.messages import Message
from ledger.testing import collected, event, new_id
from ledger.web.app import create_app
from projections.service import Projections

_NAME = re.compile(r"ledger_[a-z0-9]+(_[a-z0-9]+)*")
# Base units only: durations in seconds, never ms, minutes or hours.
_WRONG_UNITS = ("_ms", "_milliseconds", "_minutes", "_hours", "_days", "_percent")


def _ingest(ledger: Ledger, events: list[dict[str, Any]]) -> None:
    messages = [Message("test", 0, i, event=e, raw=json.dumps(e).encode()) for i, e in enumerate(events)]
    ledger.ingest_messages(messages)


def _exposition(ledger: Ledger, *registries: CollectorRegistry) -> str:
    return generate_latest(exposition_registry(ledger, *registries)).decode()


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(text: str, name: str, **labels: str) -> float:
    return _samples(text)[(name, tuple(sorted(labels.items())))]


def _process_count(name: str, **labels: str) -> float:
    return PROCESS_REGISTRY.get_sample_value(name, labels) or 0.0


def _personal_values(events: list[dict[str, Any]]) -> set[str]:
    """Subject and event ids, and every string a data item or a display name holds."""
    found: set[str] = set()

    def leaves(node: Any) -> None:
        if isinstance(node, dict):
            for v in node.values():
                leaves(v)
        elif isinstance(node, list):
            for v in node:
                leaves(v)
        elif isinstance(node, str) and len(node) >= 4:
            found.add(node)

    for e in events:
        found.update(x for x in (e.get("subject_id"), e["event_id"]) if x)
        payload = e["payload"]
        leaves([item.get("value") for item in payload.get("data_items", [])])
        leaves(payload.get("display_name"))
    return found


def test_every_metric_name_follows_the_prometheus_conventions(ledger: Ledger):
    _ingest(ledger, generate_events(seed=11, subjects=6))
    ledger.checkpoint()
    record_verify_result(ledger.store, ledger.clock(), True, ledger.head_seq())
    projections = Projections(ledger.store, ledger.keys, ledger.codes)
    projections.catch_up()
    text = _exposition(ledger, ConsumerMetrics().registry, projections.runner.registry)
    families = list(text_string_to_metric_families(text))
    names = [f.name for f in families]
    assert len(names) == len(set(names)), "a metric family is exported twice"
    assert {"ledger_ingest_messages", "ledger_consumer_batch_duration_seconds"} <= set(names)
    for family in families:
        assert _NAME.fullmatch(family.name), family.name
        assert family.documentation, f"{family.name} has no help text"
        assert not family.name.endswith(_WRONG_UNITS), family.name
        for sample in family.samples:
            assert not sample.name.endswith("_created"), sample.name  # no timestamps beside counters
        if family.type == "counter":
            assert all(s.name == f"{family.name}_total" for s in family.samples), family.name
        else:
            assert not family.name.endswith("_total"), f"{family.name}: only counters end in _total"
        if family.type == "histogram":
            assert family.name.endswith("_seconds"), family.name
        if {"age", "timestamp", "duration", "grace"} & set(family.name.split("_")):
            assert family.name.endswith("_seconds"), family.name


def test_metrics_show_no_personal_value(ledger: Ledger):
    events = generate_events(seed=12, subjects=8)
    _ingest(ledger, events)
    subject = next(e["subject_id"] for e in events if e["event_type"] == "DataCollected")
    typed_in_a_code = event(
        "DataUsed",
        subject,
        {"purpose": "ann.other@example.com", "lawful_basis": "contract", "categories": ["name"]},
    )
    _ingest(ledger, [typed_in_a_code])
    ledger.erase(subject)
    text = _exposition(ledger, ConsumerMetrics().registry)
    assert _value(text, "ledger_dead_letters_open", code="UNKNOWN_CODE") == 1
    # The process-wide API counters (filled by whichever web tests ran before in this process) are labelled
    # by route name only: every label is a declared route, a code name that may equal a sample word
    # ("exports"); the rest of the exposition must hold no sample string at all.
    from ledger.web.access import ACCESS

    api = [line for line in text.splitlines() if line.startswith("ledger_api_")]
    routes = {
        s.labels["route"] for f in text_string_to_metric_families("\n".join(api) + "\n") for s in f.samples
    }
    assert routes <= set(ACCESS) | {"-"}, routes - set(ACCESS)
    text = "\n".join(line for line in text.splitlines() if not line.startswith("ledger_api_"))
    personal = _personal_values([*events, typed_in_a_code]) | {"ann.other@example.com"}
    shown = [value for value in personal if value in text]
    assert not shown, f"personal values in /metrics: {shown[:5]}"
    assert "@" not in text


def test_ledger_wide_metrics_are_the_health_figures_read_in_one_transaction(ledger: Ledger, clock: Clock):
    subject, request = new_id(), new_id()
    waiting = event("IdentityVerificationRequested", subject, {"request_id": request, "kind": "identity"})
    stored = collected(subject, [("job_title", "title", "Fictional Analyst")])
    _ingest(ledger, [waiting, stored, stored])
    _ingest(ledger, [event("DataUsed", subject, {"purpose": "nope", "lawful_basis": "contract"})])
    clock.now += timedelta(seconds=120)
    text = _exposition(ledger)
    health = ledger.health()
    counters = health["counters"]
    for kind in ("consumed", "stored_producer_events", "duplicates", "dead_lettered"):
        assert _value(text, "ledger_ingest_messages_total", kind=kind) == counters[kind], kind
    assert (counters["consumed"], counters["duplicates"], counters["dead_lettered"]) == (4, 1, 1)
    assert _value(text, "ledger_parked_messages") == health["parked"]["count"] == 1
    assert _value(text, "ledger_parked_oldest_age_seconds") == health["parked"]["oldest_age_seconds"] == 120
    assert _value(text, "ledger_park_grace_seconds") == ledger.settings.park_grace_seconds
    assert _value(text, "ledger_ingest_conservation_gap_messages") == 0
    for code, n in health["dead_letters_open"]["by_code"].items():
        assert _value(text, "ledger_dead_letters_open", code=code) == n
    assert _value(text, "ledger_dead_letters_open", code="MALFORMED_JSON") == 0  # every code, 0 or more
    assert _value(text, "ledger_system_events_total") == counters["system_events"]
    assert _value(text, "ledger_database_up") == 1


def test_checkpoint_metrics_show_records_waiting_for_a_signature(ledger: Ledger, clock: Clock):
    _ingest(ledger, generate_events(seed=13, subjects=3))
    clock.now += timedelta(seconds=45)
    before = _exposition(ledger)
    head = ledger.head_seq()
    assert _value(before, "ledger_log_records") == head > 0
    assert _value(before, "ledger_checkpoint_records") == 0
    assert _value(before, "ledger_checkpoint_pending_age_seconds") == 45
    assert ("ledger_checkpoint_age_seconds", ()) not in _samples(before)  # none signed yet
    ledger.checkpoint()
    clock.now += timedelta(seconds=30)
    after = _exposition(ledger)
    assert _value(after, "ledger_checkpoint_records") == head
    assert _value(after, "ledger_checkpoint_pending_age_seconds") == 0
    assert _value(after, "ledger_checkpoint_age_seconds") == 30


def test_view_lag_is_exported_in_events_and_seconds_and_readiness_follows_it(ledger: Ledger, clock: Clock):
    _ingest(ledger, generate_events(seed=14, subjects=4))
    projections = Projections(ledger.store, ledger.keys, ledger.codes)
    projections.catch_up()
    clock.now += timedelta(seconds=10)
    _ingest(ledger, generate_events(seed=15, subjects=2))
    behind = ledger.head_seq() - projections.runner.positions()["requests"]
    clock.now += timedelta(seconds=90)
    text = _exposition(ledger)
    assert _value(text, "ledger_projection_lag_events", view="requests") == behind > 0
    assert _value(text, "ledger_projection_lag_seconds", view="alerts") == 90
    assert caught_up_check(ledger, 120)() is None
    reason = caught_up_check(ledger, 60)()
    assert reason is not None and "views behind by more than 60 s" in reason and "requests" in reason
    projections.catch_up()
    text = _exposition(ledger)
    assert _value(text, "ledger_projection_lag_events", view="requests") == 0
    assert _value(text, "ledger_projection_lag_seconds", view="requests") == 0
    assert caught_up_check(ledger, 60)() is None


def test_overdue_rights_requests_are_counted_as_the_request_queue_shows_them(ledger: Ledger, clock: Clock):
    _ingest(ledger, generate_events(seed=7, subjects=24))
    subject = new_id()
    received = {
        "request_id": new_id(),
        "request_type": "access",
        "channel": "email",
        "via_third_party": False,
        "requester_name": "Rhea Quest",
        "requester_contact": "rhea.quest@example.com",
    }
    _ingest(
        ledger,
        [
            collected(subject, [("contact_details", "email", "rhea.quest@example.com")]),
            event("RightsRequestReceived", subject, received, occurred_at="2026-09-01T10:00:00Z"),
        ],
    )
    projections = Projections(ledger.store, ledger.keys, ledger.codes)
    projections.catch_up()
    clock.now += timedelta(days=400)
    queue = projections.query("requests", as_of=ledger.clock())
    overdue = sum(1 for row in queue if row["overdue"])
    assert overdue > 0
    assert _value(_exposition(ledger), "ledger_rights_requests_overdue") == overdue


def test_a_recorded_verify_is_exported_and_a_failure_keeps_the_last_success(ledger: Ledger, clock: Clock):
    _ingest(ledger, generate_events(seed=16, subjects=2))
    assert ("ledger_verify_last_run_valid", ()) not in _samples(_exposition(ledger))
    record_verify_result(ledger.store, ledger.clock(), True, ledger.head_seq())
    good_at = ledger.clock().timestamp()
    clock.now += timedelta(hours=3)
    record_verify_result(ledger.store, ledger.clock(), False, ledger.head_seq())
    text = _exposition(ledger)
    assert _value(text, "ledger_verify_last_run_valid") == 0
    assert _value(text, "ledger_verify_last_run_timestamp_seconds") == ledger.clock().timestamp()
    assert _value(text, "ledger_verify_last_success_timestamp_seconds") == good_at


def test_key_store_operations_and_erasures_are_counted_once_committed(open_ledger: Any):
    ledger = open_ledger()
    subject, held, hold = new_id(), new_id(), new_id()
    created = _process_count("ledger_keystore_operations_total", operation="created")
    destroyed = _process_count("ledger_keystore_operations_total", operation="destroyed")
    executed = _process_count("ledger_erasures_total", outcome="executed")
    deferred = _process_count("ledger_erasures_total", outcome="deferred")
    hold_event = event(
        "LegalHoldPlaced",
        held,
        {"hold_id": hold, "categories": ["contact_details"], "reason": "litigation", "matter_ref": "M-1"},
    )
    _ingest(
        ledger,
        [
            collected(subject, [("contact_details", "email", "kay.store@example.com")]),
            collected(held, [("contact_details", "email", "held.back@example.com")]),
            hold_event,
        ],
    )
    # Two subjects, each a contact_details key and a fingerprint key.
    assert _process_count("ledger_keystore_operations_total", operation="created") - created == 4
    ledger.erase(subject, ["contact_details"])
    ledger.erase(held, ["contact_details"])
    assert _process_count("ledger_erasures_total", outcome="executed") - executed == 1
    assert _process_count("ledger_erasures_total", outcome="deferred") - deferred == 1
    # contact_details of the first; both subjects' dead-letter keys are destroyed by any erasure, but
    # neither had one: only the first subject's data key.
    assert _process_count("ledger_keystore_operations_total", operation="destroyed") - destroyed == 1
    assert _value(_exposition(ledger), "ledger_erasures_deferred_pending") == 1
    # A new process opens the held subject's live key with the master key when it reads it.
    unwrapped = _process_count("ledger_keystore_operations_total", operation="unwrapped")
    reopened = open_ledger()
    reopened.subject_events(held)
    assert _process_count("ledger_keystore_operations_total", operation="unwrapped") - unwrapped >= 1


def test_a_database_that_does_not_answer_is_reported_not_raised(open_ledger: Any):
    ledger = open_ledger()
    registry = exposition_registry(ledger)
    check = database_check(ledger.store)
    assert check() is None
    assert readiness({"database": check}) == (200, {"status": "ready", "checks": {"database": "ok"}})
    ledger.store.close()
    status, body = readiness({"database": check})
    assert status == 503 and body["status"] == "not ready"
    assert body["checks"]["database"].startswith("the database does not answer (")
    text = generate_latest(registry).decode()
    assert _value(text, "ledger_database_up") == 0
    assert "ledger_ingest_messages_total" not in text


def test_the_staff_service_answers_healthz_and_readyz_without_credentials(open_ledger: Any):
    ledger = open_ledger()
    client = TestClient(create_app(ledger), base_url="https://testserver")
    alive = client.get("/healthz")
    assert (alive.status_code, alive.json()) == (200, {"status": "alive"})
    ready = client.get("/readyz")
    assert (ready.status_code, ready.json()) == (200, {"status": "ready", "checks": {"database": "ok"}})
    doc = client.get("/openapi.json").json()
    assert doc["paths"]["/readyz"]["get"]["x-roles"] == ["public"]
    assert "/metrics" not in doc["paths"]  # Prometheus scrapes the operations port, not the API's
    ledger.store.close()
    down = client.get("/readyz")
    assert down.status_code == 503
    assert down.json()["checks"]["database"].startswith("the database does not answer")


def test_api_requests_are_counted_by_route_name_and_status_never_by_path(open_ledger: Any):
    ledger = open_ledger()
    client = TestClient(create_app(ledger), base_url="https://testserver")
    subject = new_id()
    before = _process_count("ledger_api_requests_total", route="subject_inventory", status="401")
    count = _process_count("ledger_api_request_duration_seconds_count", route="subject_inventory")
    assert client.get(f"/api/v1/subjects/{subject}/inventory").status_code == 401
    assert _process_count("ledger_api_requests_total", route="subject_inventory", status="401") == before + 1
    assert _process_count("ledger_api_request_duration_seconds_count", route="subject_inventory") == count + 1
    assert subject not in generate_latest(PROCESS_REGISTRY).decode()


@pytest.mark.parametrize("name", ["healthz", "readyz"])
def test_the_probes_are_public_routes_of_the_access_table(name: str):
    from ledger.web.access import ACCESS

    assert ACCESS[name].public and not ACCESS[name].roles
