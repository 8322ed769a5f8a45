"""Rules on single records: A4, A9, A10, A13, A14, A22, A23, A24 (spec section 5). One alert per event."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

from ledger.domain.alert_model import Alert
from ledger.domain.consent import DIRECT_MARKETING, parse_instant
from ledger.domain.rules_base import RuleInput, make_alert
from ledger.domain.subject_state import categories_of

__all__ = [
    "a4_dm_objection_override_not_permitted",
    "a9_data_received_after_erasure",
    "a10_restriction_lifted_without_prior_notice",
    "a13_special_category_without_condition",
    "a14_criminal_data_without_condition",
    "a22_adm_special_category_not_permitted",
    "a23_adm_safeguards_missing",
    "a24_erasure_blocked_by_legal_hold",
]

_VALUE_EVENTS: Final = frozenset({"DataCollected", "DataRectified", "SubjectRegistered"})
_OVERRIDES: Final = frozenset({"overridden_compelling_grounds", "overridden_legal_claims"})
_ART22B_BASES: Final = frozenset({"contract", "legal_obligation"})


def a4_dm_objection_override_not_permitted(given: RuleInput) -> Iterator[Alert]:
    """A4: an ObjectionDecided overrides a direct-marketing objection (raised at or before it)."""
    fact = given.fact
    if fact.event_type != "ObjectionDecided" or fact.payload.get("outcome") not in _OVERRIDES:
        return
    objection = given.state.consent.objection(str(fact.payload.get("objection_id")))
    if objection is not None and objection.ground == DIRECT_MARKETING:
        yield make_alert(
            "DM_OBJECTION_OVERRIDE_NOT_PERMITTED",
            given,
            f"outcome {fact.payload.get('outcome')} on direct_marketing objection {objection.objection_id}",
            related=(objection.raised_event_id,),
        )


def a9_data_received_after_erasure(given: RuleInput) -> Iterator[Alert]:
    """A9: a DataCollected, DataRectified or SubjectRegistered brings a value for a shredded category.

    Judged against the facts before it in business order: the value itself re-keys the category.
    """
    if given.fact.event_type not in _VALUE_EVENTS or not given.arrival.shredded:
        return
    categories = ",".join(c for c, _ in given.arrival.shredded)
    yield make_alert(
        "DATA_RECEIVED_AFTER_ERASURE",
        given,
        f"value received for erased categories {categories} (stored under a new key version)",
        related=[e for _, shreds in given.arrival.shredded for e in shreds],
    )


def a10_restriction_lifted_without_prior_notice(given: RuleInput) -> Iterator[Alert]:
    """A10: ``subject_informed_at`` is missing or later than the lift (Art 18(3))."""
    fact = given.fact
    if fact.event_type != "RestrictionLifted":
        return
    informed = parse_instant(fact.payload.get("subject_informed_at"))
    if informed is not None and informed <= fact.occurred_at:
        return
    restriction_id = str(fact.payload.get("restriction_id"))
    restriction = given.state.restriction(restriction_id)
    problem = "subject_informed_at is missing" if informed is None else "subject informed after the lift"
    yield make_alert(
        "RESTRICTION_LIFTED_WITHOUT_PRIOR_NOTICE",
        given,
        f"restriction {restriction_id} lifted: {problem}",
        related=(restriction.mark.event_id,) if restriction is not None else (),
    )


def _entries(payload: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    raw = payload.get(key)
    return [e for e in raw if isinstance(e, Mapping)] if isinstance(raw, list) else []


def _condition_check(given: RuleInput, code: str, is_kind: str, condition: str) -> Iterator[Alert]:
    fact = given.fact
    if fact.event_type != "DataCollected":
        return
    check = given.codes.is_special if is_kind == "special" else given.codes.is_criminal
    found = sorted(
        {c for c in (str(i.get("category")) for i in _entries(fact.payload, "data_items")) if check(c)}
    )
    if not found:
        return
    if any(e.get(condition) is not None for e in _entries(fact.payload, "purposes")):
        return
    yield make_alert(
        code, given, f"categories {','.join(found)} collected with no {condition} on any purpose"
    )


def a13_special_category_without_condition(given: RuleInput) -> Iterator[Alert]:
    """A13: a DataCollected special-category item whose purposes all lack ``art9_condition``."""
    return _condition_check(given, "SPECIAL_CATEGORY_WITHOUT_CONDITION", "special", "art9_condition")


def a14_criminal_data_without_condition(given: RuleInput) -> Iterator[Alert]:
    """A14: a DataCollected criminal-offence item whose purposes all lack ``art10_condition_ref``."""
    return _condition_check(given, "CRIMINAL_DATA_WITHOUT_CONDITION", "criminal", "art10_condition_ref")


def _solely_automated_significant(payload: Mapping[str, Any]) -> bool:
    return payload.get("significant") is True and payload.get("solely_automated") is True


def a22_adm_special_category_not_permitted(given: RuleInput) -> Iterator[Alert]:
    """A22: a significant, solely automated decision on special-category data without an Art 22B ground."""
    p = given.fact.payload
    if given.fact.event_type != "AutomatedDecisionMade" or not _solely_automated_significant(p):
        return
    if p.get("special_category_used") is not True:
        return
    condition, basis = p.get("art9_condition"), p.get("lawful_basis")
    if condition == "explicit_consent":
        return
    if basis in _ART22B_BASES and condition == "substantial_public_interest":
        return
    yield make_alert(
        "ADM_SPECIAL_CATEGORY_NOT_PERMITTED",
        given,
        f"decision {p.get('decision_id')} used special category data with lawful_basis {basis} and "
        f"art9_condition {condition or 'none'}",
    )


def a23_adm_safeguards_missing(given: RuleInput) -> Iterator[Alert]:
    """A23: a significant, solely automated decision without ``safeguards_notified`` (Art 22C)."""
    p = given.fact.payload
    if given.fact.event_type != "AutomatedDecisionMade" or not _solely_automated_significant(p):
        return
    if p.get("safeguards_notified") is not True:
        yield make_alert(
            "ADM_SAFEGUARDS_MISSING", given, f"decision {p.get('decision_id')} without safeguards notified"
        )


def a24_erasure_blocked_by_legal_hold(given: RuleInput) -> Iterator[Alert]:
    """A24 ERASURE_BLOCKED_BY_LEGAL_HOLD: a DataErased category (``*`` = any) is under an active hold."""
    fact = given.fact
    if fact.event_type != "DataErased":
        return
    categories = categories_of(fact.payload)
    holds = given.state.holds_covering(categories)
    if holds:
        yield make_alert(
            "ERASURE_BLOCKED_BY_LEGAL_HOLD",
            given,
            f"erasure of {','.join(sorted(categories))} blocked by legal hold "
            f"{','.join(h.hold_id for h in holds)}",
            related=[h.mark.event_id for h in holds],
        )
