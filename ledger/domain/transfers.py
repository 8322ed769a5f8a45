"""Transfer classification of a disclosure (spec 6.2) and its Article 30 mechanism (spec 6.6).

Pure: the recipient is the stored ``recipient`` object of a DataShared or TransferredInternationally
(none of its fields is personal), the adequacy list and mechanism groups come from the code lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from ledger.domain.codes import CodeLists

__all__ = [
    "ADEQUACY",
    "ADEQUACY_US_DPF",
    "ART46_SAFEGUARD",
    "ART49_DEROGATION",
    "CLASSIFICATIONS",
    "DOMESTIC",
    "INTRA_ENTITY",
    "NO_SAFEGUARD",
    "classify_transfer",
    "is_third_country",
    "ropa_mechanism",
]

DOMESTIC: Final = "domestic"
INTRA_ENTITY: Final = "intra_entity"
ADEQUACY: Final = "adequacy"
ADEQUACY_US_DPF: Final = "adequacy_us_dpf"
ART46_SAFEGUARD: Final = "art46_safeguard"
ART49_DEROGATION: Final = "art49_derogation"
NO_SAFEGUARD: Final = "no_safeguard"

# In the order of the rules of spec 6.2 (the first that matches wins).
CLASSIFICATIONS: Final = (
    DOMESTIC,
    INTRA_ENTITY,
    ADEQUACY,
    ADEQUACY_US_DPF,
    ART46_SAFEGUARD,
    ART49_DEROGATION,
    NO_SAFEGUARD,
)

_HOME_COUNTRY: Final = "GB"
_US: Final = "US"
_ART46_GROUP: Final = "art46"
_ART49_PREFIX: Final = "art49_"
_FALLBACK_ART46: Final = frozenset({"idta", "uk_addendum", "uk_bcr", "other_art46"})


def classify_transfer(recipient: Mapping[str, Any], transfer_mechanism: str | None, codes: CodeLists) -> str:
    """The ``transfer_classification`` of spec 6.2: the first of its seven ordered rules that matches.

    1. ``domestic`` (country ``GB``); 2. ``intra_entity`` (``same_legal_entity``); 3. ``adequacy`` (a
    full-list country, or CA/JP/KR with ``adequacy_scope_confirmed``); 4. ``adequacy_us_dpf`` (``US``
    with ``dpf_certified``); 5. ``art46_safeguard``; 6. ``art49_derogation``; 7. ``no_safeguard``.
    Flags count only when they are literally ``true``.
    """
    country = recipient.get("country")
    if country == _HOME_COUNTRY:
        return DOMESTIC
    if recipient.get("same_legal_entity") is True:
        return INTRA_ENTITY
    if country in codes.adequacy_full:
        return ADEQUACY
    flag = codes.adequacy_partial.get(country) if isinstance(country, str) else None
    if country != _US and flag is not None and recipient.get(flag) is True:
        return ADEQUACY
    if country == _US and recipient.get(codes.adequacy_partial.get(_US, "dpf_certified")) is True:
        return ADEQUACY_US_DPF
    if transfer_mechanism is not None:
        if transfer_mechanism in codes.transfer_mechanism_groups.get(_ART46_GROUP, _FALLBACK_ART46):
            return ART46_SAFEGUARD
        if transfer_mechanism.startswith(_ART49_PREFIX):
            return ART49_DEROGATION
    return NO_SAFEGUARD


def is_third_country(classification: str) -> bool:
    """True when the disclosure belongs in the ROPA ``third_countries`` (not domestic, not intra-entity)."""
    return classification not in (DOMESTIC, INTRA_ENTITY)


def ropa_mechanism(classification: str, mechanism: str | None) -> str:
    """The Article 30 ``third_countries[].mechanisms`` entry of spec 6.6 for a classified transfer.

    ``uk_adequacy`` for ``adequacy``, ``uk_adequacy_us_dpf`` for ``adequacy_us_dpf``, the given
    ``transfer_mechanism`` code for ``art46_safeguard`` or ``art49_derogation``, ``none`` for
    ``no_safeguard``. ValueError for ``domestic`` and ``intra_entity`` (not third-country transfers) and
    for an unknown classification.
    """
    if classification == ADEQUACY:
        return "uk_adequacy"
    if classification == ADEQUACY_US_DPF:
        return "uk_adequacy_us_dpf"
    if classification in (ART46_SAFEGUARD, ART49_DEROGATION):
        if not mechanism:
            raise ValueError(f"classification {classification} needs its transfer_mechanism code")
        return mechanism
    if classification == NO_SAFEGUARD:
        return "none"
    raise ValueError(f"{classification!r} is not a third-country transfer classification")
