"""Validation of an event's JSON form: spec 3.1 envelope, section 4 payloads, 3.6 error codes."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ledger.codelists import load_code_lists
from ledger.domain.catalogue import EVENT_TYPES, LEDGER_SUBJECT_ID, SYSTEM_EVENT_TYPES
from ledger.domain.codes import CodeLists
from ledger.domain.validation import (
    FUTURE_SKEW,
    MAX_MESSAGE_BYTES,
    MAX_PAYLOAD_BYTES,
    canonical_timestamp,
    check_against_ledger,
    parse_json_message,
    validate_event,
)
from ledger.errors import ErrorCode, EventRejected, LedgerError

RECORDED_AT = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SENTINEL = "leak@example.com"


def uid(n: int) -> str:
    return f"7d3a9c1e-5b2f-4e8a-9c0d-{n:012d}"


SUBJECT = uid(1)
OTHER = uid(2)
REQUEST = uid(10)


@pytest.fixture(scope="module")
def codes() -> CodeLists:
    return load_code_lists()


# --- one valid, fictional example of every event type (payloads only) ---

RECIPIENT = {
    "recipient_id": "EXAMPLE-CLOUD-01",
    "name": "Example Cloud Inc",
    "category": "supplier_processor",
    "role": "processor",
    "country": "US",
    "same_legal_entity": False,
    "dpf_certified": True,
    "adequacy_scope_confirmed": False,
}
DISCLOSURE = {
    "recipient": RECIPIENT,
    "transfer_mechanism": "idta",
    "tra_ref": "TRA-2026-001",
    "categories": ["contact_details"],
    "purpose": "b2b_marketing",
    "lawful_basis": "legitimate_interests",
    "li_ref": "LI-1",
    "restriction_exemption": "subject_consent",
}

EXAMPLES: dict[str, dict[str, Any]] = {
    "SubjectRegistered": {
        "roles": ["job_applicant", "website_user"],
        "display_name": "Ada Example",
    },
    "SubjectRoleChanged": {"role": "employee", "change": "added"},
    "SubjectsMerged": {
        "surviving_subject_id": SUBJECT,
        "merged_subject_id": OTHER,
        "reason": "duplicate_record",
    },
    "DataCollected": {
        "data_items": [
            {"category": "contact_details", "field": "email", "value": "ada@example.com"},
            {
                "category": "postal_address",
                "field": "address",
                "value": {"line1": "1 Example Street", "postcode": "ZZ9 9ZZ"},
                "special_category": False,
            },
            {"category": "health", "field": "adjustments", "value": True, "special_category": True},
            {"category": "job_title", "field": "grade", "value": 7},
        ],
        "source": {"type": "data_subject", "channel": "online"},
        "purposes": [
            {"purpose": "records_administration", "lawful_basis": "contract"},
            {
                "purpose": "agreed_other",
                "lawful_basis": "consent",
                "art9_condition": "explicit_consent",
                "dpa_sch1_ref": "Sch 1 para 1",
                "agreement_ref": "AGR-2026-7",
            },
            {
                "purpose": "crime_prevention",
                "lawful_basis": "recognised_legitimate_interest",
                "rli_ref": "crime",
                "art10_condition_ref": "Sch 1 para 10",
            },
        ],
        "processing_means": "automated",
        "art13_notice_given": True,
    },
    "DataUsed": {
        "purpose": "b2b_marketing",
        "lawful_basis": "legitimate_interests",
        "li_ref": "LI-1",
        "categories": ["contact_details", "name"],
        "channel": "email",
        "automated": True,
        "restriction_exemption": "legal_claims",
        "operation": "campaign:2026-spring",
    },
    "DataShared": DISCLOSURE,
    "TransferredInternationally": {
        **DISCLOSURE,
        "recipient": {**RECIPIENT, "country": "JP", "adequacy_scope_confirmed": True},
    },
    "DataRectified": {
        "items": [{"category": "contact_details", "field": "email", "new_value": "ada@example.org"}],
        "request_id": REQUEST,
        "reason": "subject_request",
    },
    "DataErased": {"categories": ["*"], "reason": "erasure_request", "request_id": REQUEST},
    "ProcessingRestricted": {
        "restriction_id": uid(20),
        "categories": ["contact_details"],
        "purposes": [],
        "ground": "accuracy_contested",
        "request_id": REQUEST,
    },
    "RestrictionLifted": {
        "restriction_id": uid(20),
        "reason": "accuracy_verified",
        "subject_informed_at": "2026-03-01T17:00:00+00:00",
    },
    "LegalHoldPlaced": {
        "hold_id": uid(30),
        "categories": ["financial_details"],
        "reason": "litigation",
        "matter_ref": "MATTER-2026-11",
    },
    "LegalHoldReleased": {"hold_id": uid(30)},
    "RetentionScheduleAssigned": {
        "categories": ["financial_details"],
        "rule_id": "RET-FIN-6Y",
        "trigger_date": "2026-04-05",
        "retain_until": "2032-04-05",
    },
    "RetentionExpired": {"categories": ["financial_details"], "retain_until": "2026-02-28"},
    "RecipientNotified": {
        "recipient_id": "EXAMPLE-CLOUD-01",
        "notification_type": "erasure",
        "ref_event_id": uid(40),
        "outcome": "sent",
    },
    "ConsentGiven": {
        "consent_id": uid(50),
        "purpose": "b2b_marketing",
        "method": "web_form",
        "notice_version": "2026-01",
        "explicit": True,
        "expires_at": "2028-03-02T09:15:00-05:00",
        "evidence": {"form": "newsletter", "ip": "192.0.2.10", "nested": {"ticked": True}},
    },
    "ConsentWithdrawn": {"purpose": "b2b_marketing", "consent_id": uid(50), "method": "email"},
    "MarketingPreferenceChanged": {
        "channel": "email",
        "preference": "opt_out",
        "purposes": ["b2b_marketing"],
    },
    "ObjectionRaised": {
        "objection_id": uid(60),
        "ground": "particular_situation",
        "purposes": ["market_research_analysis"],
        "request_id": REQUEST,
        "statement": "Please stop the analysis.",
    },
    "ObjectionDecided": {"objection_id": uid(60), "outcome": "upheld"},
    "PrivacyNoticeProvided": {
        "notice_version": "2026-01",
        "article": "art14",
        "topics": ["general", "cra_sharing"],
        "channel": "email",
    },
    "RightsRequestReceived": {
        "request_id": REQUEST,
        "request_type": "erasure",
        "channel": "email",
        "via_third_party": False,
        "requester_name": "Ada Example",
        "requester_contact": "ada@example.com",
        "description": "Please delete my account.",
        "grounds": ["consent_withdrawn", "accuracy_contested"],
    },
    "IdentityVerificationRequested": {"request_id": REQUEST, "kind": "identity"},
    "IdentityEvidenceReceived": {"request_id": REQUEST, "kind": "third_party_authority"},
    "IdentityVerified": {"request_id": REQUEST, "method": "document_check"},
    "IdentityVerificationFailed": {"request_id": REQUEST, "reason": "document_mismatch"},
    "FeeRequested": {"request_id": REQUEST, "amount_pence": 1000, "reason": "further_copies"},
    "FeePaid": {"request_id": REQUEST, "amount_pence": 1000},
    "ClarificationRequested": {"request_id": REQUEST, "question": "Which accounts?"},
    "ClarificationReceived": {"request_id": REQUEST, "answer": "The platform account."},
    "RequestExtended": {
        "request_id": REQUEST,
        "reason": "complexity",
        "notice_sent_at": "2026-03-02T10:00:00Z",
        "reasons_stated": True,
    },
    "RequestFulfilled": {
        "request_id": REQUEST,
        "outcome": "partial",
        "retained_categories": ["financial_details"],
        "retention_reason": "legal_obligation",
        "notes": "Payroll records kept.",
    },
    "RequestRefused": {
        "request_id": REQUEST,
        "reason": "manifestly_excessive",
        "exemption_ref": "DPA Sch 2 para 5",
        "complaint_rights_notified": True,
        "details": "Fifth identical request.",
    },
    "RequestWithdrawn": {"request_id": REQUEST},
    "RequestClosed": {"request_id": REQUEST, "reason": "fee_not_paid"},
    "AutomatedDecisionMade": {
        "decision_id": uid(70),
        "decision_type": "credit_check",
        "significant": True,
        "solely_automated": True,
        "special_category_used": False,
        "lawful_basis": "contract",
        "art9_condition": "explicit_consent",
        "safeguards_notified": True,
        "outcome_code": "REFER",
    },
    "ComplaintReceived": {
        "complaint_id": uid(80),
        "channel": "email",
        "about_request_id": REQUEST,
        "text": "My request took too long.",
    },
    "ComplaintAcknowledged": {"complaint_id": uid(80)},
    "ComplaintOutcomeSent": {"complaint_id": uid(80)},
    "AlertAcknowledged": {"alert_id": uid(90), "note": "Ticket DPO-123 opened."},
    "AlertResolved": {"alert_id": uid(90), "note": "Fixed upstream."},
    "KeyShredded": {"category": "contact_details", "key_versions": [1, 2]},
    "ErasureDeferred": {
        "categories": ["financial_details"],
        "hold_ids": [uid(30)],
        "ref_event_id": uid(41),
    },
    "PersonalDataViewed": {
        "actor_ref": uid(95),
        "role": "officer",
        "view": "inventory",
        "reason": "rights_request",
        "interface": "api",
    },
}


def envelope(event_type: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    """A complete, valid event of ``event_type`` (its example payload unless one is given)."""
    event: dict[str, Any] = {
        "event_id": uid(1000),
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": "2026-03-02T11:15:00.123456+01:00",
        "producer": {"system": "crm", "instance": "crm-eu-1"},
        "subject_id": SUBJECT,
        "correlation_id": "journey-0001",
        "actor_ref": "staff:0042",
        "payload": copy.deepcopy(EXAMPLES[event_type] if payload is None else payload),
    }
    if EVENT_TYPES[event_type].subject_optional:
        del event["subject_id"]
    return event


def validate(codes: CodeLists, event: dict[str, Any], **kw: Any) -> dict[str, Any]:
    allow = kw.pop("allow_system", event.get("event_type") in SYSTEM_EVENT_TYPES)
    return validate_event(event, codes, kw.pop("recorded_at", RECORDED_AT), allow_system=allow)


def rejection(codes: CodeLists, event: dict[str, Any], **kw: Any) -> EventRejected:
    with pytest.raises(EventRejected) as info:
        validate(codes, event, **kw)
    return info.value


_PERSONAL_JSON = {"value", "new_value", "evidence"}


def with_strays(node: Any) -> Any:
    """``node`` with an unknown field added to every object, except inside personal JSON values."""
    if isinstance(node, dict):
        out = {k: v if k in _PERSONAL_JSON else with_strays(v) for k, v in node.items()}
        out["stray_field"] = SENTINEL
        return out
    if isinstance(node, list):
        return [with_strays(x) for x in node]
    return node


# --- valid events ---


def test_every_catalogue_event_type_has_a_valid_example() -> None:
    assert set(EXAMPLES) == set(EVENT_TYPES)
    assert len(EXAMPLES) == 45  # the 44 of spec 4 and PersonalDataViewed, the spec 8 read audit


@pytest.mark.parametrize("event_type", sorted(EXAMPLES))
def test_a_valid_event_of_every_type_passes_unchanged(codes: CodeLists, event_type: str) -> None:
    event = envelope(event_type)
    assert validate(codes, event) == event


@pytest.mark.parametrize("event_type", sorted(EXAMPLES))
def test_unknown_fields_are_dropped_at_every_level(codes: CodeLists, event_type: str) -> None:
    event = envelope(event_type)
    noisy = with_strays(event)
    noisy.update(recorded_at="2026-01-01T00:00:00Z", seq=7, prev_hash="0" * 64, hash="f" * 64)
    normalised = validate(codes, noisy)
    assert normalised == event
    assert SENTINEL not in json.dumps(normalised)


def test_personal_json_values_are_kept_exactly_as_given(codes: CodeLists) -> None:
    value = {"line1": "1 Example Street", "extra": {"deep": [1, None, "x"]}}
    event = envelope(
        "DataCollected",
        {
            **EXAMPLES["DataCollected"],
            "data_items": [{"category": "postal_address", "field": "address", "value": value}],
        },
    )
    normalised = validate(codes, event)
    assert normalised["payload"]["data_items"][0]["value"] == value
    value["line1"] = "changed"
    assert normalised["payload"]["data_items"][0]["value"]["line1"] == "1 Example Street"


def test_the_normalised_event_is_a_new_object(codes: CodeLists) -> None:
    event = envelope("DataUsed")
    normalised = validate(codes, event)
    normalised["payload"]["categories"].append("name")
    assert event["payload"]["categories"] == ["contact_details", "name"]


@pytest.mark.parametrize(
    ("event_type", "where", "field"),
    [
        ("DataUsed", (), "correlation_id"),
        ("DataUsed", (), "actor_ref"),
        ("DataUsed", ("producer",), "instance"),
        ("DataUsed", ("payload",), "channel"),
        ("DataUsed", ("payload",), "li_ref"),
        ("DataErased", ("payload",), "request_id"),
        ("ConsentGiven", ("payload",), "expires_at"),
        ("ConsentGiven", ("payload",), "evidence"),
        ("RequestExtended", ("payload",), "notice_sent_at"),
        ("DataCollected", ("payload", "data_items", 1), "special_category"),
        ("DataShared", ("payload", "recipient"), "dpf_certified"),
        ("MarketingPreferenceChanged", ("payload",), "purposes"),
        ("ObjectionRaised", ("payload",), "statement"),
    ],
)
def test_an_optional_null_is_the_same_as_absent(
    codes: CodeLists, event_type: str, where: tuple[str | int, ...], field: str
) -> None:
    if event_type == "DataUsed" and field == "channel":
        event = envelope(
            event_type, {**EXAMPLES["DataUsed"], "purpose": "usage_demographics", "li_ref": "LI-4"}
        )
    else:
        event = envelope(event_type)
    absent, null = copy.deepcopy(event), copy.deepcopy(event)
    for target in (absent, null):
        node: Any = target
        for key in where:
            node = node[key]
        if target is absent:
            del node[field]
        else:
            node[field] = None
    assert validate(codes, null) == validate(codes, absent) == absent


def test_timestamps_keep_their_original_text(codes: CodeLists) -> None:
    event = envelope("RestrictionLifted")
    event["occurred_at"] = "2026-03-02t10:00:00.5z"
    event["payload"]["subject_informed_at"] = "2026-03-01T18:00:00.000001+01:00"
    normalised = validate(codes, event)
    assert normalised["occurred_at"] == "2026-03-02t10:00:00.5z"
    assert normalised["payload"]["subject_informed_at"] == "2026-03-01T18:00:00.000001+01:00"


@pytest.mark.parametrize(
    "occurred_at",
    [
        "2026-03-02T10:00:00.1234567Z",  # 7 digits
        "2026-03-02T10:00:00.12345678Z",  # 8 digits
        "2026-03-02T10:00:00.123456789Z",  # 9 digits: Java's Instant.toString(), Go's RFC3339Nano
        "2026-03-02T11:00:00.123456789+01:00",
    ],
)
def test_occurred_at_with_up_to_nine_fractional_digits_is_accepted_and_kept_as_sent(
    codes: CodeLists, occurred_at: str
) -> None:
    event = envelope("DataUsed")
    event["occurred_at"] = occurred_at
    assert validate(codes, event)["occurred_at"] == occurred_at


def test_a_nanosecond_payload_timestamp_is_accepted_and_kept_as_sent(codes: CodeLists) -> None:
    event = envelope("RestrictionLifted")
    event["payload"]["subject_informed_at"] = "2026-03-01T18:00:00.000000999+01:00"
    assert validate(codes, event)["payload"]["subject_informed_at"] == "2026-03-01T18:00:00.000000999+01:00"


def test_ten_fractional_digits_are_an_invalid_timestamp(codes: CodeLists) -> None:
    event = envelope("DataUsed")
    event["occurred_at"] = "2026-03-02T10:00:00.1234567891Z"
    exc = rejection(codes, event)
    assert (exc.code, exc.path) == ("INVALID_TIMESTAMP", "/occurred_at")
    assert "at most 9 fractional digits" in exc.message


def test_a_nanosecond_occurred_at_at_the_skew_limit_is_truncated_not_rounded(codes: CodeLists) -> None:
    # recorded_at + 5 min + 999 ns: truncated to recorded_at + 5 min exactly, which is accepted;
    # rounding would give one microsecond more and FUTURE_TIMESTAMP.
    event = envelope("DataUsed")
    event["occurred_at"] = "2026-03-02T12:05:00.000000999Z"
    assert validate(codes, event)["occurred_at"] == "2026-03-02T12:05:00.000000999Z"


def test_alert_events_need_no_subject(codes: CodeLists) -> None:
    event = envelope("AlertAcknowledged")
    assert "subject_id" not in validate(codes, event)


def test_the_ledger_subject_id_is_allowed_only_in_the_ledgers_own_events(codes: CodeLists) -> None:
    system = envelope("KeyShredded")
    system["producer"] = {"system": "ledger"}
    system["subject_id"] = LEDGER_SUBJECT_ID
    assert validate(codes, system, allow_system=True)["subject_id"] == LEDGER_SUBJECT_ID
    producer = envelope("DataUsed")
    producer["subject_id"] = LEDGER_SUBJECT_ID
    assert validate(codes, producer, allow_system=True)["subject_id"] == LEDGER_SUBJECT_ID
    exc = rejection(codes, producer, allow_system=False)
    assert (exc.code, exc.path) == ("INVALID_VALUE", "/subject_id")
    assert LEDGER_SUBJECT_ID not in exc.message


def test_retention_expired_is_accepted_from_producers(codes: CodeLists) -> None:
    validate(codes, envelope("RetentionExpired"), allow_system=False)


@pytest.mark.parametrize("event_type", sorted(SYSTEM_EVENT_TYPES))
def test_system_events_pass_only_when_the_ledger_emits_them(codes: CodeLists, event_type: str) -> None:
    event = envelope(event_type)
    event["producer"] = {"system": "ledger"}
    assert validate(codes, event, allow_system=True)["event_type"] == event_type
    exc = rejection(codes, event, allow_system=False)
    assert (exc.code, exc.path) == ("UNKNOWN_EVENT_TYPE", "/event_type")


def test_an_occurred_at_exactly_five_minutes_ahead_is_accepted(codes: CodeLists) -> None:
    event = envelope("DataUsed")
    event["occurred_at"] = (RECORDED_AT + FUTURE_SKEW).isoformat()
    validate(codes, event)


def test_the_star_alone_means_every_category_where_the_spec_allows_it(codes: CodeLists) -> None:
    for event_type in ("DataErased", "ProcessingRestricted", "LegalHoldPlaced"):
        event = envelope(event_type)
        event["payload"]["categories"] = ["*"]
        assert validate(codes, event)["payload"]["categories"] == ["*"]


def test_a_direct_marketing_objection_may_omit_purposes(codes: CodeLists) -> None:
    event = envelope("ObjectionRaised", {"objection_id": uid(61), "ground": "direct_marketing"})
    validate(codes, event)


def test_a_non_marketing_use_needs_no_channel(codes: CodeLists) -> None:
    payload = {
        "purpose": "records_administration",
        "lawful_basis": "contract",
        "categories": ["name"],
    }
    validate(codes, envelope("DataUsed", payload))


def test_the_source_keeps_only_the_sub_field_of_its_type(codes: CodeLists) -> None:
    payload = copy.deepcopy(EXAMPLES["DataCollected"])
    payload["source"] = {
        "type": "third_party",
        "name": "referee",
        "channel": "email",
        "third_party_name": "Example Referees Ltd",
    }
    source = validate(codes, envelope("DataCollected", payload))["payload"]["source"]
    assert source == {
        "type": "third_party",
        "name": "referee",
        "third_party_name": "Example Referees Ltd",
    }


def test_the_limits_themselves_are_accepted(codes: CodeLists) -> None:
    payload = copy.deepcopy(EXAMPLES["DataCollected"])
    payload["data_items"] = [
        {"category": "name", "field": f"f{i}", "value": "x" * (16 * 1024 - 2)} for i in range(1)
    ] + [{"category": "name", "field": f"g{i}", "value": i} for i in range(99)]
    payload["purposes"] = [{"purpose": "records_administration", "lawful_basis": "contract"}] * 20
    validate(codes, envelope("DataCollected", payload))
    note = envelope("AlertResolved", {"alert_id": uid(91), "note": "n" * 500})
    validate(codes, note)


# --- every error code with its exact error_path ---

DROP = object()  # as a case value: remove the field instead of setting it
BIG = "x" * (16 * 1024)


def mutate(event: dict[str, Any], pointer: str, value: Any) -> None:
    """Set (or with ``DROP`` remove) the field at a JSON-Pointer-like ``pointer`` of ``event``."""
    keys: list[Any] = [int(k) if k.isdigit() else k for k in pointer.strip("/").split("/")]
    node: Any = event
    for key in keys[:-1]:
        node = node[key]
    if value is DROP:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value


def case(code: str, event_type: str, pointer: str, value: Any = DROP, path: str = "") -> Any:
    """``value`` at ``pointer`` of a valid ``event_type`` is rejected with ``code`` at ``path``."""
    what = "drop" if value is DROP else "set"
    return pytest.param(
        event_type, pointer, value, code, path or pointer, id=f"{code}:{event_type}:{what}{pointer}"
    )


DS, DC = "DataShared", "DataCollected"
ITEM0 = "/payload/data_items/0"

ERROR_CASES = [
    case("MISSING_FIELD", "DataUsed", "/event_id"),
    case("MISSING_FIELD", "DataUsed", "/event_type", None),
    case("MISSING_FIELD", "DataUsed", "/schema_version"),
    case("MISSING_FIELD", "DataUsed", "/occurred_at"),
    case("MISSING_FIELD", "DataUsed", "/producer"),
    case("MISSING_FIELD", "DataUsed", "/producer/system"),
    case("MISSING_FIELD", "DataUsed", "/subject_id"),
    case("MISSING_FIELD", "DataUsed", "/payload"),
    case("MISSING_FIELD", DC, f"{ITEM0}/value", None),
    case("MISSING_FIELD", "ConsentGiven", "/payload/notice_version"),
    case("MISSING_FIELD", DS, "/payload/recipient/country"),
    case("MISSING_FIELD", DC, "/payload/purposes/1/agreement_ref"),  # purpose agreed_other
    case("MISSING_FIELD", "DataUsed", "/payload/channel"),  # purpose is direct marketing
    case(
        "MISSING_FIELD",
        DC,
        "/payload/source",
        {"type": "data_subject", "name": "press"},
        "/payload/source/channel",
    ),
    case(
        "MISSING_FIELD",
        DC,
        "/payload/source",
        {"type": "third_party", "channel": "email"},
        "/payload/source/name",
    ),
    case("MISSING_FIELD", "ObjectionRaised", "/payload/purposes"),  # particular_situation
    case("MISSING_FIELD", "RequestRefused", "/payload/complaint_rights_notified"),
    case("MISSING_FIELD", "FeePaid", "/payload/request_id"),
    case("INVALID_UUID", "DataUsed", "/event_id", uid(3).upper()),
    case("INVALID_UUID", "DataUsed", "/event_id", "{" + uid(3) + "}"),
    case("INVALID_UUID", "DataUsed", "/subject_id", uid(3).replace("-", "")),
    case("INVALID_UUID", "DataUsed", "/subject_id", 12345),
    case("INVALID_UUID", "DataErased", "/payload/request_id", "req-1"),
    case("INVALID_UUID", "ErasureDeferred", "/payload/hold_ids/0", "nope"),
    case("INVALID_TIMESTAMP", "DataUsed", "/occurred_at", "2026-03-02T10:00:00"),
    case("INVALID_TIMESTAMP", "DataUsed", "/occurred_at", "2026-03-02T10:00:00.1234567890Z"),
    case("INVALID_TIMESTAMP", "DataUsed", "/occurred_at", "2026-02-30T10:00:00Z"),
    case("INVALID_TIMESTAMP", "DataUsed", "/occurred_at", "2026-03-02T10:00:00+0100"),
    case("INVALID_TIMESTAMP", "DataUsed", "/occurred_at", "2026-03-02"),
    case("INVALID_TIMESTAMP", "DataUsed", "/occurred_at", 1772445600),
    case("INVALID_TIMESTAMP", "ConsentGiven", "/payload/expires_at", "tomorrow"),
    case("INVALID_TIMESTAMP", "RetentionScheduleAssigned", "/payload/retain_until", "2033-02-30"),
    case("INVALID_TIMESTAMP", "RetentionExpired", "/payload/retain_until", "2026-02-28T00:00Z"),
    case("FUTURE_TIMESTAMP", "DataUsed", "/occurred_at", "2026-03-02T12:05:01Z"),
    case("FUTURE_TIMESTAMP", "DataUsed", "/occurred_at", "2026-03-02T12:00:00-01:00"),
    case("UNKNOWN_EVENT_TYPE", "DataUsed", "/event_type", "DataSold"),
    case("UNKNOWN_EVENT_TYPE", "DataUsed", "/event_type", "KeyShredded"),  # a forged system event
    case("UNSUPPORTED_SCHEMA_VERSION", "DataUsed", "/schema_version", 2),
    case("UNSUPPORTED_SCHEMA_VERSION", "DataUsed", "/schema_version", True),
    case("UNSUPPORTED_SCHEMA_VERSION", "DataUsed", "/schema_version", "1"),
    case("UNSUPPORTED_SCHEMA_VERSION", "DataUsed", "/schema_version", 1.0),
    case("UNKNOWN_CODE", DC, f"{ITEM0}/category", "email"),
    case("UNKNOWN_CODE", "SubjectRegistered", "/payload/roles/1", "boss"),
    case("UNKNOWN_CODE", DC, "/payload/source/channel", "sms"),  # a channel of another list
    case(
        "UNKNOWN_CODE",
        DC,
        "/payload/source",
        {"type": "public_source", "name": "website"},
        "/payload/source/name",
    ),  # a name of another source type
    case("UNKNOWN_CODE", DC, "/payload/source/type", "rumour"),
    case("UNKNOWN_CODE", DC, "/payload/purposes/0/purpose", "fun"),
    case("UNKNOWN_CODE", "DataUsed", "/payload/lawful_basis", "because"),
    case("UNKNOWN_CODE", DC, "/payload/purposes/2/rli_ref", "vibes"),
    case("UNKNOWN_CODE", DS, "/payload/recipient/category", "friend"),
    case("UNKNOWN_CODE", "DataUsed", "/payload/categories", ["*"], "/payload/categories/0"),
    case("UNKNOWN_CODE", "DataErased", "/payload/categories", ["name", "*"], "/payload/categories/1"),
    case("UNKNOWN_CODE", "RightsRequestReceived", "/payload/grounds/1", "whim"),
    case("UNKNOWN_CODE", "ConsentGiven", "/payload/method", ""),
    case("UNKNOWN_CODE", "RequestClosed", "/payload/reason", 3),
    case("UNKNOWN_CODE", "SubjectRoleChanged", "/payload/change", "Added"),
    case("INVALID_COUNTRY", DS, "/payload/recipient/country", "UK"),
    case("INVALID_COUNTRY", "TransferredInternationally", "/payload/recipient/country", "jp"),
    case("INVALID_COUNTRY", DS, "/payload/recipient/country", "GBR"),
    case("INVALID_VALUE", "DataUsed", "/producer/system", "CRM"),
    case("INVALID_VALUE", "DataUsed", "/producer/system", "a" * 65),
    case("INVALID_VALUE", "DataUsed", "/producer", "crm"),
    case("INVALID_VALUE", "DataUsed", "/producer/instance", "i" * 65),
    case("INVALID_VALUE", "DataUsed", "/correlation_id", "c" * 129),
    case("INVALID_VALUE", "DataUsed", "/correlation_id", ""),
    case("INVALID_VALUE", "DataUsed", "/actor_ref", "ada@example.com"),
    case("INVALID_VALUE", "DataUsed", "/actor_ref", "s" * 65),
    case("INVALID_VALUE", "DataUsed", "/payload", [1, 2]),
    case("INVALID_VALUE", DC, f"{ITEM0}/field", "Email"),
    case("INVALID_VALUE", DC, f"{ITEM0}/value", BIG),  # over 16 KiB serialised
    case("INVALID_VALUE", DC, f"{ITEM0}/value", ["a list"]),
    case("INVALID_VALUE", DC, f"{ITEM0}/value", ""),
    case("INVALID_VALUE", DC, f"{ITEM0}/value", float("nan")),
    case("INVALID_VALUE", "DataRectified", "/payload/items/0/new_value", {"v": BIG}),
    case("INVALID_VALUE", DC, "/payload/data_items/1/special_category", "no"),
    case("INVALID_VALUE", DC, "/payload/data_items/1", "email"),
    case(
        "INVALID_VALUE",
        DC,
        "/payload/data_items",
        [{"category": "name", "field": "n", "value": "A"}] * 101,
    ),
    case(
        "INVALID_VALUE",
        DC,
        "/payload/purposes",
        [{"purpose": "records_administration", "lawful_basis": "contract"}] * 21,
    ),
    case("INVALID_VALUE", DS, "/payload/recipient/recipient_id", "AB"),
    case("INVALID_VALUE", "RecipientNotified", "/payload/recipient_id", "example-cloud"),
    case("INVALID_VALUE", DS, "/payload/recipient/name", "n" * 129),
    case("INVALID_VALUE", DS, "/payload/recipient/same_legal_entity", 0),
    case("INVALID_VALUE", "FeeRequested", "/payload/amount_pence", 0),
    case("INVALID_VALUE", "FeePaid", "/payload/amount_pence", True),
    case("INVALID_VALUE", "FeePaid", "/payload/amount_pence", 10.5),
    case("INVALID_VALUE", "SubjectRegistered", "/payload/roles/1", "job_applicant"),  # repeated
    case("INVALID_VALUE", "SubjectRegistered", "/payload/display_name", ""),
    case("INVALID_VALUE", "ConsentGiven", "/payload/explicit", "yes"),
    case("INVALID_VALUE", "ConsentGiven", "/payload/evidence", "ticked"),
    case("INVALID_VALUE", "AlertResolved", "/payload/note", "n" * 501),
    case("INVALID_VALUE", "LegalHoldPlaced", "/payload/matter_ref", "m" * 129),
    case("INVALID_VALUE", "DataUsed", "/payload/operation", "o" * 129),
    # The ledger's own subject (the nil UUID) is reserved: a producer may not send or merge it.
    case("INVALID_VALUE", "DataUsed", "/subject_id", LEDGER_SUBJECT_ID),
    case("INVALID_VALUE", "AlertAcknowledged", "/subject_id", LEDGER_SUBJECT_ID),
    case("INVALID_VALUE", "SubjectsMerged", "/payload/merged_subject_id", LEDGER_SUBJECT_ID),
    case("INVALID_VALUE", "DataUsed", "/payload/categories", "name"),
    case("INVALID_VALUE", "KeyShredded", "/payload/key_versions/1", 0),
    case("INVALID_VALUE", "AutomatedDecisionMade", "/payload/decision_type", "Credit Check"),
    case("EMPTY_DATA_ITEMS", DC, "/payload/data_items", []),
    case("EMPTY_DATA_ITEMS", DC, "/payload/purposes", []),
    case("EMPTY_DATA_ITEMS", "SubjectRegistered", "/payload/roles", []),
    case("EMPTY_DATA_ITEMS", "DataUsed", "/payload/categories", []),
    case("EMPTY_DATA_ITEMS", "DataRectified", "/payload/items", []),
    case("EMPTY_DATA_ITEMS", "DataErased", "/payload/categories", []),
    case("EMPTY_DATA_ITEMS", "ObjectionRaised", "/payload/purposes", []),
    case("EMPTY_DATA_ITEMS", "KeyShredded", "/payload/key_versions", []),
    case("INCONSISTENT_FIELDS", DC, f"{ITEM0}/special_category", True),  # contact_details
    case("INCONSISTENT_FIELDS", DC, "/payload/data_items/2/special_category", False),  # health
    case("INCONSISTENT_FIELDS", "RetentionScheduleAssigned", "/payload/retain_until", "2026-04-04"),
    case("INCONSISTENT_FIELDS", "SubjectsMerged", "/payload/surviving_subject_id", uid(3)),
    case("INVALID_MERGE", "SubjectsMerged", "/payload/merged_subject_id", SUBJECT),
    # The payload as sent, unknown fields included, is measured.
    case("PAYLOAD_TOO_LARGE", "DataUsed", "/payload/padding", "p" * MAX_PAYLOAD_BYTES, "/payload"),
]


@pytest.mark.parametrize(("event_type", "pointer", "value", "code", "path"), ERROR_CASES)
def test_each_invalid_input_is_rejected_with_its_code_and_path(
    codes: CodeLists, event_type: str, pointer: str, value: Any, code: str, path: str
) -> None:
    event = envelope(event_type)
    mutate(event, pointer, value)
    exc = rejection(codes, event, allow_system=event_type in SYSTEM_EVENT_TYPES)
    assert (exc.code, exc.path) == (code, path)
    assert str(exc) == f"{code} at {path}: {exc.message}"


def test_every_single_message_error_code_is_covered() -> None:
    covered = {param.values[3] for param in ERROR_CASES}
    store_or_decode_only = {
        "MALFORMED_JSON",  # parse_json_message, below
        "UNKNOWN_SCHEMA",  # Avro decoding
        "INCONSISTENT_SUBJECT",  # check_against_ledger, below
        "DUPLICATE_EVENT_ID_CONFLICT",  # the store's dedup
        "UNKNOWN_REFERENCE",  # the park grace
        "KEY_UNAVAILABLE",  # the store's key ring
    }
    assert covered == {c.value for c in ErrorCode} - store_or_decode_only


def test_the_published_error_code_list_is_exactly_the_ledgers_codes() -> None:
    """schemas/error-codes.json is spec 3.6's list plus the ledger's additions, in ErrorCode's order."""
    path = Path(__file__).resolve().parents[2] / "schemas" / "error-codes.json"
    listed = json.loads(path.read_text(encoding="utf-8"))["codes"]
    assert [c["code"] for c in listed] == [c.value for c in ErrorCode]
    assert [c["code"] for c in listed if c.get("ledger_addition")] == ["KEY_UNAVAILABLE"]


def test_the_first_error_in_envelope_order_wins(codes: CodeLists) -> None:
    event = envelope("DataUsed")
    event["payload"]["categories"] = []
    event["actor_ref"] = "ada@example.com"
    event["occurred_at"] = "yesterday"
    assert rejection(codes, event).path == "/occurred_at"
    event["event_id"] = "x"
    assert rejection(codes, event).path == "/event_id"


def test_payload_errors_follow_spec_field_order(codes: CodeLists) -> None:
    event = envelope("DataCollected")
    event["payload"]["processing_means"] = "telepathy"
    event["payload"]["source"]["type"] = "rumour"
    event["payload"]["data_items"][3]["field"] = "Bad"
    assert rejection(codes, event).path == "/payload/data_items/3/field"
    event["payload"]["data_items"][0]["category"] = "nope"
    assert rejection(codes, event).path == "/payload/data_items/0/category"


def test_a_non_object_message_is_malformed(codes: CodeLists) -> None:
    with pytest.raises(EventRejected) as info:
        validate_event([1, 2], codes, RECORDED_AT)  # type: ignore[arg-type]
    assert (info.value.code, info.value.path) == ("MALFORMED_JSON", "")


def test_recorded_at_must_be_timezone_aware(codes: CodeLists) -> None:
    with pytest.raises(ValueError):
        validate_event(envelope("DataUsed"), codes, datetime(2026, 3, 2, 12))


# --- messages never carry values ---

LEAK_POINTERS = [
    "/event_id",
    "/event_type",
    "/schema_version",
    "/occurred_at",
    "/producer/system",
    "/actor_ref",
    f"{ITEM0}/category",
    f"{ITEM0}/field",
    "/payload/source/channel",
    "/payload/purposes/0/purpose",
    "/payload/purposes/0/lawful_basis",
    "/payload/processing_means",
]


@pytest.mark.parametrize("pointer", LEAK_POINTERS)
def test_error_texts_never_contain_the_offending_value(codes: CodeLists, pointer: str) -> None:
    event = envelope("DataCollected")
    mutate(event, pointer, SENTINEL)
    exc = rejection(codes, event)
    for text in (str(exc), exc.message, exc.path, repr(exc)):
        assert SENTINEL not in text
        assert "leak" not in text


def test_a_too_large_value_is_not_echoed(codes: CodeLists) -> None:
    event = envelope("DataCollected")
    mutate(event, f"{ITEM0}/value", SENTINEL * 2000)
    assert SENTINEL not in str(rejection(codes, event))


def test_a_country_error_does_not_echo_the_country(codes: CodeLists) -> None:
    event = envelope("DataShared")
    event["payload"]["recipient"]["country"] = SENTINEL
    exc = rejection(codes, event)
    assert exc.code == "INVALID_COUNTRY"
    assert SENTINEL not in str(exc)


def test_event_rejected_is_a_ledger_error() -> None:
    exc = EventRejected(ErrorCode.MISSING_FIELD, "", "required field 'payload' is missing")
    assert isinstance(exc, LedgerError)
    assert exc.code == "MISSING_FIELD" and type(exc.code) is str
    assert str(exc) == "MISSING_FIELD at : required field 'payload' is missing"


# --- parse_json_message ---


def test_a_json_object_message_parses() -> None:
    event = envelope("DataUsed")
    assert parse_json_message(json.dumps(event).encode()) == event


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"\xff\xfe{}", id="not utf-8"),
        pytest.param(b'{"event_id": ', id="truncated"),
        pytest.param(b"[1, 2]", id="array"),
        pytest.param(b'"text"', id="string"),
        pytest.param(b"", id="empty"),
        pytest.param(b'{"a": NaN}', id="NaN"),
        pytest.param(b'{"a": 1e999}', id="infinite number"),
        pytest.param(b'{"a": 1, "a": 2}', id="duplicate key"),
        pytest.param(b'{"a": "\\ud800"}', id="lone surrogate"),
        pytest.param(b"\xef\xbb\xbf{}", id="byte order mark"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="deep nesting"),
    ],
)
def test_undecodable_messages_are_malformed_json(data: bytes) -> None:
    with pytest.raises(EventRejected) as info:
        parse_json_message(data)
    assert (info.value.code, info.value.path) == ("MALFORMED_JSON", "")


def test_a_message_over_one_mebibyte_is_too_large() -> None:
    data = json.dumps({"pad": "x" * MAX_MESSAGE_BYTES}).encode()
    with pytest.raises(EventRejected) as info:
        parse_json_message(data)
    assert (info.value.code, info.value.path) == ("PAYLOAD_TOO_LARGE", "")


def test_a_message_of_exactly_one_mebibyte_is_accepted() -> None:
    data = b'{"pad": "' + b"x" * (MAX_MESSAGE_BYTES - 11) + b'"}'
    assert len(data) == MAX_MESSAGE_BYTES
    assert parse_json_message(data)["pad"].startswith("x")


def test_malformed_json_errors_do_not_echo_the_message() -> None:
    with pytest.raises(EventRejected) as info:
        parse_json_message(b'{"email": "leak@example.com",')
    assert SENTINEL not in str(info.value)


# --- canonical_timestamp ---


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-29T01:30:00Z", datetime(2026, 3, 29, 1, 30, tzinfo=UTC)),
        ("2026-03-29T02:30:00+01:00", datetime(2026, 3, 29, 1, 30, tzinfo=UTC)),
        ("2026-10-25T01:30:00.000001-00:00", datetime(2026, 10, 25, 1, 30, 0, 1, tzinfo=UTC)),
        ("2028-02-29t23:59:59.5z", datetime(2028, 2, 29, 23, 59, 59, 500000, tzinfo=UTC)),
        ("2026-01-01T05:30:00+05:30", datetime(2026, 1, 1, 0, 0, tzinfo=UTC)),
        # Beyond microseconds: truncated, never rounded (spec 3.1).
        ("2026-03-29T01:30:00.1234567Z", datetime(2026, 3, 29, 1, 30, 0, 123456, tzinfo=UTC)),
        ("2026-03-29T01:30:00.12345678Z", datetime(2026, 3, 29, 1, 30, 0, 123456, tzinfo=UTC)),
        ("2026-03-29T01:30:00.123456789Z", datetime(2026, 3, 29, 1, 30, 0, 123456, tzinfo=UTC)),
        ("2026-03-29T01:30:00.999999999Z", datetime(2026, 3, 29, 1, 30, 0, 999999, tzinfo=UTC)),
        ("2026-12-31T23:59:59.9999999Z", datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
        ("2026-03-29T02:30:00.000000001+01:00", datetime(2026, 3, 29, 1, 30, tzinfo=UTC)),
    ],
)
def test_canonical_timestamp_is_the_utc_instant(text: str, expected: datetime) -> None:
    parsed = canonical_timestamp(text)
    assert parsed == expected
    assert parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "text",
    [
        "2026-03-29T01:30:00",
        "2026-03-29 01:30:00Z",
        "2026-03-29T01:30Z",
        "2026-03-29T01:30:00.1234567890Z",
        "2027-02-29T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "2026-03-29T24:00:00Z",
        "2026-12-31T23:59:60Z",
        "2026-03-29T01:30:00+24:00",
        "2026-03-29T01:30:00+01",
        "9999-12-31T23:59:59-01:00",
        "\u0662\u0660\u0662\u0666-01-01T00:00:00Z",
        "",
    ],
)
def test_canonical_timestamp_rejects_anything_but_rfc3339_with_offset(text: str) -> None:
    with pytest.raises(ValueError):
        canonical_timestamp(text)


# --- check_against_ledger ---


class Facts:
    """An in-memory stand-in for the store's answers (spec 3.5 / 4.1 / 4.4)."""

    def __init__(self) -> None:
        self.merges: dict[str, str] = {}
        self.requests: dict[str, tuple[str, str]] = {}

    def resolve_subject(self, subject_id: str) -> str:
        while subject_id in self.merges:
            subject_id = self.merges[subject_id]
        return subject_id

    def merged_into(self, subject_id: str) -> str | None:
        return self.merges.get(subject_id)

    def request_subject(self, request_id: str) -> str | None:
        found = self.requests.get(request_id)
        return None if found is None else found[0]

    def request_received_at(self, request_id: str) -> str | None:
        found = self.requests.get(request_id)
        return None if found is None else found[1]


@pytest.fixture
def facts() -> Facts:
    f = Facts()
    f.requests[REQUEST] = (SUBJECT, "2026-03-02T10:00:00+01:00")  # 09:00Z
    return f


def checked(codes: CodeLists, event_type: str, **changes: Any) -> dict[str, Any]:
    event = envelope(event_type)
    payload_changes = changes.pop("payload", {})
    event.update(changes)
    event["payload"].update(payload_changes)
    return validate(codes, event)


def store_rejection(event: dict[str, Any], facts: Facts) -> EventRejected:
    with pytest.raises(EventRejected) as info:
        check_against_ledger(event, facts)
    return info.value


def test_a_request_event_for_another_subject_is_inconsistent(codes: CodeLists, facts: Facts) -> None:
    event = checked(codes, "IdentityVerified", subject_id=OTHER)
    exc = store_rejection(event, facts)
    assert (exc.code, exc.path) == ("INCONSISTENT_SUBJECT", "/subject_id")


def test_a_request_event_for_a_merged_subject_resolves_to_the_request_subject(
    codes: CodeLists, facts: Facts
) -> None:
    facts.merges[OTHER] = SUBJECT
    check_against_ledger(checked(codes, "FeePaid", subject_id=OTHER), facts)
    facts.merges.clear()
    facts.merges[SUBJECT] = OTHER  # the request's subject was merged into the event's subject
    check_against_ledger(checked(codes, "FeePaid", subject_id=OTHER), facts)


def test_an_unknown_request_is_left_to_parking(codes: CodeLists, facts: Facts) -> None:
    event = checked(codes, "RequestClosed", subject_id=OTHER, payload={"request_id": uid(11)})
    check_against_ledger(event, facts)


def test_the_receipt_itself_and_non_request_events_are_not_subject_checked(
    codes: CodeLists, facts: Facts
) -> None:
    check_against_ledger(checked(codes, "RightsRequestReceived", subject_id=OTHER), facts)
    check_against_ledger(checked(codes, "DataErased", subject_id=OTHER), facts)
    check_against_ledger(checked(codes, "ComplaintReceived", subject_id=OTHER), facts)


def test_an_extension_notice_before_the_receipt_is_inconsistent(codes: CodeLists, facts: Facts) -> None:
    event = checked(codes, "RequestExtended", payload={"notice_sent_at": "2026-03-02T08:59:59Z"})
    exc = store_rejection(event, facts)
    assert (exc.code, exc.path) == ("INCONSISTENT_FIELDS", "/payload/notice_sent_at")


def test_an_extension_notice_at_the_receipt_instant_is_consistent(codes: CodeLists, facts: Facts) -> None:
    event = checked(codes, "RequestExtended", payload={"notice_sent_at": "2026-03-02T09:00:00Z"})
    check_against_ledger(event, facts)


def test_an_extension_without_notice_time_uses_occurred_at(codes: CodeLists, facts: Facts) -> None:
    early = checked(
        codes,
        "RequestExtended",
        occurred_at="2026-03-02T09:59:00+01:00",
        payload={"notice_sent_at": None},
    )
    exc = store_rejection(early, facts)
    assert (exc.code, exc.path) == ("INCONSISTENT_FIELDS", "/occurred_at")
    late = checked(codes, "RequestExtended", payload={"notice_sent_at": None})
    check_against_ledger(late, facts)


def test_merging_an_already_merged_subject_is_invalid(codes: CodeLists, facts: Facts) -> None:
    facts.merges[OTHER] = uid(5)
    exc = store_rejection(checked(codes, "SubjectsMerged"), facts)
    assert (exc.code, exc.path) == ("INVALID_MERGE", "/payload/merged_subject_id")


def test_a_merge_that_would_create_a_cycle_is_invalid(codes: CodeLists, facts: Facts) -> None:
    facts.merges[SUBJECT] = OTHER  # the survivor already resolves to the merged subject
    exc = store_rejection(checked(codes, "SubjectsMerged"), facts)
    assert (exc.code, exc.path) == ("INVALID_MERGE", "/payload/surviving_subject_id")


def test_a_survivor_that_is_itself_merged_is_invalid(codes: CodeLists, facts: Facts) -> None:
    facts.merges[SUBJECT] = uid(5)
    exc = store_rejection(checked(codes, "SubjectsMerged"), facts)
    assert (exc.code, exc.path) == ("INVALID_MERGE", "/payload/surviving_subject_id")


def test_a_first_merge_is_valid(codes: CodeLists, facts: Facts) -> None:
    facts.merges[uid(6)] = OTHER  # something already merged INTO the merged subject is fine
    check_against_ledger(checked(codes, "SubjectsMerged"), facts)
