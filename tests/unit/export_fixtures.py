"""A realistic, fictional export document (``export.json``, issue 9 design) for report tests.

One person (two merged records) over 2026: collection with non-Latin values, sharing abroad, consent
given (arriving late) and withdrawn, three rights requests (answered late, on time, still overdue), an
erasure deferred in part by a legal hold, alerts (one retracted). The entries sit on a log of
``LOG_SIZE`` records whose hash chain, leaves, inclusion proofs, commitments and signed checkpoint are
real, so a verifier can be tested on it too. All data is fictional (example.com, 555/0958 numbers).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.canonical import canonical_bytes
from ledger.domain.timeutil import canonical_timestamp
from ledger.log.checkpoint import Checkpoint, sign_checkpoint
from ledger.log.merkle import leaf_hash, merkle_tree_hash, split_point
from ledger.log.note import SignerKey

__all__ = [
    "ERASED_VALUES",
    "LOG_SIZE",
    "MERGED",
    "NAME",
    "ORIGIN",
    "SPOUSE",
    "SUBJECT",
    "export_sha256",
    "synthetic_export",
]

_NS = uuid.UUID("0f6a3c2e-5d1b-4e8f-9a7c-2b4d6e8f0a1c")
ORIGIN = "ledger.example.com/privacy-ledger"
# The fictional log key that signs the synthetic bundle (its checkpoint and its manifest).
FIXTURE_SIGNER = SignerKey(ORIGIN, hashlib.sha256(b"fictional test signer").digest())
LOG_SIZE = 120
GENESIS = "0" * 64
GENERATED_AT = "2026-07-20T09:30:00Z"


def _id(name: str) -> str:
    return str(uuid.uuid5(_NS, name))


SUBJECT, MERGED = _id("subject-zoe"), _id("subject-zoe-duplicate")
R_ACCESS, R_ERASE, R_RECTIFY = _id("request-access"), _id("request-erasure"), _id("request-rectify")
HOLD, COMPLAINT, CONSENT = _id("hold-investigation"), _id("complaint-late-access"), _id("consent-newsletter")
ERASURE_EVENT = _id("event-erasure")
NAME = "Zoë Ångström-Łukasiewicz"
SPOUSE = "李小龙"
ERASED_CATEGORIES = frozenset({"contact_details", "postal_address", "consent_records"})
# Values of the erased categories: they may appear in no report.
ERASED_VALUES = (
    "zoe.angstrom@example.com",
    "+44 20 7946 0958",
    "z.lukasiewicz@example.com",
    "1 Example Street",
)
_NOT_BOUND = frozenset({(9, "/payload/display_name")})  # the first registration predates commitments


@dataclass(frozen=True)
class P:
    """A personal value and its key category (spec 3.2)."""

    value: Any
    category: str


@dataclass(frozen=True)
class Ev:
    """One exported event as its producer sent it (personal values wrapped in ``P``)."""

    occurred_at: str
    seq: int
    event_type: str
    producer: str
    payload: dict[str, Any]
    subject: str = SUBJECT
    anomalies: list[str] = field(default_factory=list)
    alert_codes: list[str] = field(default_factory=list)

    @property
    def event_id(self) -> str:
        return ERASURE_EVENT if self.event_type == "DataErased" else _id(f"event-{self.seq}")


def ev(occurred_at: str, seq: int, event_type: str, producer: str, **payload: Any) -> Ev:
    return Ev(occurred_at, seq, event_type, producer, payload)


def item(category: str, name: str, value: Any) -> dict[str, Any]:
    return {"category": category, "field": name, "value": P(value, category)}


def basis(purpose: str, lawful_basis: str, li_ref: str | None = None) -> dict[str, str]:
    return {"purpose": purpose, "lawful_basis": lawful_basis, **({"li_ref": li_ref} if li_ref else {})}


def recipient(rid: str, name: str, country: str, **flags: Any) -> dict[str, Any]:
    base = {"recipient_id": rid, "name": name, "category": "supplier_processor", "role": "processor"}
    return {**base, "country": country, **flags}


def _correspondence(text: str) -> P:
    return P(text, "correspondence")


_CONTRACT = basis("agreement_performance", "contract")
_ADMIN = basis("records_administration", "contract")
_ANALYTICS = recipient("EXA-ANALYTICS-US", "Example Analytics Inc", "US", dpf_certified=False)
_HOSTING = recipient("EXA-HOSTING-SG", "Example Hosting Pte Ltd", "SG")
_PAYROLL = recipient("EXA-PAYROLL-GB", "Example Payroll Bureau Ltd", "GB")


# fmt: off
def _events() -> list[Ev]:
    """The 40 events of the export, by seq; personal values wrapped in ``P``."""
    req = {"via_third_party": False, "requester_name": _correspondence(NAME)}
    return [
        Ev("2026-01-03T16:40:00Z", 4, "DataCollected", "web", subject=MERGED, payload={
            "data_items": [item("contact_details", "email", "z.lukasiewicz@example.com")],
            "source": {"type": "observed", "name": "website"},
            "purposes": [basis("usage_demographics", "legitimate_interests", "LI-4")],
            "processing_means": "automated"}),
        ev("2026-01-05T09:12:00Z", 9, "SubjectRegistered", "crm", roles=["client_contact"],
           display_name=P(NAME, "name")),
        ev("2026-01-05T09:14:30Z", 10, "PrivacyNoticeProvided", "crm", notice_version="2026-01",
           article="art13", topics=["general"], channel="email"),
        ev("2026-01-05T09:20:00Z", 11, "DataCollected", "crm",
           data_items=[item("contact_details", "email", "zoe.angstrom@example.com"),
                       item("contact_details", "phone", "+44 20 7946 0958"),
                       item("job_title", "title", "Head of Procurement"),
                       item("employer_details", "employer", "Example Widgets Ltd")],
           source={"type": "data_subject", "channel": "online"},
           purposes=[_CONTRACT, basis("b2b_marketing", "legitimate_interests", "LI-1")],
           processing_means="automated", art13_notice_given=True),
        ev("2026-01-06T14:02:00Z", 19, "ConsentGiven", "marketing", consent_id=CONSENT,
           purpose="b2b_marketing", method="web_form", notice_version="2026-01", explicit=True,
           evidence=P({"ip_address": "192.0.2.15", "form": "newsletter-v3"}, "consent_records")),
        ev("2026-01-08T11:00:00Z", 13, "DataCollected", "crm",
           data_items=[item("postal_address", "address",
                            {"line1": "1 Example Street", "city": "Manchester", "postcode": "M1 1AA"})],
           source={"type": "data_subject", "channel": "email"}, purposes=[_CONTRACT],
           processing_means="automated"),
        ev("2026-01-09T10:30:00Z", 14, "DataCollected", "hr",
           data_items=[item("family_details", "spouse_name", SPOUSE)],
           source={"type": "data_subject", "channel": "face_to_face"}, purposes=[_ADMIN],
           processing_means="manual"),
        ev("2026-01-12T09:00:00Z", 15, "RetentionScheduleAssigned", "crm",
           categories=["contact_details", "postal_address"], rule_id="RET-CLIENT-6Y",
           trigger_date="2026-01-12", retain_until="2032-01-12"),
        ev("2026-01-15T08:45:00Z", 16, "DataUsed", "marketing", purpose="b2b_marketing",
           lawful_basis="consent", categories=["contact_details"], channel="email",
           operation="campaign:2026-winter"),
        ev("2026-01-20T13:00:00Z", 21, "SubjectsMerged", "crm", surviving_subject_id=SUBJECT,
           merged_subject_id=MERGED, reason="duplicate_record"),
        ev("2026-02-02T10:00:00Z", 24, "DataShared", "analytics", recipient=_ANALYTICS,
           transfer_mechanism="idta", tra_ref="TRA-2026-004",
           categories=["contact_details", "product_service_usage"], purpose="usage_demographics",
           lawful_basis="legitimate_interests", li_ref="LI-4"),
        Ev("2026-02-10T15:30:00Z", 27, "TransferredInternationally", "platform", payload={
            "recipient": _HOSTING, "categories": ["product_service_usage", "device_technical"],
            "purpose": "agreement_performance", "lawful_basis": "contract"},
           alert_codes=["TRANSFER_WITHOUT_SAFEGUARD"]),
        ev("2026-02-12T09:10:00Z", 28, "DataShared", "payroll", recipient=_PAYROLL,
           categories=["contact_details"], purpose="records_administration", lawful_basis="contract"),
        Ev("2026-02-20T18:05:00Z", 31, "ConsentWithdrawn", "marketing", payload={
            "purpose": "b2b_marketing", "consent_id": _id("consent-unknown"), "method": "email"},
           anomalies=["CONSENT_ID_MISMATCH"]),
        Ev("2026-02-25T08:00:00Z", 33, "DataUsed", "marketing", payload={
            "purpose": "b2b_marketing", "lawful_basis": "legitimate_interests", "li_ref": "LI-1",
            "categories": ["contact_details"], "channel": "email", "operation": "campaign:2026-spring"},
           alert_codes=["MARKETING_AFTER_OPT_OUT"]),
        ev("2026-03-02T10:15:00Z", 36, "RightsRequestReceived", "dpo-portal", request_id=R_ACCESS,
           request_type="access", channel="email", **req,
           requester_contact=_correspondence("zoe.replies@example.com"),
           description=_correspondence("Please send me everything you hold about me.")),
        ev("2026-03-02T10:40:00Z", 37, "IdentityVerificationRequested", "dpo-portal",
           request_id=R_ACCESS, kind="identity"),
        ev("2026-03-04T12:00:00Z", 39, "IdentityEvidenceReceived", "dpo-portal",
           request_id=R_ACCESS, kind="identity"),
        ev("2026-03-05T09:30:00Z", 40, "IdentityVerified", "dpo-portal",
           request_id=R_ACCESS, method="document_check"),
        ev("2026-04-20T16:00:00+01:00", 52, "RequestFulfilled", "dpo-portal",
           request_id=R_ACCESS, outcome="full"),
        ev("2026-04-22T09:05:00+01:00", 54, "RightsRequestReceived", "dpo-portal", request_id=R_ERASE,
           request_type="erasure", channel="online", grounds=["consent_withdrawn"], **req,
           description=_correspondence("Please erase my contact details and address.")),
        ev("2026-04-23T11:00:00+01:00", 56, "LegalHoldPlaced", "legal", hold_id=HOLD,
           categories=["contact_details"], reason="regulatory_investigation", matter_ref="MATTER-2026-017"),
        Ev("2026-05-06T10:00:00+01:00", 61, "DataErased", "dpo-portal", payload={
            "categories": sorted(ERASED_CATEGORIES), "reason": "erasure_request", "request_id": R_ERASE},
           alert_codes=["ERASURE_BLOCKED_BY_LEGAL_HOLD"]),
        ev("2026-05-06T10:00:00+01:00", 62, "KeyShredded", "ledger", category="postal_address",
           key_versions=[1]),
        ev("2026-05-06T10:00:00+01:00", 63, "KeyShredded", "ledger", category="consent_records",
           key_versions=[1]),
        ev("2026-05-06T10:00:00+01:00", 64, "ErasureDeferred", "ledger", categories=["contact_details"],
           hold_ids=[HOLD], ref_event_id=ERASURE_EVENT),
        ev("2026-05-07T14:20:00+01:00", 66, "RecipientNotified", "dpo-portal",
           recipient_id="EXA-ANALYTICS-US", notification_type="erasure", ref_event_id=ERASURE_EVENT,
           outcome="sent"),
        ev("2026-05-08T10:00:00+01:00", 67, "RequestFulfilled", "dpo-portal", request_id=R_ERASE,
           outcome="partial", retained_categories=["contact_details"], retention_reason="legal_obligation",
           notes=_correspondence("Contact details kept while matter MATTER-2026-017 is open.")),
        ev("2026-05-10T19:45:00+01:00", 69, "ComplaintReceived", "dpo-portal", complaint_id=COMPLAINT,
           channel="email", about_request_id=R_ACCESS,
           text=_correspondence("My access request was answered late.")),
        ev("2026-05-12T09:00:00+01:00", 71, "ComplaintAcknowledged", "dpo-portal",
           complaint_id=COMPLAINT),
        ev("2026-05-15T10:00:00+01:00", 73, "DataUsed", "crm", purpose="records_administration",
           lawful_basis="contract", categories=["contact_details"]),
        ev("2026-06-01T09:00:00+01:00", 78, "RightsRequestReceived", "dpo-portal", request_id=R_RECTIFY,
           request_type="rectification", channel="phone", **req,
           description=_correspondence("My job title is wrong; please correct it.")),
        ev("2026-06-03T10:00:00+01:00", 80, "ClarificationRequested", "dpo-portal",
           request_id=R_RECTIFY, question=_correspondence("Which job title should we record?")),
        ev("2026-06-05T15:00:00+01:00", 82, "ClarificationReceived", "dpo-portal",
           request_id=R_RECTIFY, answer=_correspondence("Director of Procurement, since May 2026.")),
        ev("2026-06-20T10:00:00+01:00", 88, "ComplaintOutcomeSent", "dpo-portal",
           complaint_id=COMPLAINT),
        ev("2026-07-01T12:00:00+01:00", 95, "LegalHoldReleased", "legal", hold_id=HOLD),
        ev("2026-07-01T12:00:00+01:00", 96, "KeyShredded", "ledger", category="contact_details",
           key_versions=[1]),
        Ev("2026-07-01T12:00:00+01:00", 97, "KeyShredded", "ledger", subject=MERGED,
           payload={"category": "contact_details", "key_versions": [1]}),
        ev("2026-07-02T09:00:00+01:00", 99, "RecipientNotified", "dpo-portal",
           recipient_id="EXA-PAYROLL-GB", notification_type="erasure", ref_event_id=ERASURE_EVENT,
           outcome="sent"),
        ev("2026-07-08T08:30:00+01:00", 104, "AutomatedDecisionMade", "platform",
           decision_id=_id("decision-credit"), decision_type="credit_check", significant=True,
           solely_automated=False, special_category_used=False, lawful_basis="contract",
           safeguards_notified=True, outcome_code="APPROVED"),
    ]
# fmt: on


# -- the log -------------------------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _salt(seq: int, pointer: str) -> bytes:
    return hashlib.sha256(f"salt|{seq}|{pointer}".encode()).digest()


def _replace(node: Any, swap: Any) -> Any:
    """The payload with every ``P`` replaced by ``swap(pointer, p)``."""

    def walk(n: Any, pointer: str) -> Any:
        if isinstance(n, P):
            return swap(pointer, n)
        if isinstance(n, dict):
            return {k: walk(v, f"{pointer}/{k}") for k, v in n.items()}
        if isinstance(n, list):
            return [walk(v, f"{pointer}/{i}") for i, v in enumerate(n)]
        return n

    return walk(node, "/payload")


def _stored(e: Ev, recorded_at: str) -> dict[str, Any]:
    """The event as the ledger stores it: personal values as envelopes with commitments."""

    def envelope(pointer: str, p: P) -> dict[str, str]:
        env = {
            "enc": _b64(hashlib.sha256(f"enc|{e.seq}|{pointer}".encode()).digest()),
            "kid": f"{e.subject}/{p.category}/v1",
        }
        env["cat"] = p.category
        if (e.seq, pointer) not in _NOT_BOUND:
            env["c"] = _b64(hashlib.sha256(_salt(e.seq, pointer) + canonical_bytes(p.value)).digest())
        return env

    return {
        "event_id": e.event_id,
        "event_type": e.event_type,
        "schema_version": 1,
        "occurred_at": e.occurred_at,
        "recorded_at": recorded_at,
        "producer": {"system": e.producer},
        "subject_id": e.subject,
        "payload": _replace(e.payload, envelope),
    }


def _filler(seq: int, recorded_at: str) -> dict[str, Any]:
    """Another subject's record, to make the log larger than the export."""
    return {
        "event_id": _id(f"other-{seq}"),
        "event_type": "DataUsed",
        "schema_version": 1,
        "occurred_at": recorded_at,
        "recorded_at": recorded_at,
        "producer": {"system": "crm"},
        "subject_id": _id(f"other-subject-{seq % 7}"),
        "payload": {"purpose": "records_administration", "lawful_basis": "contract", "categories": ["name"]},
    }


def _inclusion_proof(index: int, hashes: Sequence[bytes]) -> list[bytes]:
    """RFC 9162 PATH(m, D[n])."""
    if len(hashes) <= 1:
        return []
    k = split_point(len(hashes))
    if index < k:
        return [*_inclusion_proof(index, hashes[:k]), merkle_tree_hash(hashes[k:])]
    return [*_inclusion_proof(index - k, hashes[k:]), merkle_tree_hash(hashes[:k])]


def export_sha256(doc: dict[str, Any]) -> str:
    """The footer hash of the design: SHA-256 of the document with ``export_sha256`` set to ``""``."""
    blank = copy.deepcopy(doc)
    blank["footer"]["export_sha256"] = ""
    text = json.dumps(blank, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _entry(
    e: Ev, record: dict[str, Any], leaf: bytes, hashes: list[str], proof: list[bytes]
) -> dict[str, Any]:
    binding: dict[str, Any] = {}

    def shown(pointer: str, p: P) -> Any:
        if p.category in ERASED_CATEGORIES:
            binding[pointer] = {"state": "erased"}
            return {"redacted": "erased", "category": p.category}
        if (e.seq, pointer) in _NOT_BOUND:
            binding[pointer] = {"state": "not_bound"}
        else:
            binding[pointer] = {"salt": _b64(_salt(e.seq, pointer))}
        return p.value

    payload = _replace(e.payload, shown)
    return {
        "seq": e.seq,
        "event_id": e.event_id,
        "event_type": e.event_type,
        "occurred_at": e.occurred_at,
        "recorded_at": record["recorded_at"],
        "producer": {"system": e.producer},
        "subject_id": e.subject,
        "payload": payload,
        "anomalies": e.anomalies,
        "alert_codes": e.alert_codes,
        "hash": hashes[e.seq - 1],
        "prev_hash": hashes[e.seq - 2] if e.seq > 1 else GENESIS,
        "binding": binding,
        "leaf": _b64(leaf),
        "leaf_index": e.seq - 1,
        "inclusion_proof": [_b64(h) for h in proof],
    }


def synthetic_export(*, kind: str = "subject") -> dict[str, Any]:
    """The export document of ``SUBJECT`` (40 entries, ``kind`` subject or access_pack)."""
    events = {e.seq: e for e in _events()}
    records: dict[int, dict[str, Any]] = {}
    leaves: list[bytes] = []
    hashes: list[str] = []
    for seq in range(1, LOG_SIZE + 1):
        recorded = f"2026-{1 + (seq - 1) * 6 // LOG_SIZE:02d}-{1 + seq % 27:02d}T12:00:{seq % 60:02d}.000000Z"
        record = _stored(events[seq], recorded) if seq in events else _filler(seq, recorded)
        records[seq] = record
        leaves.append(canonical_bytes({**record, "seq": seq, "prev_hash": hashes[-1] if hashes else GENESIS}))
        hashes.append(hashlib.sha256(leaves[-1]).hexdigest())
    tree = [leaf_hash(leaf) for leaf in leaves]
    signer = FIXTURE_SIGNER
    ordered = sorted(events.values(), key=lambda e: (canonical_timestamp(e.occurred_at), e.seq))
    doc: dict[str, Any] = {
        "format": "privacy-ledger-export/v1",
        "kind": kind,
        "scope": {"id": SUBJECT, "subjects": [SUBJECT, MERGED], "from": None, "to": None},
        "controller": {
            "name": "ClientTree Group Ltd",
            "contact": {
                "email": "privacy@clienttree.example.com",
                "phone": "020 7946 0000",
                "postal_address": None,
            },
            "data_protection_officer": None,
            "representative": None,
            "joint_controllers": [],
        },
        "entries": [
            _entry(e, records[e.seq], leaves[e.seq - 1], hashes, _inclusion_proof(e.seq - 1, tree))
            for e in ordered
        ],
        "alerts": _alerts(),
        "requests": _requests(),
        "holdings": _holdings(),
        "recipients": _recipients(),
        "checkpoint": sign_checkpoint(Checkpoint(ORIGIN, LOG_SIZE, merkle_tree_hash(tree)), signer),
        "verifier_key": signer.verifier_key.text,
        "consistency": None,
        "footer": {
            "chain_verification": {
                "valid": True,
                "length": LOG_SIZE,
                "head_hash": hashes[-1],
                "first_invalid_seq": None,
            },
            "generated_at": GENERATED_AT,
            "export_sha256": "",
        },
    }
    if kind == "access_pack":
        doc["access_pack"] = _access_pack()
    doc["footer"]["export_sha256"] = export_sha256(doc)
    return doc


# -- the views' rows (spec 6.1, 6.2, 6.4, 6.5, 6.12) ------------------------------------------------------


def _alert(code: str, severity: str, trigger: str, occurred: str | None, status: str) -> dict[str, Any]:
    detected = None if occurred is None else occurred[:11] + "12:00:05.000000Z"
    return {
        "alert_id": str(uuid.uuid5(_NS, f"{code}|{trigger}")),
        "code": code,
        "severity": severity,
        "subject_id": SUBJECT,
        "triggering_event_id": trigger,
        "related_event_ids": [],
        "event_occurred_at": occurred,
        "detected_at": detected,
        "status": status,
        "message": f"{code} on {trigger}",
    }


def _alerts() -> list[dict[str, Any]]:
    return [
        _alert("NO_VALID_CONSENT", "high", _id("event-16"), "2026-01-15T08:45:00.000000Z", "RETRACTED"),
        _alert("TRANSFER_WITHOUT_SAFEGUARD", "high", _id("event-27"), "2026-02-10T15:30:00.000000Z", "OPEN"),
        _alert(
            "MARKETING_AFTER_OPT_OUT", "critical", _id("event-33"), "2026-02-25T08:00:00.000000Z", "RESOLVED"
        ),
        _alert(
            "ERASURE_BLOCKED_BY_LEGAL_HOLD",
            "info",
            ERASURE_EVENT,
            "2026-05-06T09:00:00.000000Z",
            "ACKNOWLEDGED",
        ),
        _alert("REQUEST_OVERDUE", "high", R_RECTIFY, None, "OPEN"),
    ]


def _request(rid: str, kind: str, channel: str, received: str, status: str, **rest: Any) -> dict[str, Any]:
    row = {
        "request_id": rid,
        "subject_id": SUBJECT,
        "request_type": kind,
        "channel": channel,
        "received_at": received,
        "received_date": received[:10],
        "rules_basis": "uk_gdpr_art12a",
        "status": status,
        "clock_start_date": received[:10],
        "pauses": [],
        "paused_days_total": 0,
        "extension": None,
        "period_end_date": None,
        "due_date": None,
        "days_remaining": None,
        "overdue": False,
        "overdue_by_days": 0,
        "closed_at": None,
        "closed_date": None,
        "closed_on_time": None,
        "late_by_days": None,
    }
    return {**row, **rest}


def _requests() -> list[dict[str, Any]]:
    pause = {
        "requested_date": "2026-06-03",
        "received_date": "2026-06-05",
        "days_excluded": 3,
        "ignored": False,
    }
    return [
        _request(
            R_ACCESS,
            "access",
            "email",
            "2026-03-02T10:15:00.000000Z",
            "FULFILLED",
            clock_start_date="2026-03-04",
            period_end_date="2026-04-04",
            due_date="2026-04-07",
            closed_at="2026-04-20T15:00:00.000000Z",
            closed_date="2026-04-20",
            closed_on_time=False,
            late_by_days=13,
        ),
        _request(
            R_ERASE,
            "erasure",
            "online",
            "2026-04-22T08:05:00.000000Z",
            "PARTIALLY_FULFILLED",
            period_end_date="2026-05-22",
            due_date="2026-05-22",
            closed_at="2026-05-08T09:00:00.000000Z",
            closed_date="2026-05-08",
            closed_on_time=True,
            late_by_days=0,
        ),
        _request(
            R_RECTIFY,
            "rectification",
            "phone",
            "2026-06-01T08:00:00.000000Z",
            "OPEN",
            pauses=[pause],
            paused_days_total=3,
            period_end_date="2026-07-04",
            due_date="2026-07-06",
            days_remaining=-14,
            overdue=True,
            overdue_by_days=14,
        ),
    ]


def _held(category: str, name: str, value: Any, first: str, **rest: Any) -> dict[str, Any]:
    erased = category in ERASED_CATEGORIES
    row = {
        "category": category,
        "field": name,
        "value": None if erased else value,
        "value_state": "erased" if erased else "available",
        "special_category": False,
        "first_collected_at": first,
        "last_changed_at": first,
        "sources": [{"type": "data_subject", "channel": "online"}],
        "purposes": [_CONTRACT],
        "restricted": False,
        "on_legal_hold": False,
        "retain_until": None,
        "portability_eligible": False,
    }
    return {**row, **rest}


def _holdings() -> dict[str, Any]:
    observed = [{"type": "data_subject", "channel": "online"}, {"type": "observed", "name": "website"}]
    withdrawn = {
        "purpose": "b2b_marketing",
        "status": "WITHDRAWN",
        "consent_id": CONSENT,
        "given_at": "2026-01-06T14:02:00.000000Z",
        "withdrawn_at": "2026-02-20T18:05:00.000000Z",
        "method": "email",
        "notice_version": "2026-01",
        "explicit": True,
    }
    return {
        "subject_id": SUBJECT,
        "resolved_subject_id": SUBJECT,
        "known": True,
        "merged_subject_ids": [MERGED],
        "roles": ["client_contact"],
        "erasure_state": "partial",
        "items": [
            _held(
                "consent_records", "evidence", None, "2026-01-06T14:02:00.000000Z", sources=[], purposes=[]
            ),
            _held(
                "contact_details",
                "email",
                None,
                "2026-01-03T16:40:00.000000Z",
                retain_until="2032-01-12",
                sources=observed,
            ),
            _held("contact_details", "phone", None, "2026-01-05T09:20:00.000000Z", retain_until="2032-01-12"),
            _held(
                "employer_details",
                "employer",
                "Example Widgets Ltd",
                "2026-01-05T09:20:00.000000Z",
                portability_eligible=True,
            ),
            _held(
                "family_details",
                "spouse_name",
                SPOUSE,
                "2026-01-09T10:30:00.000000Z",
                sources=[{"type": "data_subject", "channel": "face_to_face"}],
                purposes=[_ADMIN],
            ),
            _held(
                "job_title",
                "title",
                "Head of Procurement",
                "2026-01-05T09:20:00.000000Z",
                portability_eligible=True,
            ),
            _held("name", "display_name", NAME, "2026-01-05T09:12:00.000000Z", sources=[], purposes=[]),
            _held(
                "postal_address", "address", None, "2026-01-08T11:00:00.000000Z", retain_until="2032-01-12"
            ),
        ],
        "consents": [
            withdrawn,
            {
                "purpose": "market_research_analysis",
                "status": "NONE",
                "consent_id": None,
                "given_at": None,
                "withdrawn_at": None,
                "method": None,
            },
        ],
        "dm_suppressed": True,
        "open_request_ids": [R_RECTIFY],
        "recipient_ids": ["EXA-ANALYTICS-US", "EXA-HOSTING-SG", "EXA-PAYROLL-GB"],
    }


def _disclosure(
    seq: int, r: dict[str, Any], classification: str, mechanism: str | None, **rest: Any
) -> dict[str, Any]:
    e = next(e for e in _events() if e.seq == seq)
    return {
        "disclosure_event_id": e.event_id,
        "event_type": e.event_type,
        "subject_id": SUBJECT,
        "shared_at": canonical_timestamp(e.occurred_at).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "recipient_id": r["recipient_id"],
        "recipient_name": r["name"],
        "recipient_category": r["category"],
        "recipient_role": r["role"],
        "recipient_country": r["country"],
        "transfer_classification": classification,
        "transfer_mechanism": mechanism,
        "categories": sorted(e.payload["categories"]),
        "purpose": e.payload["purpose"],
        "lawful_basis": e.payload["lawful_basis"],
        "alert_codes": e.alert_codes,
        "art19_pending": [],
        **rest,
    }


def _recipients() -> list[dict[str, Any]]:
    return [
        _disclosure(24, _ANALYTICS, "art46_safeguard", "idta"),
        _disclosure(27, _HOSTING, "no_safeguard", None),
        _disclosure(28, _PAYROLL, "domestic", None),
    ]


def _access_pack() -> dict[str, Any]:
    """The 6.12 keys as ``ledger.export.views.access_pack`` puts them together."""
    held = _holdings()["items"]
    categories = sorted({i["category"] for i in held})
    decision = next(e for e in _events() if e.event_type == "AutomatedDecisionMade")
    rights = ["access", "rectification", "erasure", "restriction", "portability", "object"]
    return {
        "subject_id": SUBJECT,
        "as_of": "2026-07-20T09:30:00.000000Z",
        "purposes": [_CONTRACT, _ADMIN, basis("usage_demographics", "legitimate_interests")],
        "categories": [
            {"category": c, "special_category": False,
             "fields": sorted(i["field"] for i in held if i["category"] == c)}
            for c in categories
        ],
        "recipients": [
            {k: r[k] for k in ("recipient_id", "recipient_name", "recipient_category", "recipient_role",
                               "recipient_country")}
            for r in _recipients()
        ],
        "recipient_categories": ["supplier_processor"],
        "retention": [
            {"subject_id": SUBJECT, "category": c, "retain_until": "2032-01-12", "on_legal_hold": False,
             "hold_ids": [], "status": "ERASED", "days_past_retention": 0}
            for c in ("contact_details", "postal_address")
        ],
        "sources": [{"type": "observed", "name": "website", "categories": ["contact_details"]}],
        "automated_decisions": [
            {"event_id": decision.event_id, "occurred_at": decision.occurred_at, **decision.payload}
        ],
        "transfers": [
            {k: r[k] for k in ("disclosure_event_id", "recipient_id", "recipient_name", "recipient_country",
                               "transfer_classification", "transfer_mechanism", "categories")}
            for r in _recipients()
            if r["recipient_country"] != "GB"
        ],
        "rights": [{"right": r, "applies": r != "portability"} for r in rights],
        "right_to_complain": {
            "authority": "Information Commissioner's Office", "country": "GB",
            "website": "ico.org.uk/make-a-complaint", "phone": "0303 123 1113",
            "controller": "ClientTree Group Ltd", "contact": {"email": "privacy@clienttree.example.com"},
        },
    }  # fmt: skip
