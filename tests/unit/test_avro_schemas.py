"""The Avro schemas in schemas/avro and the codec in ledger.avro (design: Wire format)."""

from __future__ import annotations

import copy
import io
import json
import random
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fastavro
import pytest
from fastavro.schema import to_parsing_canonical_form

from ledger.avro import MARKER, AvroCodec, AvroDecodeError, AvroEncodeError, AvroSchemaError
from ledger.domain.catalogue import EVENT_TYPES
from ledger.errors import LedgerError

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas" / "avro"
PRIMITIVES = {"null", "boolean", "int", "long", "float", "double", "bytes", "string"}


# --- fictional sample events ---


def _uuid(n: int) -> str:
    return f"5b1e0c7a-0000-4000-8000-{n:012d}"


SUBJECT = _uuid(1)
OTHER_SUBJECT = _uuid(2)
REQUEST = _uuid(100)
COMPLAINT = _uuid(200)
_counter = iter(range(1000, 2000))


def _event(event_type: str, payload: dict[str, Any], **envelope: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event_id": _uuid(next(_counter)),
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": "2026-03-02T09:15:00.123456+01:00",
        "producer": {"system": "crm"},
        "subject_id": SUBJECT,
    }
    event.update(envelope)
    event["payload"] = payload
    return event


def _req(event_type: str, **payload: Any) -> dict[str, Any]:
    return _event(event_type, {"request_id": REQUEST, **payload}, producer={"system": "dsar-desk"})


RECIPIENT_US = {
    "recipient_id": "EXAMPLE-CLOUD-01",
    "name": "Example Cloud Inc",
    "category": "supplier_processor",
    "role": "processor",
    "country": "US",
    "same_legal_entity": False,
    "dpf_certified": True,
    "adequacy_scope_confirmed": False,
}

SAMPLES: list[dict[str, Any]] = [
    _event(
        "SubjectRegistered",
        {"roles": ["job_applicant", "website_user"], "display_name": "Alex Example"},
        producer={"system": "crm", "instance": "crm-eu-1"},
        correlation_id="onboarding-2026-0001",
        actor_ref="staff:0042",
    ),
    _event("SubjectRoleChanged", {"role": "employee", "change": "added"}),
    _event(
        "SubjectsMerged",
        {
            "surviving_subject_id": SUBJECT,
            "merged_subject_id": OTHER_SUBJECT,
            "reason": "duplicate_record",
        },
    ),
    _event(
        "DataCollected",
        {
            "data_items": [
                {"category": "contact_details", "field": "email", "value": "alex@example.com"},
                {
                    "category": "contact_details",
                    "field": "phone",
                    "value": "+44 20 7946 0000",
                    "special_category": False,
                },
                {
                    "category": "postal_address",
                    "field": "address",
                    "value": {"line1": "1 Example Street", "city": "Exampleton", "postcode": "ZZ9"},
                },
                {"category": "name", "field": "full_name", "value": "Zoë Exämple"},
                {"category": "employer_details", "field": "years_experience", "value": 7},
                {"category": "job_title", "field": "salary_band", "value": 41.5},
                {"category": "contact_preferences", "field": "prefers_email", "value": True},
            ],
            "source": {"type": "data_subject", "channel": "online"},
            "purposes": [
                {"purpose": "records_administration", "lawful_basis": "contract"},
                {
                    "purpose": "b2b_marketing",
                    "lawful_basis": "legitimate_interests",
                    "li_ref": "LI-1",
                },
            ],
            "processing_means": "automated",
            "art13_notice_given": True,
        },
    ),
    _event(
        "DataCollected",
        {
            "data_items": [
                {
                    "category": "health",
                    "field": "adjustments",
                    "value": {"needs": ["step-free access"], "notes": None},
                    "special_category": True,
                },
                {"category": "criminal_offence", "field": "fraud_marker", "value": "FM-EXAMPLE-1"},
            ],
            "source": {
                "type": "third_party",
                "name": "fraud_prevention_agency",
                "third_party_name": "Example Fraud Bureau Ltd",
            },
            "purposes": [
                {
                    "purpose": "crime_prevention",
                    "lawful_basis": "recognised_legitimate_interest",
                    "rli_ref": "crime",
                    "dpa_sch1_ref": "Sch 1 para 10",
                    "art10_condition_ref": "Sch 1 para 10",
                },
                {
                    "purpose": "agreed_other",
                    "lawful_basis": "consent",
                    "art9_condition": "explicit_consent",
                    "agreement_ref": "AGR-2026-0042",
                },
            ],
            "processing_means": "manual",
            "art14_exemption": "disproportionate_effort",
        },
    ),
    _event(
        "DataUsed",
        {
            "purpose": "b2b_marketing",
            "lawful_basis": "legitimate_interests",
            "li_ref": "LI-1",
            "categories": ["contact_details", "name"],
            "channel": "email",
            "automated": True,
            "operation": "campaign:2026-spring",
        },
    ),
    _event(
        "DataUsed",
        {
            "purpose": "crime_prevention",
            "lawful_basis": "recognised_legitimate_interest",
            "rli_ref": "crime",
            "categories": ["criminal_offence"],
            "restriction_exemption": "legal_claims",
        },
    ),
    _event(
        "DataShared",
        {
            "recipient": RECIPIENT_US,
            "transfer_mechanism": "idta",
            "tra_ref": "TRA-2026-007",
            "categories": ["contact_details"],
            "purpose": "b2b_marketing",
            "lawful_basis": "legitimate_interests",
            "li_ref": "LI-1",
            "rli_ref": "public_body_request",
            "restriction_exemption": "subject_consent",
        },
    ),
    _event(
        "TransferredInternationally",
        {
            "recipient": {
                "recipient_id": "EXAMPLE-KK-JP",
                "name": "Example KK",
                "category": "group_company",
                "role": "controller",
                "country": "JP",
                "adequacy_scope_confirmed": True,
            },
            "categories": ["employer_details", "job_title"],
            "purpose": "agreement_performance",
            "lawful_basis": "contract",
        },
    ),
    _event(
        "TransferredInternationally",
        {
            "recipient": {**RECIPIENT_US, "recipient_id": "EXAMPLE-SUBPROC-IN", "country": "IN"},
            "transfer_mechanism": "uk_addendum",
            "tra_ref": "TRA-2026-009",
            "categories": ["device_technical"],
            "purpose": "usage_demographics",
            "lawful_basis": "legitimate_interests",
            "li_ref": "LI-4",
            "rli_ref": "emergencies",
            "restriction_exemption": "important_public_interest",
        },
    ),
    _event(
        "DataRectified",
        {
            "items": [
                {"category": "postal_address", "field": "line1", "new_value": "2 Example Road"},
                {"category": "contact_details", "field": "email", "new_value": "a.new@example.com"},
            ],
            "request_id": REQUEST,
            "reason": "subject_request",
        },
    ),
    _event("DataErased", {"categories": ["*"], "reason": "erasure_request", "request_id": REQUEST}),
    _event(
        "ProcessingRestricted",
        {
            "restriction_id": _uuid(300),
            "categories": ["contact_details"],
            "purposes": ["b2b_marketing"],
            "ground": "accuracy_contested",
            "request_id": REQUEST,
        },
    ),
    _event(
        "RestrictionLifted",
        {
            "restriction_id": _uuid(300),
            "reason": "accuracy_verified",
            "subject_informed_at": "2026-03-01T17:00:00Z",
        },
    ),
    _event(
        "LegalHoldPlaced",
        {
            "hold_id": _uuid(400),
            "categories": ["financial_details"],
            "reason": "litigation",
            "matter_ref": "MATTER-2026-11",
        },
    ),
    _event("LegalHoldReleased", {"hold_id": _uuid(400)}),
    _event(
        "RetentionScheduleAssigned",
        {
            "categories": ["financial_details"],
            "rule_id": "RET-FIN-6Y",
            "trigger_date": "2026-04-05",
            "retain_until": "2032-04-05",
        },
    ),
    _event(
        "RetentionExpired",
        {"categories": ["financial_details"], "retain_until": "2032-04-05"},
        producer={"system": "ledger"},
    ),
    _event(
        "RecipientNotified",
        {
            "recipient_id": "EXAMPLE-CLOUD-01",
            "notification_type": "erasure",
            "ref_event_id": _uuid(500),
            "outcome": "sent",
        },
    ),
    _event(
        "ConsentGiven",
        {
            "consent_id": _uuid(600),
            "purpose": "b2b_marketing",
            "method": "web_form",
            "notice_version": "2026-01",
            "explicit": True,
            "expires_at": "2028-03-02T09:15:00-05:00",
            "evidence": {"form": "newsletter-signup", "ip": "192.0.2.10", "ticked": True},
        },
    ),
    _event(
        "ConsentWithdrawn",
        {"purpose": "b2b_marketing", "consent_id": _uuid(600), "method": "email"},
    ),
    _event(
        "MarketingPreferenceChanged",
        {"channel": "email", "preference": "opt_out", "purposes": ["b2b_marketing"]},
    ),
    _event(
        "ObjectionRaised",
        {
            "objection_id": _uuid(700),
            "ground": "particular_situation",
            "purposes": ["market_research_analysis"],
            "request_id": REQUEST,
            "statement": "Please stop analysing how I use the platform.",
        },
    ),
    _event("ObjectionDecided", {"objection_id": _uuid(700), "outcome": "upheld"}),
    _event(
        "PrivacyNoticeProvided",
        {
            "notice_version": "2026-01",
            "article": "art14",
            "topics": ["general", "cra_sharing"],
            "channel": "email",
            "language": "en-GB",
        },
    ),
    _req(
        "RightsRequestReceived",
        request_type="erasure",
        channel="email",
        via_third_party=False,
        requester_name="Alex Example",
        requester_contact="alex@example.com",
        description="Please delete my account data.",
        grounds=["consent_withdrawn"],
    ),
    _req("IdentityVerificationRequested", kind="identity"),
    _req("IdentityEvidenceReceived", kind="identity"),
    _req("IdentityVerified", method="document_check"),
    _req("IdentityVerificationFailed", reason="document_mismatch"),
    _req("FeeRequested", amount_pence=1000, reason="further_copies"),
    _req("FeePaid", amount_pence=3_000_000_000),
    _req("ClarificationRequested", question="Which accounts does the request cover?"),
    _req("ClarificationReceived", answer="Only the example.com platform account."),
    _req(
        "RequestExtended",
        reason="complexity",
        notice_sent_at="2026-03-20T12:00:00+00:00",
        reasons_stated=True,
    ),
    _req(
        "RequestFulfilled",
        outcome="partial",
        retained_categories=["financial_details"],
        retention_reason="legal_obligation",
        notes="Payroll records kept for HMRC.",
    ),
    _req(
        "RequestRefused",
        reason="manifestly_excessive",
        exemption_ref="DPA Sch 2 para 5",
        complaint_rights_notified=True,
        details="Fifth identical request this month.",
    ),
    _req("RequestWithdrawn"),
    _req("RequestClosed", reason="fee_not_paid"),
    _event(
        "AutomatedDecisionMade",
        {
            "decision_id": _uuid(800),
            "decision_type": "credit_check",
            "significant": True,
            "solely_automated": True,
            "special_category_used": False,
            "lawful_basis": "contract",
            "art9_condition": "explicit_consent",
            "safeguards_notified": True,
            "outcome_code": "REFER",
        },
    ),
    _event(
        "ComplaintReceived",
        {
            "complaint_id": COMPLAINT,
            "channel": "email",
            "about_request_id": REQUEST,
            "text": "My request took too long.",
        },
    ),
    _event("ComplaintAcknowledged", {"complaint_id": COMPLAINT}),
    _event("ComplaintOutcomeSent", {"complaint_id": COMPLAINT}),
    _event(
        "AlertAcknowledged",
        {"alert_id": _uuid(900), "note": "Ticket DPO-123 opened."},
        subject_id=None,
        actor_ref="staff:0007",
    ),
    _event(
        "AlertResolved",
        {"alert_id": _uuid(900), "note": "Consent record corrected upstream."},
        subject_id=None,
    ),
    _event(
        "KeyShredded",
        {"category": "contact_details", "key_versions": [1, 2]},
        producer={"system": "ledger"},
    ),
    _event(
        "ErasureDeferred",
        {"categories": ["financial_details"], "hold_ids": [_uuid(400)], "ref_event_id": _uuid(501)},
        producer={"system": "ledger"},
    ),
    _event(
        "PersonalDataViewed",
        {
            "actor_ref": _uuid(950),
            "role": "officer",
            "view": "inventory",
            "reason": "rights_request",
            "interface": "api",
            "case_id": _uuid(300),
        },
        producer={"system": "ledger"},
    ),
]


def _sample(event_type: str) -> dict[str, Any]:
    return copy.deepcopy(next(e for e in SAMPLES if e["event_type"] == event_type))


JSON_VALUE_KEYS = {"value", "new_value", "evidence"}  # arbitrary JSON: nulls inside are data


def _drop_none(value: Any) -> Any:
    """The event without null optional fields (the codec leaves those out on decode)."""
    if isinstance(value, dict):
        return {k: v if k in JSON_VALUE_KEYS else _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


# --- independent reading of the schema files ---


def _manifest() -> dict[str, Any]:
    return dict(json.loads((SCHEMA_DIR / "releases.json").read_text(encoding="utf-8")))


def _raw_types(directory: Path, files: list[str]) -> dict[str, dict[str, Any]]:
    """Map each top-level named type of a release to its raw JSON, read straight from the files."""
    out = {}
    for name in files:
        raw = json.loads((directory / name).read_text(encoding="utf-8"))
        out[f"{raw['namespace']}.{raw['name']}"] = raw
    return out


def _canonical(schema: Any, types: dict[str, Any], ns: str, seen: set[str]) -> str:
    """Parsing Canonical Form (Avro spec rules) of the schema subset the ledger uses."""
    if isinstance(schema, list):
        return "[" + ",".join(_canonical(s, types, ns, seen) for s in schema) + "]"
    if isinstance(schema, str):
        if schema in PRIMITIVES:
            return json.dumps(schema)
        full = schema if "." in schema else f"{ns}.{schema}"
        return json.dumps(full) if full in seen else _canonical(types[full], types, ns, seen)
    kind = schema["type"]
    if kind in PRIMITIVES:
        return json.dumps(kind)
    if kind == "array":
        return '{"type":"array","items":' + _canonical(schema["items"], types, ns, seen) + "}"
    assert kind == "record", kind
    name = schema["name"]
    full = name if "." in name else f"{schema.get('namespace', ns)}.{name}"
    seen.add(full)
    inner = full.rsplit(".", 1)[0]
    fields = ",".join(
        '{"name":'
        + json.dumps(f["name"], ensure_ascii=False)
        + ',"type":'
        + _canonical(f["type"], types, inner, seen)
        + "}"
        for f in schema["fields"]
    )
    return '{"name":' + json.dumps(full) + ',"type":"record","fields":[' + fields + "]}"


def _release_canonical(directory: Path, release: dict[str, Any]) -> str:
    types = _raw_types(directory, release["files"])
    return _canonical(types[release["schema"]], types, "", set())


_EMPTY = 0xC15D213AA4D7A795


def _fp_table() -> list[int]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (_EMPTY & -(fp & 1))
        table.append(fp)
    return table


_FP_TABLE = _fp_table()


def _rabin(data: bytes) -> int:
    """CRC-64-AVRO as given in the Avro specification (Schema Fingerprints)."""
    fp = _EMPTY
    for byte in data:
        fp = (fp >> 8) ^ _FP_TABLE[(fp ^ byte) & 0xFF]
    return fp


def _all_records(schema: Any) -> list[dict[str, Any]]:
    defs: dict[str, Any] = {}

    def collect(s: Any) -> None:
        if isinstance(s, list):
            for x in s:
                collect(x)
        elif isinstance(s, dict):
            if s["type"] == "record":
                defs[s["name"]] = s
                for f in s["fields"]:
                    collect(f["type"])
            elif s["type"] == "array":
                collect(s["items"])

    collect(schema)
    return list(defs.values())


@pytest.fixture(scope="module")
def codec() -> AvroCodec:
    return AvroCodec()


def _payload_branch_names(codec: AvroCodec) -> list[str]:
    (payload,) = [f for f in codec.current.schema["fields"] if f["name"] == "payload"]
    return [b if isinstance(b, str) else b["name"] for b in payload["type"]]


# --- the schemas ---


def test_every_catalogue_event_type_has_a_payload_schema(codec: AvroCodec) -> None:
    names = {n.rsplit(".", 1)[1] for n in _payload_branch_names(codec)}
    assert set(EVENT_TYPES) - names == set()


def test_the_payload_union_has_no_record_outside_the_catalogue(codec: AvroCodec) -> None:
    branches = _payload_branch_names(codec)
    assert len(branches) == len(set(branches))
    assert {n.rsplit(".", 1)[1] for n in branches} - set(EVENT_TYPES) == set()
    assert all(n.startswith("privacy.events.") for n in branches)


def test_the_envelope_has_the_fields_of_spec_3_1(codec: AvroCodec) -> None:
    fields = {f["name"]: f["type"] for f in codec.current.schema["fields"]}
    assert list(fields) == [
        "event_id",
        "event_type",
        "schema_version",
        "occurred_at",
        "producer",
        "subject_id",
        "correlation_id",
        "actor_ref",
        "payload",
    ]
    assert fields["schema_version"] == "int"
    assert fields["event_id"] == fields["occurred_at"] == "string"
    assert fields["subject_id"] == ["null", "string"]
    assert [f["name"] for f in fields["producer"]["fields"]] == ["system", "instance"]


def test_every_optional_field_is_a_null_union_defaulting_to_null(codec: AvroCodec) -> None:
    for record in _all_records(codec.current.schema):
        for f in record["fields"]:
            if isinstance(f["type"], list) and f["name"] != "payload":
                assert len(f["type"]) == 2 and f["type"][0] == "null", (record["name"], f["name"])
                assert "default" in f and f["default"] is None, (record["name"], f["name"])


def test_codes_uuids_and_timestamps_are_plain_strings_without_enums_or_logical_types() -> None:
    for path in SCHEMA_DIR.glob("*.avsc"):
        text = path.read_text(encoding="utf-8")
        for forbidden in ('"enum"', '"fixed"', '"logicalType"', '"map"', '"bytes"'):
            assert forbidden not in text, (path.name, forbidden)


def test_only_the_three_arbitrary_json_fields_are_json_text(codec: AvroCodec) -> None:
    marked = {
        (r["name"], f["name"])
        for r in _all_records(codec.current.schema)
        for f in r["fields"]
        if f.get("json_text")
    }
    assert marked == {
        ("privacy.events.DataItem", "value"),
        ("privacy.events.RectifiedItem", "new_value"),
        ("privacy.events.ConsentGiven", "evidence"),
    }
    for r in _all_records(codec.current.schema):
        for f in r["fields"]:
            if f.get("json_text"):
                assert "JSON text" in f["doc"]


def test_every_release_file_is_listed_in_the_manifest() -> None:
    listed = {name for release in _manifest()["releases"] for name in release["files"]}
    assert {p.name for p in SCHEMA_DIR.glob("*.avsc")} == listed


def test_the_current_reader_schema_is_the_newest_release(codec: AvroCodec) -> None:
    versions = [r["version"] for r in _manifest()["releases"]]
    assert codec.current.version == max(versions)
    assert [r.version for r in codec.releases] == sorted(versions)


def test_the_canonical_form_matches_one_derived_from_the_files_by_the_spec_rules(
    codec: AvroCodec,
) -> None:
    for entry in _manifest()["releases"]:
        (release,) = [r for r in codec.releases if r.version == entry["version"]]
        assert release.canonical_form == _release_canonical(SCHEMA_DIR, entry)
        assert to_parsing_canonical_form(release.schema) == release.canonical_form


# --- fingerprints and the single-object header ---


@pytest.mark.parametrize(
    ("canonical", "signed"),
    [
        ('"null"', 7195948357588979594),
        ('"boolean"', -6970731678124411036),
        ('"int"', 8247732601305521295),
        (
            '{"name":"foo","type":"record","fields":[{"name":"f1","type":"boolean"}]}',
            7843277075252814651,
        ),
    ],
)
def test_the_reference_rabin_matches_the_avro_spec_test_vectors(canonical: str, signed: int) -> None:
    assert _rabin(b"") == 0xC15D213AA4D7A795
    assert _rabin(canonical.encode()) == signed & 0xFFFFFFFFFFFFFFFF


def test_message_starts_with_marker_and_little_endian_crc64_avro_fingerprint(
    codec: AvroCodec,
) -> None:
    data = codec.encode(_sample("ConsentGiven"))
    assert data[:2] == b"\xc3\x01" == MARKER
    canonical = _release_canonical(SCHEMA_DIR, _manifest()["releases"][-1])
    expected = _rabin(canonical.encode("utf-8")).to_bytes(8, "little")
    assert data[2:10] == expected
    assert codec.fingerprints()[expected] == codec.current.version
    assert _manifest()["releases"][-1]["fingerprint"] == expected.hex()


def test_the_body_after_the_header_is_plain_avro_binary_of_the_envelope(codec: AvroCodec) -> None:
    event = _sample("DataCollected")
    data = codec.encode(event)
    body = fastavro.schemaless_reader(io.BytesIO(data[10:]), codec.current.schema, return_record_name=True)
    assert body["event_id"] == event["event_id"]
    branch, payload = body["payload"]
    assert branch == "privacy.events.DataCollected"
    for item, raw in zip(event["payload"]["data_items"], payload["data_items"], strict=True):
        text = json.dumps(item["value"], separators=(",", ":"), ensure_ascii=False, sort_keys=True)
        assert raw["value"] == text


# --- round trips ---


@pytest.mark.parametrize("event_type", list(EVENT_TYPES))
def test_every_event_type_round_trips_through_single_object_encoding(
    codec: AvroCodec, event_type: str
) -> None:
    samples = [e for e in SAMPLES if e["event_type"] == event_type]
    assert samples, f"no sample event for {event_type}"
    for event in samples:
        decoded = codec.decode(codec.encode(event))
        assert decoded == _drop_none(event)


def test_samples_fill_every_optional_field_at_least_once(codec: AvroCodec) -> None:
    records = {r["name"]: r for r in _all_records(codec.current.schema)}
    filled: set[tuple[str, str]] = set()

    def walk(schema: Any, value: Any) -> None:
        if isinstance(schema, str) and schema in records:
            schema = records[schema]
        if isinstance(schema, list):
            if value is not None:
                walk(next(s for s in schema if s != "null"), value)
        elif isinstance(schema, dict) and schema["type"] == "record":
            for f in schema["fields"]:
                if value.get(f["name"]) is not None:
                    filled.add((schema["name"], f["name"]))
                    if not f.get("json_text"):
                        walk(f["type"], value[f["name"]])
        elif isinstance(schema, dict) and schema["type"] == "array":
            for v in value:
                walk(schema["items"], v)

    envelope = records["privacy.events.Envelope"]
    for event in SAMPLES:
        for f in envelope["fields"]:
            if f["name"] == "payload":
                walk(records[f"privacy.events.{event['event_type']}"], event["payload"])
            elif event.get(f["name"]) is not None:
                filled.add((envelope["name"], f["name"]))
                walk(f["type"], event[f["name"]])
    optional = {
        (r["name"], f["name"])
        for r in records.values()
        for f in r["fields"]
        if isinstance(f["type"], list) and "null" in f["type"]
    }
    assert optional - filled == set()


def test_container_file_round_trips_every_sample(codec: AvroCodec) -> None:
    buf = io.BytesIO()
    assert codec.write_container(buf, SAMPLES) == len(SAMPLES)
    buf.seek(0)
    assert list(codec.read_container(buf)) == [_drop_none(e) for e in SAMPLES]


def test_missing_optional_fields_become_null_and_are_left_out_on_decode(codec: AvroCodec) -> None:
    event = _sample("RightsRequestReceived")
    for name in ("requester_name", "requester_contact", "description", "grounds"):
        del event["payload"][name]
    del event["producer"]
    event["producer"] = {"system": "dsar-desk"}
    assert codec.decode(codec.encode(event)) == event


def test_alert_events_round_trip_without_a_subject(codec: AvroCodec) -> None:
    event = _sample("AlertResolved")
    del event["subject_id"]
    decoded = codec.decode(codec.encode(event))
    assert "subject_id" not in decoded
    assert decoded == event


def test_unknown_and_ledger_fields_are_not_carried(codec: AvroCodec) -> None:
    event = _sample("DataUsed")
    noisy = copy.deepcopy(event)
    noisy["recorded_at"] = "2026-03-02T09:15:01Z"
    noisy["seq"] = 7
    noisy["payload"]["customer_email"] = "stray@example.com"
    assert codec.decode(codec.encode(noisy)) == _drop_none(event)


def test_a_null_json_value_survives_as_null_for_validation_to_reject(codec: AvroCodec) -> None:
    event = _sample("DataCollected")
    event["payload"]["data_items"][0]["value"] = None
    decoded = codec.decode(codec.encode(event))
    assert decoded["payload"]["data_items"][0] == {
        "category": "contact_details",
        "field": "email",
        "value": None,
    }


def test_timestamps_keep_their_offset_text(codec: AvroCodec) -> None:
    event = _sample("ConsentGiven")
    event["occurred_at"] = "2026-10-25T01:30:00.5-04:00"
    assert codec.decode(codec.encode(event))["occurred_at"] == "2026-10-25T01:30:00.5-04:00"


# --- decode errors ---


def _values(event: dict[str, Any]) -> Iterator[str]:
    """Every string value of an event (to prove error messages hold none of them)."""
    stack: list[Any] = [event]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, str) and len(v) > 3:
            yield v


def _decode_error(codec: AvroCodec, data: bytes) -> AvroDecodeError:
    with pytest.raises(AvroDecodeError) as info:
        codec.decode(data)
    return info.value


def test_decode_errors_are_ledger_errors_with_code_path_and_message() -> None:
    err = AvroDecodeError("MALFORMED_JSON", "/payload", "x")
    assert isinstance(err, LedgerError)
    assert (err.code, err.path, err.message) == ("MALFORMED_JSON", "/payload", "x")


def test_wrong_marker_is_unknown_schema(codec: AvroCodec) -> None:
    data = codec.encode(_sample("DataUsed"))
    for bad in (b"\xc3\x02" + data[2:], b"\x00" + data[1:], b"{" + data[1:], data[:9], b""):
        err = _decode_error(codec, bad)
        assert (err.code, err.path) == ("UNKNOWN_SCHEMA", "")


def test_unknown_fingerprint_is_unknown_schema(codec: AvroCodec) -> None:
    data = bytearray(codec.encode(_sample("DataUsed")))
    data[5] ^= 0xFF
    err = _decode_error(codec, bytes(data))
    assert (err.code, err.path) == ("UNKNOWN_SCHEMA", "")


def test_truncated_body_is_malformed_json(codec: AvroCodec) -> None:
    event = _sample("DataCollected")
    data = codec.encode(event)
    for cut in range(10, len(data)):
        err = _decode_error(codec, data[:cut])
        assert (err.code, err.path) == ("MALFORMED_JSON", ""), cut
        assert not any(v in str(err) for v in _values(event))


def test_trailing_bytes_after_the_body_are_malformed_json(codec: AvroCodec) -> None:
    data = codec.encode(_sample("FeePaid"))
    err = _decode_error(codec, data + b"\x00")
    assert (err.code, err.path) == ("MALFORMED_JSON", "")


def test_garbage_body_is_malformed_json(codec: AvroCodec) -> None:
    header = codec.encode(_sample("FeePaid"))[:10]
    for garbage in (b"\xff" * 40, b"\x02\xff\xfe\xfd\xfc" * 8, b"\x80" * 12):
        err = _decode_error(codec, header + garbage)
        assert (err.code, err.path) == ("MALFORMED_JSON", "")


def test_random_bytes_after_a_valid_header_never_raise_anything_else(codec: AvroCodec) -> None:
    header = codec.encode(_sample("FeePaid"))[:10]
    rng = random.Random(20260302)
    valid = codec.encode(_sample("ConsentGiven"))
    for _ in range(300):
        body = bytearray(valid[10:])
        for _ in range(rng.randint(1, 4)):
            body[rng.randrange(len(body))] = rng.randrange(256)
        for data in (header + bytes(body), header + rng.randbytes(rng.randint(0, 64))):
            try:
                codec.decode(data)
            except AvroDecodeError as err:
                assert err.code in {"MALFORMED_JSON", "INCONSISTENT_FIELDS"}


def _raw_message(codec: AvroCodec, event: dict[str, Any], branch_payload: Any) -> bytes:
    """A message written directly with fastavro, bypassing the codec's JSON-text serialisation."""
    datum = {k: event.get(k) for k in ("event_id", "event_type", "schema_version", "occurred_at")}
    datum.update(producer=event["producer"], subject_id=event.get("subject_id"))
    datum["payload"] = branch_payload
    buf = io.BytesIO()
    buf.write(MARKER + codec.current.fingerprint)
    fastavro.schemaless_writer(buf, codec.current.schema, datum)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("event_type", "path", "bad_text"),
    [
        ("DataCollected", "/payload/data_items/1/value", '{"line1": "1 Example St"'),
        ("DataCollected", "/payload/data_items/0/value", "alex@example.com"),
        ("DataCollected", "/payload/data_items/0/value", "NaN"),
        ("DataRectified", "/payload/items/0/new_value", "'2 Example Road'"),
        ("ConsentGiven", "/payload/evidence", '{"ip": 192.0.2.10}'),
    ],
)
def test_bad_json_text_in_a_value_field_is_malformed_json_with_its_path(
    codec: AvroCodec, event_type: str, path: str, bad_text: str
) -> None:
    event = _sample(event_type)
    payload = copy.deepcopy(event["payload"])
    for items in ("data_items", "items"):
        for item in payload.get(items, []):
            key = "value" if items == "data_items" else "new_value"
            item[key] = json.dumps(item[key])
    if "evidence" in payload:
        payload["evidence"] = json.dumps(payload["evidence"])
    parts = path.split("/")[2:]
    target: Any = payload
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target[part]
    target[parts[-1]] = bad_text
    err = _decode_error(codec, _raw_message(codec, event, (f"privacy.events.{event_type}", payload)))
    assert (err.code, err.path) == ("MALFORMED_JSON", path)
    assert err.event_id == event["event_id"] and err.event_type == event_type
    assert bad_text not in str(err)
    assert not any(v in str(err) for v in _values(event))


def test_a_payload_branch_that_contradicts_event_type_is_rejected(codec: AvroCodec) -> None:
    event = _sample("ComplaintAcknowledged")
    data = _raw_message(codec, event, ("privacy.events.ComplaintOutcomeSent", event["payload"]))
    err = _decode_error(codec, data)
    assert (err.code, err.path) == ("INCONSISTENT_FIELDS", "/payload")


def test_an_event_type_outside_the_catalogue_decodes_for_validation_to_reject(
    codec: AvroCodec,
) -> None:
    event = _sample("ComplaintAcknowledged")
    event["event_type"] = "ComplaintEscalated"
    data = _raw_message(codec, event, ("privacy.events.ComplaintAcknowledged", event["payload"]))
    assert codec.decode(data) == _drop_none(event)


# --- encode errors ---


def _encode_error(codec: AvroCodec, event: dict[str, Any]) -> AvroEncodeError:
    with pytest.raises(AvroEncodeError) as info:
        codec.encode(event)
    assert isinstance(info.value, LedgerError)
    assert not any(v in str(info.value) for v in _values(event) if v != event["event_type"])
    return info.value


def test_encoding_an_unknown_event_type_fails(codec: AvroCodec) -> None:
    event = _sample("DataUsed")
    event["event_type"] = "DataSold"
    err = _encode_error(codec, event)
    assert (err.code, err.path) == ("UNKNOWN_EVENT_TYPE", "/event_type")


def test_encoding_without_a_required_field_names_its_path(codec: AvroCodec) -> None:
    event = _sample("DataCollected")
    del event["payload"]["data_items"][1]["field"]
    assert _encode_error(codec, event).path == "/payload/data_items/1/field"
    event = _sample("DataCollected")
    del event["payload"]["data_items"][0]["value"]
    err = _encode_error(codec, event)
    assert (err.code, err.path) == ("MISSING_FIELD", "/payload/data_items/0/value")
    event = _sample("DataUsed")
    del event["occurred_at"]
    assert _encode_error(codec, event).path == "/occurred_at"


def test_encoding_a_value_of_the_wrong_type_fails_instead_of_coercing(codec: AvroCodec) -> None:
    for event_type, field, bad in [
        ("FeePaid", "amount_pence", True),
        ("FeePaid", "amount_pence", "1000"),
        ("ConsentGiven", "explicit", 1),
        ("DataErased", "categories", "contact_details"),
        ("ObjectionDecided", "outcome", ["upheld"]),
    ]:
        event = _sample(event_type)
        event["payload"][field] = bad
        err = _encode_error(codec, event)
        assert (err.code, err.path) == ("INVALID_VALUE", f"/payload/{field}")


def test_encoding_a_non_json_value_fails(codec: AvroCodec) -> None:
    event = _sample("ConsentGiven")
    event["payload"]["evidence"] = {"score": float("nan")}
    err = _encode_error(codec, event)
    assert (err.code, err.path) == ("INVALID_VALUE", "/payload/evidence")


# --- container files ---


def test_a_bad_record_in_a_container_is_reported_and_the_rest_are_read(codec: AvroCodec) -> None:
    good = _sample("DataUsed")
    bad = _sample("ConsentGiven")
    raw_bad = {k: v for k, v in bad.items() if k != "payload"}
    raw_bad["payload"] = (
        "privacy.events.ConsentGiven",
        {**bad["payload"], "evidence": "{not json"},
    )
    raw_good = fastavro.schemaless_reader(
        io.BytesIO(codec.encode(good)[10:]), codec.current.schema, return_record_name=True
    )
    buf = io.BytesIO()
    fastavro.writer(buf, codec.current.schema, [raw_good, raw_bad, raw_good])
    buf.seek(0)
    out = list(codec.read_container(buf))
    assert out[0] == out[2] == _drop_none(good)
    assert isinstance(out[1], AvroDecodeError)
    assert (out[1].code, out[1].path) == ("MALFORMED_JSON", "/payload/evidence")


def test_a_container_with_an_unreleased_schema_is_unknown_schema(codec: AvroCodec) -> None:
    schema = {
        "type": "record",
        "name": "Envelope",
        "namespace": "privacy.events",
        "fields": [{"name": "event_id", "type": "string"}],
    }
    buf = io.BytesIO()
    fastavro.writer(buf, fastavro.parse_schema(schema), [{"event_id": _uuid(1)}])
    buf.seek(0)
    (only,) = list(codec.read_container(buf))
    assert isinstance(only, AvroDecodeError) and only.code == "UNKNOWN_SCHEMA"


def test_bytes_that_are_not_a_container_file_are_malformed(codec: AvroCodec) -> None:
    for data in (b"", b"Obj\x01garbage", codec.encode(_sample("DataUsed"))):
        (only,) = list(codec.read_container(io.BytesIO(data)))
        assert isinstance(only, AvroDecodeError) and only.code == "MALFORMED_JSON"


def test_a_truncated_container_yields_what_it_can_then_an_error(codec: AvroCodec) -> None:
    buf = io.BytesIO()
    codec.write_container(buf, SAMPLES, codec="null")
    data = buf.getvalue()
    out = list(codec.read_container(io.BytesIO(data[: len(data) - 40])))
    assert isinstance(out[-1], AvroDecodeError) and out[-1].code == "MALFORMED_JSON"
    assert all(isinstance(e, dict) for e in out[:-1])


# --- releases ---


def _copy_schemas(tmp_path: Path) -> Path:
    target = tmp_path / "avro"
    shutil.copytree(SCHEMA_DIR, target)
    return target


def test_editing_a_released_schema_file_is_detected(tmp_path: Path) -> None:
    target = _copy_schemas(tmp_path)
    path = target / "privacy.events.FeePaid.v1.avsc"
    path.write_text(path.read_text(encoding="utf-8").replace('"long"', '"int"'), encoding="utf-8")
    with pytest.raises(AvroSchemaError, match="edited"):
        AvroCodec(target)


def test_a_new_release_reads_messages_written_with_the_old_one(tmp_path: Path) -> None:
    target = _copy_schemas(tmp_path)
    manifest = json.loads((target / "releases.json").read_text(encoding="utf-8"))
    v1 = manifest["releases"][-1]
    raw = json.loads((target / "privacy.events.ConsentGiven.v1.avsc").read_text(encoding="utf-8"))
    raw["fields"].append(
        {"name": "language", "doc": "Notice language.", "type": ["null", "string"], "default": None}
    )
    (target / "privacy.events.ConsentGiven.v2.avsc").write_text(json.dumps(raw), encoding="utf-8")
    files = [f.replace("ConsentGiven.v1", "ConsentGiven.v2") for f in v1["files"]]
    v2 = {"version": v1["version"] + 1, "schema": v1["schema"], "files": files}
    v2["fingerprint"] = _rabin(_release_canonical(target, v2).encode()).to_bytes(8, "little").hex()
    manifest["releases"].append(v2)
    (target / "releases.json").write_text(json.dumps(manifest), encoding="utf-8")

    codec = AvroCodec(target)
    assert codec.current.version == v2["version"]
    assert sorted(codec.fingerprints().values()) == list(range(1, v2["version"] + 1))
    old = _sample("ConsentGiven")
    assert codec.decode(codec.encode(old, version=1)) == _drop_none(old)
    new = copy.deepcopy(old)
    new["payload"]["language"] = "cy"
    assert codec.decode(codec.encode(new)) == new
    assert AvroCodec().decode(codec.encode(old, version=1)) == _drop_none(old)
    err = _decode_error(AvroCodec(), codec.encode(new))
    assert err.code == "UNKNOWN_SCHEMA"
