"""The payload rules of every event type of the spec section 4 catalogue, in spec field order.

Each rule reads the payload through a ``Node`` (which drops unknown fields and raises at the first
bad field) and adds the cross-field checks that need nothing but the message itself. Checks that
need the store (merges, request subjects, receipt instants) are in
``validation.check_against_ledger``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from ledger.domain.catalogue import LEDGER_SUBJECT_ID
from ledger.domain.fieldcheck import Node
from ledger.errors import ErrorCode

__all__ = [
    "DATA_ITEMS_MAX",
    "FIELD_PATTERN",
    "LANGUAGE_TAG_PATTERN",
    "PAYLOAD_RULES",
    "PURPOSES_MAX",
    "RECIPIENT_ID_PATTERN",
    "PayloadRule",
]

FIELD_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,63}")
RECIPIENT_ID_PATTERN = re.compile(r"[A-Z0-9-]{3,64}")
# A BCP 47 language tag in its common shape (``en``, ``en-GB``, ``zh-Hant-TW``); no registry lookup.
LANGUAGE_TAG_PATTERN = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*")
DATA_ITEMS_MAX = 100
PURPOSES_MAX = 20
_ORG_NAME_MAX = 128
_NOTE_MAX = 500

# A rule reads the payload node; ``envelope`` is the already validated, normalised envelope.
PayloadRule = Callable[[Node, Mapping[str, Any]], None]
_E = ErrorCode
_CATEGORY = "category"


# -- shared groups ---------------------------------------------------------------------------------
def _purpose_and_basis(p: Node) -> str | None:
    purpose = p.code("purpose", "purpose")
    p.code("lawful_basis", "lawful_basis")
    p.string("li_ref", required=False)  # checked against the register only by alert rule A3
    p.code("rli_ref", "rli_ref", required=False)
    return purpose


def _disclosure(p: Node, _: Mapping[str, Any]) -> None:
    """DataShared and TransferredInternationally (the same fields)."""
    recipient = p.child("recipient")
    assert recipient is not None
    recipient.string("recipient_id", max_chars=None, pattern=RECIPIENT_ID_PATTERN)
    recipient.string("name", max_chars=_ORG_NAME_MAX)
    recipient.code("category", "recipient_category")
    recipient.code("role", "recipient_role")
    recipient.country("country")
    recipient.boolean("same_legal_entity", required=False)
    recipient.boolean("dpf_certified", required=False)
    recipient.boolean("adequacy_scope_confirmed", required=False)
    p.code("transfer_mechanism", "transfer_mechanism", required=False)
    p.string("tra_ref", required=False)
    p.code_list("categories", _CATEGORY)
    # "As for DataUsed": rli_ref too, though the spec's field list names only li_ref.
    _purpose_and_basis(p)
    p.code("restriction_exemption", "restriction_exemption", required=False)


def _only(*fields: tuple[str, str]) -> PayloadRule:
    """A rule for payloads made only of required UUIDs (``"uuid"``) and codes (a list name)."""

    def rule(p: Node, _: Mapping[str, Any]) -> None:
        for name, kind in fields:
            if kind == "uuid":
                p.uuid(name)
            else:
                p.code(name, kind)

    return rule


# -- 4.1 subject lifecycle -------------------------------------------------------------------------
def _subject_registered(p: Node, _: Mapping[str, Any]) -> None:
    p.code_list("roles", "role", unique=True)
    p.text("display_name")


def _subjects_merged(p: Node, envelope: Mapping[str, Any]) -> None:
    survivor = p.uuid("surviving_subject_id")
    if survivor != envelope.get("subject_id"):
        p.fail(
            _E.INCONSISTENT_FIELDS,
            "surviving_subject_id",
            "'surviving_subject_id' must equal the envelope 'subject_id'",
        )
    merged = p.uuid("merged_subject_id")
    if merged == survivor:
        p.fail(_E.INVALID_MERGE, "merged_subject_id", "a subject cannot be merged into itself")
    if merged == LEDGER_SUBJECT_ID:
        # Merging the ledger's own subject would put its keys in a producer subject's erasure set.
        p.fail(_E.INVALID_VALUE, "merged_subject_id", "'merged_subject_id' is reserved for the ledger")
    p.code("reason", "merge_reason")


# -- 4.2 data lifecycle ----------------------------------------------------------------------------
def _data_collected(p: Node, _: Mapping[str, Any]) -> None:
    for item in p.children("data_items", max_items=DATA_ITEMS_MAX):
        category = item.code("category", _CATEGORY)
        assert category is not None
        item.string("field", max_chars=None, pattern=FIELD_PATTERN)
        item.json_value("value")
        flag = item.boolean("special_category", required=False)
        if flag is not None and flag != p.codes.is_special(category):
            item.fail(
                _E.INCONSISTENT_FIELDS,
                "special_category",
                "'special_category' contradicts the category code",
            )
    source = p.child("source")
    assert source is not None
    source_type = source.code("type", "source_type")
    assert source_type is not None
    rule = p.codes.source_rule(source_type)
    # Only the sub-field of this source type is kept: channel for data_subject, name for the others.
    source.code(rule.field, rule.list_name)
    source.string("third_party_name", required=False, max_chars=_ORG_NAME_MAX)
    for entry in p.children("purposes", max_items=PURPOSES_MAX):
        purpose = _purpose_and_basis(entry)
        entry.code("art9_condition", "art9_condition", required=False)
        entry.string("dpa_sch1_ref", required=False)
        entry.string("art10_condition_ref", required=False)
        if entry.string("agreement_ref", required=False) is None and purpose == "agreed_other":
            entry.require("agreement_ref", "when purpose is 'agreed_other'")
    p.code("processing_means", "processing_means")
    p.boolean("art13_notice_given", required=False)
    p.code("art14_exemption", "art14_exemption", required=False)


def _data_used(p: Node, _: Mapping[str, Any]) -> None:
    purpose = _purpose_and_basis(p)
    assert purpose is not None
    p.code_list("categories", _CATEGORY)
    channel = p.code("channel", "communication_channel", required=False)
    if channel is None and p.codes.is_direct_marketing(purpose):
        p.require("channel", "when the purpose is direct marketing")
    p.boolean("automated", required=False)
    p.code("restriction_exemption", "restriction_exemption", required=False)
    p.string("operation", required=False)


def _data_rectified(p: Node, _: Mapping[str, Any]) -> None:
    for item in p.children("items"):
        item.code("category", _CATEGORY)
        item.string("field", max_chars=None, pattern=FIELD_PATTERN)
        item.json_value("new_value")
    p.uuid("request_id", required=False)
    p.code("reason", "rectification_reason")


def _data_erased(p: Node, _: Mapping[str, Any]) -> None:
    p.code_list("categories", _CATEGORY, allow_star=True)
    p.code("reason", "erasure_reason")
    p.uuid("request_id", required=False)


def _processing_restricted(p: Node, _: Mapping[str, Any]) -> None:
    p.uuid("restriction_id")
    p.code_list("categories", _CATEGORY, allow_star=True)
    p.code_list("purposes", "purpose", required=False, min_items=0)  # empty = every purpose
    p.code("ground", "restriction_ground")
    p.uuid("request_id", required=False)


def _restriction_lifted(p: Node, _: Mapping[str, Any]) -> None:
    p.uuid("restriction_id")
    p.code("reason", "restriction_lift_reason")
    p.timestamp("subject_informed_at", required=False)


def _legal_hold_placed(p: Node, _: Mapping[str, Any]) -> None:
    p.uuid("hold_id")
    p.code_list("categories", _CATEGORY, allow_star=True)
    p.code("reason", "legal_hold_reason")
    p.string("matter_ref")


def _retention_schedule_assigned(p: Node, _: Mapping[str, Any]) -> None:
    p.code_list("categories", _CATEGORY)
    p.string("rule_id")
    trigger = p.date("trigger_date")
    retain_until = p.date("retain_until")
    assert trigger is not None and retain_until is not None
    if retain_until < trigger:
        p.fail(_E.INCONSISTENT_FIELDS, "retain_until", "'retain_until' is before 'trigger_date'")


def _retention_expired(p: Node, _: Mapping[str, Any]) -> None:
    p.code_list("categories", _CATEGORY)
    p.date("retain_until")


def _recipient_notified(p: Node, _: Mapping[str, Any]) -> None:
    p.string("recipient_id", max_chars=None, pattern=RECIPIENT_ID_PATTERN)
    p.code("notification_type", "notification_type")
    p.uuid("ref_event_id")
    p.code("outcome", "notification_outcome")


# -- 4.3 consent and preferences -------------------------------------------------------------------
def _consent_given(p: Node, _: Mapping[str, Any]) -> None:
    p.uuid("consent_id")
    p.code("purpose", "purpose")
    p.code("method", "consent_method")
    p.string("notice_version")
    p.boolean("explicit")
    p.timestamp("expires_at", required=False)
    p.json_value("evidence", required=False, objects_only=True)


def _consent_withdrawn(p: Node, _: Mapping[str, Any]) -> None:
    p.code("purpose", "purpose")
    p.uuid("consent_id", required=False)
    p.code("method", "consent_method")


def _marketing_preference_changed(p: Node, _: Mapping[str, Any]) -> None:
    p.code("channel", "marketing_channel")
    p.code("preference", "marketing_preference")
    p.code_list("purposes", "purpose", required=False)  # absent = every direct-marketing purpose


def _objection_raised(p: Node, _: Mapping[str, Any]) -> None:
    p.uuid("objection_id")
    ground = p.code("ground", "objection_ground")
    if p.code_list("purposes", "purpose", required=False) is None and ground == "particular_situation":
        p.require("purposes", "when the ground is 'particular_situation'")
    p.uuid("request_id", required=False)
    p.text("statement")


def _privacy_notice_provided(p: Node, _: Mapping[str, Any]) -> None:
    p.string("notice_version")
    p.code("article", "notice_article")
    p.code_list("topics", "notice_topic", min_items=0)
    p.code("channel", "notice_channel")
    p.string("language", required=False, pattern=LANGUAGE_TAG_PATTERN)  # schema release 2


# -- 4.4 rights requests ---------------------------------------------------------------------------
def _request(*rest: Callable[[Node], object]) -> PayloadRule:
    """A request lifecycle rule: ``request_id`` first, then the event's own fields."""

    def rule(p: Node, _: Mapping[str, Any]) -> None:
        p.uuid("request_id")
        for check in rest:
            check(p)

    return rule


def _rights_request_received(p: Node, _: Mapping[str, Any]) -> None:
    p.uuid("request_id")
    p.code("request_type", "request_type")
    p.code("channel", "request_channel")
    p.boolean("via_third_party")
    p.text("requester_name")
    p.text("requester_contact")
    p.text("description")
    p.code_list("grounds", ("erasure_ground", "restriction_ground"), required=False, min_items=0)


def _request_extended(p: Node) -> None:
    p.code("reason", "extension_reason")
    p.timestamp("notice_sent_at", required=False)
    p.boolean("reasons_stated")


def _request_fulfilled(p: Node) -> None:
    p.code("outcome", "fulfilment_outcome")
    p.code_list("retained_categories", _CATEGORY, required=False, min_items=0)
    p.code("retention_reason", "retention_reason", required=False)
    p.text("notes")


def _request_refused(p: Node) -> None:
    p.code("reason", "refusal_reason")
    p.string("exemption_ref", required=False)
    p.boolean("complaint_rights_notified")
    p.text("details")


def _fee_requested(p: Node) -> None:
    p.integer("amount_pence", minimum=1)
    p.code("reason", "fee_reason")


# -- 4.5 to 4.8 ------------------------------------------------------------------------------------
def _automated_decision_made(p: Node, _: Mapping[str, Any]) -> None:
    p.uuid("decision_id")
    p.string("decision_type", max_chars=None, pattern=FIELD_PATTERN)
    p.boolean("significant")
    p.boolean("solely_automated")
    p.boolean("special_category_used")
    p.code("lawful_basis", "lawful_basis")
    p.code("art9_condition", "art9_condition", required=False)
    p.boolean("safeguards_notified")
    p.string("outcome_code")


def _complaint_received(p: Node, _: Mapping[str, Any]) -> None:
    p.uuid("complaint_id")
    p.code("channel", "complaint_channel")
    p.uuid("about_request_id", required=False)
    p.text("text")


def _alert_handled(p: Node, _: Mapping[str, Any]) -> None:
    p.uuid("alert_id")
    p.string("note", max_chars=_NOTE_MAX)


def _key_shredded(p: Node, _: Mapping[str, Any]) -> None:
    p.code("category", _CATEGORY)
    p.int_list("key_versions", minimum=1)


def _personal_data_viewed(p: Node, _: Mapping[str, Any]) -> None:
    """Spec 8 read audit: codes and opaque ids only. The reason is a code, never free text, so no
    personal value can reach the record (a typed reason could name the person)."""
    p.string("actor_ref", max_chars=64, forbid_at_sign=True)
    p.code("role", "staff_role")
    p.code("view", "personal_data_view")
    p.code("reason", "read_reason")
    p.code("interface", "access_interface")
    p.uuid("case_id", required=False)


def _erasure_deferred(p: Node, _: Mapping[str, Any]) -> None:
    p.code_list("categories", _CATEGORY, allow_star=True)
    p.uuid_list("hold_ids")
    p.uuid("ref_event_id")


PAYLOAD_RULES: Mapping[str, PayloadRule] = {
    # 4.1
    "SubjectRegistered": _subject_registered,
    "SubjectRoleChanged": _only(("role", "role"), ("change", "role_change")),
    "SubjectsMerged": _subjects_merged,
    # 4.2
    "DataCollected": _data_collected,
    "DataUsed": _data_used,
    "DataShared": _disclosure,
    "TransferredInternationally": _disclosure,
    "DataRectified": _data_rectified,
    "DataErased": _data_erased,
    "ProcessingRestricted": _processing_restricted,
    "RestrictionLifted": _restriction_lifted,
    "LegalHoldPlaced": _legal_hold_placed,
    "LegalHoldReleased": _only(("hold_id", "uuid")),
    "RetentionScheduleAssigned": _retention_schedule_assigned,
    "RetentionExpired": _retention_expired,
    "RecipientNotified": _recipient_notified,
    # 4.3
    "ConsentGiven": _consent_given,
    "ConsentWithdrawn": _consent_withdrawn,
    "MarketingPreferenceChanged": _marketing_preference_changed,
    "ObjectionRaised": _objection_raised,
    "ObjectionDecided": _only(("objection_id", "uuid"), ("outcome", "objection_outcome")),
    "PrivacyNoticeProvided": _privacy_notice_provided,
    # 4.4
    "RightsRequestReceived": _rights_request_received,
    "IdentityVerificationRequested": _request(lambda p: p.code("kind", "identity_verification_kind")),
    "IdentityEvidenceReceived": _request(lambda p: p.code("kind", "identity_verification_kind")),
    "IdentityVerified": _request(lambda p: p.string("method")),
    "IdentityVerificationFailed": _request(lambda p: p.string("reason")),
    "FeeRequested": _request(_fee_requested),
    "FeePaid": _request(lambda p: p.integer("amount_pence", minimum=1)),
    "ClarificationRequested": _request(lambda p: p.text("question")),
    "ClarificationReceived": _request(lambda p: p.text("answer")),
    "RequestExtended": _request(_request_extended),
    "RequestFulfilled": _request(_request_fulfilled),
    "RequestRefused": _request(_request_refused),
    "RequestWithdrawn": _request(),
    "RequestClosed": _request(lambda p: p.code("reason", "request_close_reason")),
    # 4.5 - 4.8
    "AutomatedDecisionMade": _automated_decision_made,
    "ComplaintReceived": _complaint_received,
    "ComplaintAcknowledged": _only(("complaint_id", "uuid")),
    "ComplaintOutcomeSent": _only(("complaint_id", "uuid")),
    "AlertAcknowledged": _alert_handled,
    "AlertResolved": _alert_handled,
    "KeyShredded": _key_shredded,
    "ErasureDeferred": _erasure_deferred,
    "PersonalDataViewed": _personal_data_viewed,
}
