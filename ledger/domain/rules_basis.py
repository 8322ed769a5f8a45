"""Rules on the lawful basis of each purpose entry: A1 consent, A2 register, A3 LI reference (spec 5).

A purpose entry is the payload itself for DataUsed, DataShared and TransferredInternationally (trigger id
= event id), and each element of ``purposes`` for DataCollected (trigger id = ``event_id#index``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final

from ledger.domain.alert_model import Alert
from ledger.domain.consent import GIVEN
from ledger.domain.rules_base import RuleInput, make_alert

__all__ = ["PROCESSING_EVENTS", "a1_no_valid_consent", "a2_basis_not_registered", "a3_li_not_documented"]

PROCESSING_EVENTS: Final = frozenset({"DataUsed", "DataShared", "TransferredInternationally"})
_CONSENT: Final = "consent"
_LI: Final = "legitimate_interests"


def purpose_entries(given: RuleInput) -> Iterator[tuple[int | None, Mapping[str, Any]]]:
    """``(entry index or None, entry)`` for every purpose entry of the triggering fact."""
    fact = given.fact
    if fact.event_type in PROCESSING_EVENTS:
        yield None, fact.payload
    elif fact.event_type == "DataCollected":
        entries = fact.payload.get("purposes")
        for index, entry in enumerate(entries if isinstance(entries, list) else ()):
            if isinstance(entry, Mapping):
                yield index, entry


def a1_no_valid_consent(given: RuleInput) -> Iterator[Alert]:
    """A1 NO_VALID_CONSENT: basis consent while the (subject, purpose) consent is not GIVEN."""
    for index, entry in purpose_entries(given):
        if entry.get("lawful_basis") != _CONSENT:
            continue
        purpose = str(entry.get("purpose"))
        status = given.state.consent.status(purpose, given.fact.occurred_at)
        if status.status != GIVEN:
            yield make_alert(
                "NO_VALID_CONSENT",
                given,
                f"purpose {purpose} has lawful_basis consent but consent status is {status.status}",
                related=(status.event_id,) if status.event_id else (),
                entry=index,
            )


def a2_basis_not_registered(given: RuleInput) -> Iterator[Alert]:
    """A2 BASIS_NOT_REGISTERED: the lawful basis is not among the purpose's registered bases."""
    for index, entry in purpose_entries(given):
        rule = given.codes.purposes.get(str(entry.get("purpose")))
        basis = entry.get("lawful_basis")
        if rule is not None and basis not in rule.registered_bases:
            yield make_alert(
                "BASIS_NOT_REGISTERED",
                given,
                f"lawful_basis {basis} is not registered for purpose {rule.code}",
                entry=index,
            )


def a3_li_not_documented(given: RuleInput) -> Iterator[Alert]:
    """A3 LI_NOT_DOCUMENTED: basis legitimate_interests with ``li_ref`` missing or not the purpose's."""
    for index, entry in purpose_entries(given):
        if entry.get("lawful_basis") != _LI:
            continue
        purpose = str(entry.get("purpose"))
        rule = given.codes.purposes.get(purpose)
        expected = rule.li_ref if rule is not None else None
        li_ref = entry.get("li_ref")
        if li_ref is not None and li_ref == expected:
            continue
        # The given li_ref is free text: never echoed, only whether it is missing or wrong.
        problem = "li_ref is missing" if li_ref is None else "li_ref does not match the register"
        wanted = f"expected {expected}" if expected else "the purpose has no registered LI"
        yield make_alert("LI_NOT_DOCUMENTED", given, f"purpose {purpose}: {problem}; {wanted}", entry=index)
