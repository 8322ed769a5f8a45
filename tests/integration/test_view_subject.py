"""Per-subject queries: inventory (spec 6.1), consent state (6.3) and portability (6.11), both backends.

Values are decrypted at read time; once a key is shredded the value is ``null`` with ``value_state``
``erased`` at every ``as_of``, and no plaintext appears anywhere in the answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from conftest import FIXED_NOW, Clock

from ledger.bootstrap import Ledger
from ledger.calendars import load_calendar
from ledger.sample import generate_events
from ledger.store.messages import Message
from ledger.testing import collected, event, new_id
from projections.alerts import AlertsView
from projections.context import ProjectionContext
from projections.notices import NoticesView
from projections.reading import ReadContext
from projections.requests import RequestsView
from projections.retention import RetentionView
from projections.runner import ProjectionRunner
from projections.subject import consent_state, portability, subject_inventory

S1, S2 = "00000000-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"
PLAINTEXTS = (
    "Ivy Inventory",
    "ivy.inventory@example.com",
    "ivy.new@example.com",
    "7 Fictional Lane",
    "band-C",
)
CONTRACT = [{"purpose": "agreement_performance", "lawful_basis": "contract"}]
# Spec 6.3 lists every purpose the register documents consent for, NONE without a consent event.
CONSENT_PURPOSES = ("agreed_other", "b2b_marketing", "market_research_analysis", "usage_demographics")


def _no_consent(purpose: str) -> dict[str, Any]:
    return {
        "purpose": purpose,
        "status": "NONE",
        "consent_id": None,
        "given_at": None,
        "withdrawn_at": None,
        "method": None,
        "notice_version": None,
        "explicit": None,
        "expires_at": None,
    }


def _messages(events: list[dict[str, Any]]) -> list[Message]:
    return [Message("test", 0, i, event=e, raw=json.dumps(e).encode()) for i, e in enumerate(events)]


def _ingest(ledger: Ledger, events: list[dict[str, Any]]) -> None:
    result = ledger.ingest_messages(_messages(events))
    assert result.dead_letters == []


def _runner(ledger: Ledger) -> ProjectionRunner:
    ctx = ProjectionContext(ledger.store, ledger.codes, load_calendar())
    views = [NoticesView(), RetentionView(), RequestsView(), AlertsView()]
    runner = ProjectionRunner(ledger.store, views, ctx)
    runner.catch_up()
    return runner


def _at(ledger: Ledger, runner: ProjectionRunner, when: str, query: Callable[..., Any], subject: str) -> Any:
    with ledger.store.read() as cur:
        rctx = ReadContext(
            store=ledger.store, keys=ledger.keys, ctx=runner.ctx, as_of=datetime.fromisoformat(when), cur=cur
        )
        return query(cur, rctx, subject)


def _ivy() -> list[dict[str, Any]]:
    """One fictional subject: registered, collected from, rectified, scheduled, shared, consented, asking."""
    art14 = {
        "data_items": [{"category": "credit_history", "field": "score", "value": "band-C"}],
        "source": {"type": "third_party", "name": "credit_reference_agency"},
        "purposes": CONTRACT,
        "processing_means": "automated",
    }
    shared = {
        "recipient": {
            "recipient_id": "FICT-BUREAU-1",
            "name": "Fictional Bureau Ltd",
            "category": "credit_reference_agency",
            "role": "controller",
            "country": "GB",
        },
        "categories": ["credit_history"],
        "purpose": "agreement_performance",
        "lawful_basis": "contract",
    }
    return [
        event(
            "SubjectRegistered",
            S1,
            {"roles": ["client_contact"], "display_name": "Ivy Inventory"},
            occurred_at="2026-01-05T09:00:00Z",
        ),
        collected(
            S1,
            [
                ("contact_details", "email", "ivy.inventory@example.com"),
                ("postal_address", "line1", "7 Fictional Lane"),
            ],
            occurred_at="2026-01-10T09:00:00Z",
        ),
        event("DataCollected", S1, art14, occurred_at="2026-01-12T09:00:00Z"),
        event(
            "DataRectified",
            S1,
            {
                "items": [
                    {"category": "contact_details", "field": "email", "new_value": "ivy.new@example.com"}
                ],
                "reason": "data_quality",
            },
            occurred_at="2026-02-01T09:00:00Z",
        ),
        event(
            "RetentionScheduleAssigned",
            S1,
            {
                "categories": ["contact_details"],
                "rule_id": "R-CONTACT-1",
                "trigger_date": "2026-01-10",
                "retain_until": "2026-06-30",
            },
            occurred_at="2026-01-10T09:00:00Z",
        ),
        event("DataShared", S1, shared, occurred_at="2026-01-20T09:00:00Z"),
    ]


def _item(category: str, field: str, value: Any, first: str, last: str, **extra: Any) -> dict[str, Any]:
    out = {
        "category": category,
        "field": field,
        "value": value,
        "value_state": "available",
        "special_category": False,
        "first_collected_at": first,
        "last_changed_at": last,
        "sources": [{"type": "data_subject", "channel": "online"}],
        "purposes": CONTRACT,
        "restricted": False,
        "on_legal_hold": False,
        "retain_until": None,
        "portability_eligible": True,
    }
    out.update(extra)
    return out


JAN10 = "2026-01-10T09:00:00.000000Z"
JAN12 = "2026-01-12T09:00:00.000000Z"
FEB01 = "2026-02-01T09:00:00.000000Z"
CREDIT = {
    "sources": [{"type": "third_party", "name": "credit_reference_agency"}],
    "portability_eligible": False,
}


def test_inventory_shows_each_item_with_its_latest_value_decrypted(ledger: Ledger):
    request = new_id()
    received = {"request_id": request, "request_type": "access", "channel": "email", "via_third_party": False}
    _ingest(
        ledger, [*_ivy(), event("RightsRequestReceived", S1, received, occurred_at="2026-02-10T09:00:00Z")]
    )
    runner = _runner(ledger)
    assert _at(ledger, runner, "2026-03-01T12:00:00Z", subject_inventory, S1) == {
        "subject_id": S1,
        "resolved_subject_id": S1,
        "known": True,
        "merged_subject_ids": [],
        "roles": ["client_contact"],
        "erasure_state": "none",
        "items": [
            _item("contact_details", "email", "ivy.new@example.com", JAN10, FEB01, retain_until="2026-06-30"),
            _item("credit_history", "score", "band-C", JAN12, JAN12, **CREDIT),
            _item("postal_address", "line1", "7 Fictional Lane", JAN10, JAN10),
        ],
        "consents": [_no_consent(p) for p in CONSENT_PURPOSES],
        "dm_suppressed": False,
        "open_request_ids": [request],
        "recipient_ids": ["FICT-BUREAU-1"],
    }
    earlier = _at(ledger, runner, "2026-01-15T12:00:00Z", subject_inventory, S1)
    assert earlier["items"][0]["value"] == "ivy.inventory@example.com"
    assert (earlier["recipient_ids"], earlier["open_request_ids"]) == ([], [])


def test_after_erasure_every_value_is_null_at_every_as_of_and_no_plaintext_is_shown(ledger: Ledger):
    _ingest(ledger, _ivy())
    assert ledger.erase(S1).dead_letters == []
    runner = _runner(ledger)
    for when in ("2026-01-15T12:00:00Z", "2026-03-01T12:00:00Z", "2026-11-02T12:00:00Z"):
        inventory = _at(ledger, runner, when, subject_inventory, S1)
        assert inventory["erasure_state"] == "full"
        assert [(i["value"], i["value_state"]) for i in inventory["items"]] == [(None, "erased")] * len(
            inventory["items"]
        )
        answers = json.dumps(
            [
                inventory,
                _at(ledger, runner, when, consent_state, S1),
                _at(ledger, runner, when, portability, S1),
            ]
        )
        assert [p for p in PLAINTEXTS if p in answers] == []
        assert _at(ledger, runner, when, portability, S1)["eligible_items"] == []
    # The skeleton stays listed: the evidence trail.
    items = _at(ledger, runner, "2026-03-01T12:00:00Z", subject_inventory, S1)["items"]
    assert [(i["category"], i["field"]) for i in items] == [
        ("contact_details", "email"),
        ("credit_history", "score"),
        ("postal_address", "line1"),
    ]


def test_erasure_of_one_category_is_partial_and_a_held_one_is_deferred(ledger: Ledger, clock: Clock):
    hold = {
        "hold_id": new_id(),
        "categories": ["postal_address"],
        "reason": "litigation",
        "matter_ref": "M-7",
    }
    _ingest(ledger, [*_ivy(), event("LegalHoldPlaced", S1, hold, occurred_at="2026-02-15T09:00:00Z")])
    clock.now = datetime.fromisoformat("2026-03-01T09:00:00Z")
    assert ledger.erase(S1).dead_letters == []
    clock.now = FIXED_NOW
    runner = _runner(ledger)
    inventory = _at(ledger, runner, "2026-04-01T12:00:00Z", subject_inventory, S1)
    assert inventory["erasure_state"] == "partial"
    assert [
        (i["category"], i["value"], i["value_state"], i["on_legal_hold"]) for i in inventory["items"]
    ] == [
        ("contact_details", None, "erased", False),
        ("credit_history", None, "erased", False),
        ("postal_address", "7 Fictional Lane", "erasure_deferred", True),
    ]


def test_consent_state_follows_preferences_and_withdrawal_with_dm_suppression(ledger: Ledger):
    consent_id = new_id()
    given = {
        "consent_id": consent_id,
        "purpose": "b2b_marketing",
        "method": "web_form",
        "notice_version": "2026.1",
        "explicit": True,
    }
    opt_out = event(
        "MarketingPreferenceChanged",
        S1,
        {"channel": "email", "preference": "opt_out"},
        occurred_at="2026-03-01T09:00:00Z",
    )
    withdrawn = event(
        "ConsentWithdrawn",
        S1,
        {"purpose": "b2b_marketing", "consent_id": consent_id, "method": "email"},
        occurred_at="2026-04-01T09:00:00Z",
    )
    _ingest(
        ledger, [event("ConsentGiven", S1, given, occurred_at="2026-02-01T09:00:00Z"), opt_out, withdrawn]
    )
    runner = _runner(ledger)
    channels = ["email", "phone", "post", "sms"]

    def expected(status: str, withdrawn_at: str | None, pref: str, blocked: dict[str, str]) -> dict[str, Any]:
        return {
            "subject_id": S1,
            "resolved_subject_id": S1,
            "known": True,
            "consents": [
                _no_consent("agreed_other"),
                {
                    "purpose": "b2b_marketing",
                    "status": status,
                    "consent_id": consent_id,
                    "given_at": FEB01,
                    "withdrawn_at": withdrawn_at,
                    "method": "web_form",
                    "notice_version": "2026.1",
                    "explicit": True,
                    "expires_at": None,
                },
                _no_consent("market_research_analysis"),
                _no_consent("usage_demographics"),
            ],
            "marketing_preferences": [
                {
                    "channel": c,
                    "marketing_preference": pref if c == "email" else "UNSPECIFIED",
                    "changed_at": "2026-03-01T09:00:00.000000Z"
                    if c == "email" and pref != "UNSPECIFIED"
                    else None,
                }
                for c in channels
            ],
            "dm_suppression": [
                {
                    "purpose": "b2b_marketing",
                    "channel": c,
                    "suppressed": c in blocked,
                    "blocking_event_ids": [blocked[c]] if c in blocked else [],
                }
                for c in channels
            ],
            "dm_suppressed": len(blocked) == len(channels),
        }

    assert _at(ledger, runner, "2026-02-15T12:00:00Z", consent_state, S1) == expected(
        "GIVEN", None, "UNSPECIFIED", {}
    )
    assert _at(ledger, runner, "2026-03-15T12:00:00Z", consent_state, S1) == expected(
        "GIVEN", None, "OPT_OUT", {"email": opt_out["event_id"]}
    )
    everywhere = dict.fromkeys(channels, withdrawn["event_id"])
    later = expected("WITHDRAWN", "2026-04-01T09:00:00.000000Z", "OPT_OUT", everywhere)
    assert _at(ledger, runner, "2026-04-15T12:00:00Z", consent_state, S1) == later
    inventory = _at(ledger, runner, "2026-04-15T12:00:00Z", subject_inventory, S1)
    assert (inventory["consents"], inventory["dm_suppressed"]) == (later["consents"], True)


def test_portability_lists_eligible_non_erased_items_sorted(ledger: Ledger):
    observed = {
        "data_items": [{"category": "device_technical", "field": "device", "value": {"ip": "192.0.2.7"}}],
        "source": {"type": "observed", "name": "platform"},
        "purposes": [
            {"purpose": "usage_demographics", "lawful_basis": "legitimate_interests", "li_ref": "LI-2"}
        ],
        "processing_means": "automated",
    }
    paper = {
        "data_items": [{"category": "date_of_birth", "field": "dob", "value": "1990-01-01"}],
        "source": {"type": "data_subject", "channel": "post"},
        "purposes": CONTRACT,
        "processing_means": "manual",
    }
    _ingest(
        ledger,
        [
            collected(
                S1,
                [
                    ("job_title", "title", "Fictional Engineer"),
                    ("contact_details", "phone", "+44 20 7946 0000"),
                    ("contact_details", "email", "pat.portable@example.com"),
                ],
            ),
            event("DataCollected", S1, observed),
            event("DataCollected", S1, paper),
        ],
    )
    runner = _runner(ledger)
    assert _at(ledger, runner, "2026-10-02T00:00:00Z", portability, S1) == {
        "subject_id": S1,
        "resolved_subject_id": S1,
        "known": True,
        "eligible_items": [
            {"category": "contact_details", "field": "email"},
            {"category": "contact_details", "field": "phone"},
            {"category": "job_title", "field": "title"},
        ],
    }
    ledger.erase(S1, ["contact_details"])
    runner.catch_up()
    for when in ("2026-10-02T00:00:00Z", "2026-11-02T00:00:00Z"):
        assert _at(ledger, runner, when, portability, S1)["eligible_items"] == [
            {"category": "job_title", "field": "title"}
        ]


def test_a_merged_subject_answers_for_its_survivor(ledger: Ledger):
    merge = {"surviving_subject_id": S2, "merged_subject_id": S1, "reason": "identity_matched"}
    _ingest(
        ledger,
        [
            collected(S1, [("contact_details", "email", "mo.merged@example.com")]),
            collected(
                S2, [("contact_details", "phone", "+44 20 7946 0001")], occurred_at="2026-10-02T09:00:00Z"
            ),
            event("SubjectsMerged", S2, merge, occurred_at="2026-10-03T09:00:00Z"),
        ],
    )
    runner = _runner(ledger)
    inventory = _at(ledger, runner, "2026-10-05T00:00:00Z", subject_inventory, S1)
    assert (inventory["subject_id"], inventory["resolved_subject_id"], inventory["merged_subject_ids"]) == (
        S1,
        S2,
        [S1],
    )
    assert [(i["field"], i["value"]) for i in inventory["items"]] == [
        ("email", "mo.merged@example.com"),
        ("phone", "+44 20 7946 0001"),
    ]
    assert _at(ledger, runner, "2026-10-05T00:00:00Z", subject_inventory, S2)["items"] == inventory["items"]


def test_an_unknown_subject_is_reported_unknown_not_raised(ledger: Ledger):
    _ingest(ledger, [collected(S1, [("contact_details", "email", "early.bird@example.com")])])
    runner = _runner(ledger)
    stranger = new_id()
    for query in (subject_inventory, consent_state, portability):
        assert _at(ledger, runner, "2026-10-05T00:00:00Z", query, stranger) == {
            "subject_id": stranger,
            "known": False,
        }
        # Before its first event a subject is not known yet either.
        assert _at(ledger, runner, "2026-09-30T00:00:00Z", query, S1) == {"subject_id": S1, "known": False}
    assert _at(ledger, runner, "2026-10-05T00:00:00Z", subject_inventory, "not-a-uuid") == {
        "subject_id": "not-a-uuid",
        "known": False,
    }


@pytest.fixture(scope="module")
def sample() -> list[dict[str, Any]]:
    """Fictional sample events of 60 subjects."""
    return generate_events(seed=3, subjects=60)


def test_every_sample_subject_answers_and_a_rebuild_changes_nothing(
    ledger: Ledger, sample: list[dict[str, Any]]
):
    _ingest(ledger, sample)
    runner = _runner(ledger)
    subjects = sorted({e["subject_id"] for e in sample if e.get("subject_id")})

    def answers() -> list[Any]:
        out = []
        for when in ("2026-04-01T00:00:00Z", "2026-11-01T12:00:00Z"):
            for subject in subjects:
                for query in (subject_inventory, consent_state, portability):
                    out.append(json.dumps(_at(ledger, runner, when, query, subject), sort_keys=True))
        return out

    before = answers()
    assert sum('"known": true' in a for a in before) > len(subjects)
    assert any('"value_state": "erased"' in a for a in before), "the sample erases some data"
    assert any('"value_state": "available"' in a for a in before)
    runner.rebuild()
    assert answers() == before
