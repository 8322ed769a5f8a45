"""The sample generator: deterministic, valid, covering the catalogue, and fictional."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ledger.domain.catalogue import EVENT_TYPES, SYSTEM_EVENT_TYPES, StreamKind
from ledger.sample import DEFAULT_END, generate_events, iter_jsonl, write_jsonl

SUBJECTS = 200


@pytest.fixture(scope="module")
def events() -> list[dict[str, Any]]:
    return generate_events(seed=7, subjects=SUBJECTS)


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from _strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _strings(inner)


class _Facts:
    """The store facts ``check_against_ledger`` needs, built from the events seen so far."""

    def __init__(self) -> None:
        self.merged: dict[str, str] = {}
        self.requests: dict[str, tuple[str, str]] = {}

    def resolve_subject(self, subject_id: str) -> str:
        while subject_id in self.merged:
            subject_id = self.merged[subject_id]
        return subject_id

    def merged_into(self, subject_id: str) -> str | None:
        return self.merged.get(subject_id)

    def request_subject(self, request_id: str) -> str | None:
        found = self.requests.get(request_id)
        return found[0] if found else None

    def request_received_at(self, request_id: str) -> str | None:
        found = self.requests.get(request_id)
        return found[1] if found else None

    def record(self, event: dict[str, Any]) -> None:
        payload = event["payload"]
        if event["event_type"] == "SubjectsMerged":
            self.merged[payload["merged_subject_id"]] = payload["surviving_subject_id"]
        elif event["event_type"] == "RightsRequestReceived":
            self.requests[payload["request_id"]] = (event["subject_id"], event["occurred_at"])


def test_same_seed_gives_identical_output() -> None:
    assert generate_events(seed=11, subjects=40) == generate_events(seed=11, subjects=40)


def test_different_seed_gives_different_output() -> None:
    assert generate_events(seed=11, subjects=40) != generate_events(seed=12, subjects=40)


def test_every_event_passes_validation(events: list[dict[str, Any]]) -> None:
    validation = pytest.importorskip("ledger.domain.validation")
    from ledger.codelists import load_code_lists

    codes = load_code_lists()
    recorded_at = DEFAULT_END + timedelta(days=1)
    facts = _Facts()
    for event in events:
        normalised = validation.validate_event(event, codes, recorded_at)
        validation.check_against_ledger(normalised, facts)
        facts.record(event)


def test_every_producer_event_type_appears(events: list[dict[str, Any]]) -> None:
    wanted = {
        name
        for name, spec in EVENT_TYPES.items()
        if name not in SYSTEM_EVENT_TYPES and spec.stream is not StreamKind.ALERT
    }
    seen = {e["event_type"] for e in events}
    assert wanted - seen == set()
    assert seen <= wanted  # never KeyShredded, ErasureDeferred or alert handling


def test_every_role_source_recipient_category_and_request_type_appears(
    events: list[dict[str, Any]],
) -> None:
    codes = json.loads(Path("schemas/codelists.json").read_text(encoding="utf-8"))["lists"]
    roles, sources, recipients, requests = set(), set(), set(), set()
    for e in events:
        p = e["payload"]
        if e["event_type"] == "SubjectRegistered":
            roles.update(p["roles"])
        elif e["event_type"] == "SubjectRoleChanged":
            roles.add(p["role"])
        elif e["event_type"] == "DataCollected":
            sources.add(p["source"]["type"])
        elif e["event_type"] in ("DataShared", "TransferredInternationally"):
            recipients.add(p["recipient"]["category"])
        elif e["event_type"] == "RightsRequestReceived":
            requests.add(p["request_type"])
    assert roles == set(codes["role"])
    assert sources == set(codes["source_type"])
    assert recipients == set(codes["recipient_category"])
    assert requests == set(codes["request_type"])


def test_every_third_party_and_public_source_name_appears(events: list[dict[str, Any]]) -> None:
    names = {
        (e["payload"]["source"]["type"], e["payload"]["source"].get("name"))
        for e in events
        if e["event_type"] == "DataCollected"
    }
    for needed in ("credit_reference_agency", "fraud_prevention_agency", "recruitment_agency"):
        assert ("third_party", needed) in names
    assert ("public_source", "company_register") in names


def test_output_is_sorted_by_occurred_at_instant(events: list[dict[str, Any]]) -> None:
    instants = [_instant(e["occurred_at"]) for e in events]
    assert instants == sorted(instants)


def test_occurred_at_mixes_z_and_bst_offsets_within_the_window(
    events: list[dict[str, Any]],
) -> None:
    texts = [e["occurred_at"] for e in events]
    assert any(t.endswith("Z") for t in texts)
    assert any(t.endswith("+01:00") for t in texts)
    assert all(t.endswith(("Z", "+01:00")) for t in texts)
    assert all(_instant(t) <= DEFAULT_END for t in texts)


def test_per_subject_occurred_at_never_goes_backwards(events: list[dict[str, Any]]) -> None:
    last: dict[str, datetime] = {}
    for e in events:
        at = _instant(e["occurred_at"])
        assert at >= last.get(e["subject_id"], at)
        last[e["subject_id"]] = at


def test_references_point_to_earlier_events(events: list[dict[str, Any]]) -> None:
    created: dict[str, set[str]] = {"event": set()}
    request_subject: dict[str, str] = {}
    for e in events:
        spec = EVENT_TYPES[e["event_type"]]
        payload = e["payload"]
        for ref in spec.references:
            if ref.field in payload:
                assert payload[ref.field] in created.get(ref.kind, set()), (e["event_id"], ref)
        if spec.stream is StreamKind.REQUEST and e["event_type"] != "RightsRequestReceived":
            assert request_subject[payload["request_id"]] == e["subject_id"]
        if spec.creates is not None and spec.creates_field is not None:
            created.setdefault(spec.creates, set()).add(payload[spec.creates_field])
        if e["event_type"] == "RightsRequestReceived":
            request_subject[payload["request_id"]] = e["subject_id"]
        created["event"].add(e["event_id"])


def test_event_ids_are_unique_and_subject_ids_are_surrogates(
    events: list[dict[str, Any]],
) -> None:
    assert len({e["event_id"] for e in events}) == len(events)
    names = {e["payload"].get("display_name") for e in events}
    assert not names & {e["subject_id"] for e in events}


def test_no_value_holds_an_at_sign_except_fictional_example_com_emails(
    events: list[dict[str, Any]],
) -> None:
    emails = set()
    for text in _strings(events):
        if "@" in text:
            assert text.endswith("@example.com"), text
            emails.add(text)
    assert emails
    actors = {e["actor_ref"] for e in events if "actor_ref" in e}
    assert actors and all(a.startswith(("staff:", "system:")) for a in actors)


def test_non_compliant_facts_are_present_for_the_alerts(events: list[dict[str, Any]]) -> None:
    shares = [e["payload"] for e in events if e["event_type"] == "DataShared"]
    assert any(
        p["recipient"]["country"] == "US"
        and not p["recipient"].get("dpf_certified")
        and "transfer_mechanism" not in p
        for p in shares
    )
    specials = [
        p
        for e in events
        if e["event_type"] == "DataCollected"
        for p in [e["payload"]]
        if any(i.get("special_category") for i in p["data_items"])
    ]
    assert any(all("art9_condition" not in x for x in p["purposes"]) for p in specials)
    withdrawn: set[str] = set()
    late_marketing = False
    for e in events:
        if e["event_type"] == "ConsentWithdrawn" and e["payload"]["purpose"] == "b2b_marketing":
            withdrawn.add(e["subject_id"])
        elif e["event_type"] == "DataUsed" and e["payload"]["purpose"] == "b2b_marketing":
            late_marketing |= e["subject_id"] in withdrawn
    assert late_marketing, "no direct marketing after a consent withdrawal"


def test_erasures_are_full_per_category_and_some_under_an_active_legal_hold(
    events: list[dict[str, Any]],
) -> None:
    active: dict[str, set[str]] = {}
    full = per_category = held = 0
    for e in events:
        p, subject = e["payload"], e["subject_id"]
        if e["event_type"] == "LegalHoldPlaced":
            active.setdefault(subject, set()).add(p["hold_id"])
        elif e["event_type"] == "LegalHoldReleased":
            active.get(subject, set()).discard(p["hold_id"])
        elif e["event_type"] == "DataErased":
            full += p["categories"] == ["*"]
            per_category += p["categories"] != ["*"]
            held += bool(active.get(subject))
    assert full and per_category and held


def test_write_jsonl_then_iter_jsonl_round_trips(tmp_path: Path) -> None:
    sample = generate_events(seed=3, subjects=10)
    path = tmp_path / "sample.jsonl"
    assert write_jsonl(path, sample) == len(sample)
    assert list(iter_jsonl(path)) == sample


def test_1500_subjects_give_at_least_20000_events() -> None:
    assert len(generate_events(seed=7, subjects=1500)) >= 20_000


def test_invalid_window_is_rejected() -> None:
    with pytest.raises(ValueError):
        generate_events(start=DEFAULT_END, end=DEFAULT_END)
