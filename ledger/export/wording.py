"""Plain-English words for the report: event types, alert codes, statuses, instants and dates."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any, Final

from ledger.domain.calendar import LONDON
from ledger.domain.timeutil import canonical_timestamp, parse_date

__all__ = [
    "ALERT_WORDS",
    "EVENT_WORDS",
    "KIND_WORDS",
    "TRANSFER_WORDS",
    "code_words",
    "day_text",
    "event_words",
    "instant_lines",
    "instant_texts",
    "label_words",
]

KIND_WORDS: Final[dict[str, str]] = {
    "subject": "Subject timeline",
    "request": "Rights request timeline",
    "complaint": "Complaint timeline",
    "access_pack": "Access pack (Article 15)",
}

EVENT_WORDS: Final[dict[str, str]] = {
    "SubjectRegistered": "Subject registered",
    "SubjectRoleChanged": "Role changed",
    "SubjectsMerged": "Duplicate records merged",
    "DataCollected": "Data collected",
    "DataUsed": "Data used",
    "DataShared": "Data shared with a recipient",
    "TransferredInternationally": "Data transferred abroad",
    "DataRectified": "Data corrected",
    "DataErased": "Erasure instructed",
    "ProcessingRestricted": "Processing restricted",
    "RestrictionLifted": "Restriction lifted",
    "LegalHoldPlaced": "Legal hold placed",
    "LegalHoldReleased": "Legal hold released",
    "RetentionScheduleAssigned": "Retention period set",
    "RetentionExpired": "Retention period ended",
    "RecipientNotified": "Recipient told (Art 19)",
    "ConsentGiven": "Consent given",
    "ConsentWithdrawn": "Consent withdrawn",
    "MarketingPreferenceChanged": "Marketing preference changed",
    "ObjectionRaised": "Objection raised",
    "ObjectionDecided": "Objection decided",
    "PrivacyNoticeProvided": "Privacy notice given",
    "RightsRequestReceived": "Rights request received",
    "IdentityVerificationRequested": "Proof of identity asked for",
    "IdentityEvidenceReceived": "Proof of identity received",
    "IdentityVerified": "Identity verified",
    "IdentityVerificationFailed": "Identity not verified",
    "FeeRequested": "Fee asked for",
    "FeePaid": "Fee paid",
    "ClarificationRequested": "Clarification asked for",
    "ClarificationReceived": "Clarification received",
    "RequestExtended": "Deadline extended",
    "RequestFulfilled": "Request fulfilled",
    "RequestRefused": "Request refused",
    "RequestWithdrawn": "Request withdrawn",
    "RequestClosed": "Request closed",
    "AutomatedDecisionMade": "Automated decision made",
    "ComplaintReceived": "Complaint received",
    "ComplaintAcknowledged": "Complaint acknowledged",
    "ComplaintOutcomeSent": "Complaint outcome sent",
    "AlertAcknowledged": "Alert acknowledged",
    "AlertResolved": "Alert resolved",
    "KeyShredded": "Key destroyed: data erased",
    "ErasureDeferred": "Erasure deferred by legal hold",
}

# Spec section 5, one line each, built from codes only.
ALERT_WORDS: Final[dict[str, str]] = {
    "NO_VALID_CONSENT": "Processing relied on consent that was not in force",
    "BASIS_NOT_REGISTERED": "Lawful basis not registered for the purpose",
    "LI_NOT_DOCUMENTED": "Legitimate interest not documented",
    "DM_OBJECTION_OVERRIDE_NOT_PERMITTED": "Direct-marketing objection overridden (not permitted)",
    "MARKETING_AFTER_OPT_OUT": "Marketing after the person opted out",
    "PROCESSING_AFTER_OBJECTION": "Processing after an objection",
    "PROCESSING_WHILE_RESTRICTED": "Processing while restricted",
    "PROCESSING_AFTER_ERASURE": "Processing after erasure",
    "DATA_RECEIVED_AFTER_ERASURE": "Data received again after erasure",
    "RESTRICTION_LIFTED_WITHOUT_PRIOR_NOTICE": "Restriction lifted without telling the person first",
    "TRANSFER_WITHOUT_SAFEGUARD": "Transfer abroad without a safeguard",
    "CRA_SHARE_WITHOUT_ADVANCE_NOTICE": "Shared with a credit reference agency without advance notice",
    "SPECIAL_CATEGORY_WITHOUT_CONDITION": "Special category data without an Article 9 condition",
    "CRIMINAL_DATA_WITHOUT_CONDITION": "Criminal offence data without an Article 10 condition",
    "ART14_NOTICE_NOT_PROVIDED_AT_FIRST_CONTACT": "No privacy notice at first contact (Art 14)",
    "ART14_NOTICE_OVERDUE": "Privacy notice overdue (Art 14)",
    "REQUEST_OVERDUE": "Rights request overdue",
    "LATE_EXTENSION_NOTICE": "Extension notified too late",
    "CLARIFICATION_AFTER_DEADLINE": "Clarification asked after the deadline",
    "REFUSAL_WITHOUT_COMPLAINT_RIGHTS": "Refusal did not mention the right to complain",
    "EXTENSION_REASONS_NOT_STATED": "Extension reasons not stated",
    "ADM_SPECIAL_CATEGORY_NOT_PERMITTED": "Automated decision on special category data not permitted",
    "ADM_SAFEGUARDS_MISSING": "Automated decision without safeguards",
    "ERASURE_BLOCKED_BY_LEGAL_HOLD": "Erasure held back by a legal hold",
    "RETENTION_PERIOD_EXCEEDED": "Kept longer than its retention period",
    "COMPLAINT_ACK_OVERDUE": "Complaint acknowledgement overdue",
}

# Spec 6.2 transfer classification.
TRANSFER_WORDS: Final[dict[str, str]] = {
    "domestic": "within the UK",
    "intra_entity": "same legal entity",
    "adequacy": "UK adequacy regulations",
    "adequacy_us_dpf": "UK adequacy (US Data Privacy Framework)",
    "art46_safeguard": "Article 46 safeguard",
    "art49_derogation": "Article 49 exception",
    "no_safeguard": "no safeguard",
}

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def event_words(event_type: object) -> str:
    """An event type in words (``DataCollected`` -> ``Data collected``); unknown types are split."""
    name = str(event_type)
    if name in EVENT_WORDS:
        return EVENT_WORDS[name]
    return _CAMEL.sub(" ", name).capitalize()


def code_words(code: object) -> str:
    """A code list value in words (``legitimate_interests`` -> ``legitimate interests``)."""
    return str(code).replace("_", " ")


# Labels that splitting the key into words would get wrong.
_LABELS: Final[dict[str, str]] = {
    "li_ref": "LI ref",
    "rli_ref": "RLI ref",
    "tra_ref": "Transfer risk assessment",
    "art13_notice_given": "Art 13 notice given",
    "art14_exemption": "Art 14 exemption",
    "art9_condition": "Art 9 condition",
    "art10_condition_ref": "Art 10 condition",
    "dpa_sch1_ref": "DPA 2018 Sch 1 ref",
    "dpf_certified": "DPF certified",
    "adm_review": "ADM review",
}


def label_words(key: object) -> str:
    """A payload key as a label (``request_type`` -> ``Request type``)."""
    if str(key) in _LABELS:
        return _LABELS[str(key)]
    text = code_words(key)
    return text[:1].upper() + text[1:]


def instant_texts(value: Any) -> tuple[str, str]:
    """An RFC 3339 instant as (Europe/London local time, UTC time); unparsable text is returned as is."""
    if not isinstance(value, str) or not value:
        return ("not recorded", "")
    try:
        instant = canonical_timestamp(value)
    except ValueError:
        return (value, "")
    local = instant.astimezone(LONDON)
    return (
        f"{_day(local.date())} {local:%H:%M:%S} {local.tzname()}",
        f"{instant.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC",
    )


def instant_lines(value: Any) -> tuple[str, ...]:
    """An instant as lines: London date, London time, UTC time (with its date when that differs)."""
    if not isinstance(value, str) or not value:
        return ("not recorded",)
    try:
        instant = canonical_timestamp(value)
    except ValueError:
        return (value,)
    local, utc = instant.astimezone(LONDON), instant.astimezone(UTC)
    utc_text = f"{utc:%H:%M:%S} UTC" if utc.date() == local.date() else f"{utc:%Y-%m-%d %H:%M:%S} UTC"
    return (_day(local.date()), f"{local:%H:%M:%S} {local.tzname()}", utc_text)


def day_text(value: Any) -> str:
    """A ``YYYY-MM-DD`` date (or an instant's London date) as ``Tue 7 Apr 2026``; empty for none."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            return _day(parse_date(value))
        except ValueError:
            pass
        try:
            return _day(canonical_timestamp(value).astimezone(LONDON).date())
        except ValueError:
            return value
    if isinstance(value, datetime):
        return _day(value.astimezone(LONDON).date())
    if isinstance(value, date):
        return _day(value)
    return str(value)


def _day(d: date) -> str:
    return f"{d:%a} {d.day} {d:%b %Y}"
