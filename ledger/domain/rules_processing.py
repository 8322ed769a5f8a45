"""Rules on uses and disclosures: A5-A8, A11, A12, A15 (spec section 5). One alert per event and code."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

from ledger.domain.alert_model import Alert
from ledger.domain.consent import Mark
from ledger.domain.rules_base import RuleInput, make_alert
from ledger.domain.rules_basis import PROCESSING_EVENTS
from ledger.domain.subject_state import categories_of
from ledger.domain.transfers import NO_SAFEGUARD, classify_transfer

__all__ = [
    "a5_marketing_after_opt_out",
    "a6_processing_after_objection",
    "a7_processing_while_restricted",
    "a8_processing_after_erasure",
    "a11_transfer_without_safeguard",
    "a12_cra_share_without_advance_notice",
    "a15_art14_notice_not_provided_at_first_contact",
]

_USE_OR_SHARE: Final = frozenset({"DataUsed", "DataShared"})
_DISCLOSURES: Final = frozenset({"DataShared", "TransferredInternationally"})
_CRA: Final = "credit_reference_agency"


def _recipient(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    recipient = payload.get("recipient")
    return recipient if isinstance(recipient, Mapping) else {}


def _sorted_codes(codes: frozenset[str]) -> str:
    return ",".join(sorted(codes))


def a5_marketing_after_opt_out(given: RuleInput) -> Iterator[Alert]:
    """A5 MARKETING_AFTER_OPT_OUT: DM use on a suppressed channel, or a DM share while suppressed."""
    fact = given.fact
    if fact.event_type not in _USE_OR_SHARE:
        return
    purpose = str(fact.payload.get("purpose"))
    if not given.codes.is_direct_marketing(purpose):
        return
    raw_channel = fact.payload.get("channel") if fact.event_type == "DataUsed" else None
    channel = str(raw_channel) if raw_channel is not None else None
    found = given.state.consent.suppression(purpose, channel, given.codes)
    if found.suppressed:
        where = f"channel {channel}" if channel is not None else "any channel"
        yield make_alert(
            "MARKETING_AFTER_OPT_OUT",
            given,
            f"direct marketing purpose {purpose} on {where} while suppressed",
            related=found.blocking_event_ids,
        )


def a6_processing_after_objection(given: RuleInput) -> Iterator[Alert]:
    """A6 PROCESSING_AFTER_OBJECTION: a particular-situation objection covering the purpose is in force."""
    fact = given.fact
    if fact.event_type not in _USE_OR_SHARE:
        return
    purpose = str(fact.payload.get("purpose"))
    objections = given.state.consent.active_objections(purpose)
    if objections:
        related: list[str] = []
        for o in objections:
            related.append(o.raised_event_id)
            if o.decision_event_id is not None:
                related.append(o.decision_event_id)
        states = ",".join(sorted({o.state for o in objections}))
        ids = ",".join(o.objection_id for o in objections)
        yield make_alert(
            "PROCESSING_AFTER_OBJECTION",
            given,
            f"purpose {purpose} is covered by objection {ids} ({states})",
            related=related,
        )


def a7_processing_while_restricted(given: RuleInput) -> Iterator[Alert]:
    """A7 PROCESSING_WHILE_RESTRICTED: categories and purpose under an active restriction, no exemption."""
    fact = given.fact
    if fact.event_type not in PROCESSING_EVENTS or fact.payload.get("restriction_exemption") is not None:
        return
    purpose = str(fact.payload.get("purpose"))
    categories = categories_of(fact.payload)
    restrictions = given.state.restrictions_covering(categories, purpose)
    if restrictions:
        ids = ",".join(r.restriction_id for r in restrictions)
        yield make_alert(
            "PROCESSING_WHILE_RESTRICTED",
            given,
            f"categories {_sorted_codes(categories)} for purpose {purpose} are under restriction {ids}",
            related=[r.mark.event_id for r in restrictions],
        )


def a8_processing_after_erasure(given: RuleInput) -> Iterator[Alert]:
    """A8 PROCESSING_AFTER_ERASURE: a named category was shredded (at or before) and not re-keyed since."""
    fact = given.fact
    if fact.event_type not in PROCESSING_EVENTS:
        return
    hit: dict[str, tuple[str, ...]] = {}
    for category in sorted(categories_of(fact.payload)):
        shreds = given.state.shredded(category)
        if shreds:
            hit[category] = shreds
    if hit:
        yield make_alert(
            "PROCESSING_AFTER_ERASURE",
            given,
            f"categories {','.join(hit)} were erased",
            related=[e for shreds in hit.values() for e in shreds],
        )


def a11_transfer_without_safeguard(given: RuleInput) -> Iterator[Alert]:
    """A11 TRANSFER_WITHOUT_SAFEGUARD: the disclosure's transfer classification is ``no_safeguard``."""
    fact = given.fact
    if fact.event_type not in _DISCLOSURES:
        return
    recipient = _recipient(fact.payload)
    mechanism = fact.payload.get("transfer_mechanism")
    classification = classify_transfer(
        recipient, str(mechanism) if mechanism is not None else None, given.codes
    )
    if classification == NO_SAFEGUARD:
        yield make_alert(
            "TRANSFER_WITHOUT_SAFEGUARD",
            given,
            f"recipient {recipient.get('recipient_id')} in {recipient.get('country')} is a restricted "
            "transfer with no adequacy, safeguard or derogation",
        )


def a12_cra_share_without_advance_notice(given: RuleInput) -> Iterator[Alert]:
    """A12: a DataShared to a credit reference agency with no strictly earlier ``cra_sharing`` notice."""
    fact = given.fact
    if fact.event_type != "DataShared":
        return
    recipient = _recipient(fact.payload)
    if recipient.get("category") != _CRA:
        return
    if not given.state.notices_before(Mark.of(fact), topic="cra_sharing"):
        yield make_alert(
            "CRA_SHARE_WITHOUT_ADVANCE_NOTICE",
            given,
            f"share to credit_reference_agency {recipient.get('recipient_id')} with no earlier "
            "cra_sharing notice",
        )


def a15_art14_notice_not_provided_at_first_contact(given: RuleInput) -> Iterator[Alert]:
    """A15: the first communication or disclosure after a non-exempt Art 14 collection, with no notice yet.

    A notice counts when its ``occurred_at`` is at or before the contact's (any article, any topic).
    """
    collections = given.arrival.art14_collections
    if collections and not given.state.has_notice():
        kind = "disclosure" if given.fact.event_type in _DISCLOSURES else "communication"
        yield make_alert(
            "ART14_NOTICE_NOT_PROVIDED_AT_FIRST_CONTACT",
            given,
            f"first {kind} after Art 14 collection {','.join(collections)} with no privacy notice",
            related=collections,
        )
