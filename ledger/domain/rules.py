"""The event-triggered compliance rules of spec section 5 (A1-A15, A22-A24) in table order.

The as-of and request-timing rules (A16-A21, A25, A26) live in ``timing_alerts``. Each rule here reads one
triggering fact and the subject's state at the fact's ``occurred_at`` (every fact at or before that
instant folded in business order); see ``rules_base`` for trigger ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from ledger.domain.alert_model import Alert
from ledger.domain.rules_base import Rule, RuleInput
from ledger.domain.rules_basis import a1_no_valid_consent, a2_basis_not_registered, a3_li_not_documented
from ledger.domain.rules_processing import (
    a5_marketing_after_opt_out,
    a6_processing_after_objection,
    a7_processing_while_restricted,
    a8_processing_after_erasure,
    a11_transfer_without_safeguard,
    a12_cra_share_without_advance_notice,
    a15_art14_notice_not_provided_at_first_contact,
)
from ledger.domain.rules_records import (
    a4_dm_objection_override_not_permitted,
    a9_data_received_after_erasure,
    a10_restriction_lifted_without_prior_notice,
    a13_special_category_without_condition,
    a14_criminal_data_without_condition,
    a22_adm_special_category_not_permitted,
    a23_adm_safeguards_missing,
    a24_erasure_blocked_by_legal_hold,
)

__all__ = ["EVENT_RULES", "RULE_CODES", "RULE_EVENT_TYPES", "TRIGGER_TYPES", "alerts_for", "can_trigger"]

# Rule number -> (alert code, rule). Evaluation order is table order.
EVENT_RULES: Final[Mapping[str, tuple[str, Rule]]] = {
    "A1": ("NO_VALID_CONSENT", a1_no_valid_consent),
    "A2": ("BASIS_NOT_REGISTERED", a2_basis_not_registered),
    "A3": ("LI_NOT_DOCUMENTED", a3_li_not_documented),
    "A4": ("DM_OBJECTION_OVERRIDE_NOT_PERMITTED", a4_dm_objection_override_not_permitted),
    "A5": ("MARKETING_AFTER_OPT_OUT", a5_marketing_after_opt_out),
    "A6": ("PROCESSING_AFTER_OBJECTION", a6_processing_after_objection),
    "A7": ("PROCESSING_WHILE_RESTRICTED", a7_processing_while_restricted),
    "A8": ("PROCESSING_AFTER_ERASURE", a8_processing_after_erasure),
    "A9": ("DATA_RECEIVED_AFTER_ERASURE", a9_data_received_after_erasure),
    "A10": ("RESTRICTION_LIFTED_WITHOUT_PRIOR_NOTICE", a10_restriction_lifted_without_prior_notice),
    "A11": ("TRANSFER_WITHOUT_SAFEGUARD", a11_transfer_without_safeguard),
    "A12": ("CRA_SHARE_WITHOUT_ADVANCE_NOTICE", a12_cra_share_without_advance_notice),
    "A13": ("SPECIAL_CATEGORY_WITHOUT_CONDITION", a13_special_category_without_condition),
    "A14": ("CRIMINAL_DATA_WITHOUT_CONDITION", a14_criminal_data_without_condition),
    "A15": ("ART14_NOTICE_NOT_PROVIDED_AT_FIRST_CONTACT", a15_art14_notice_not_provided_at_first_contact),
    "A22": ("ADM_SPECIAL_CATEGORY_NOT_PERMITTED", a22_adm_special_category_not_permitted),
    "A23": ("ADM_SAFEGUARDS_MISSING", a23_adm_safeguards_missing),
    "A24": ("ERASURE_BLOCKED_BY_LEGAL_HOLD", a24_erasure_blocked_by_legal_hold),
}

RULE_CODES: Final = frozenset(code for code, _ in EVENT_RULES.values())

# Event types that can trigger one of these rules; every other fact only changes state.
TRIGGER_TYPES: Final = frozenset(
    {
        "DataCollected",
        "DataUsed",
        "DataShared",
        "TransferredInternationally",
        "DataRectified",
        "SubjectRegistered",
        "ObjectionDecided",
        "RestrictionLifted",
        "AutomatedDecisionMade",
        "DataErased",
    }
)


_PURPOSE_EVENTS: Final = frozenset({"DataCollected", "DataUsed", "DataShared", "TransferredInternationally"})
_PROCESSING: Final = frozenset({"DataUsed", "DataShared", "TransferredInternationally"})
_USE_OR_SHARE: Final = frozenset({"DataUsed", "DataShared"})

# Rule number -> the event types it can raise an alert for (each rule returns nothing for any other
# type; A15 reads what the fact met on arrival, so it is asked for every trigger type).
RULE_EVENT_TYPES: Final[Mapping[str, frozenset[str]]] = {
    "A1": _PURPOSE_EVENTS,
    "A2": _PURPOSE_EVENTS,
    "A3": _PURPOSE_EVENTS,
    "A4": frozenset({"ObjectionDecided"}),
    "A5": _USE_OR_SHARE,
    "A6": _USE_OR_SHARE,
    "A7": _PROCESSING,
    "A8": _PROCESSING,
    "A9": frozenset({"DataCollected", "DataRectified", "SubjectRegistered"}),
    "A10": frozenset({"RestrictionLifted"}),
    "A11": frozenset({"DataShared", "TransferredInternationally"}),
    "A12": frozenset({"DataShared"}),
    "A13": frozenset({"DataCollected"}),
    "A14": frozenset({"DataCollected"}),
    "A15": TRIGGER_TYPES,
    "A22": frozenset({"AutomatedDecisionMade"}),
    "A23": frozenset({"AutomatedDecisionMade"}),
    "A24": frozenset({"DataErased"}),
}

# Trigger type -> its rules in table order: a fact asks only the rules that can fire for its type.
_RULES_BY_TYPE: Final[Mapping[str, tuple[Rule, ...]]] = {
    kind: tuple(rule for number, (_, rule) in EVENT_RULES.items() if kind in RULE_EVENT_TYPES[number])
    for kind in TRIGGER_TYPES
}


def alerts_for(given: RuleInput) -> list[Alert]:
    """Every alert the triggering fact raises against its state, in rule-table order."""
    rules = _RULES_BY_TYPE.get(given.fact.event_type)
    if rules is None:
        return []
    out: list[Alert] = []
    for rule in rules:
        out.extend(rule(given))
    return out


def can_trigger(event_type: str) -> bool:
    """True if a fact of ``event_type`` can raise one of these alerts (others only change state)."""
    return event_type in _RULES_BY_TYPE
