"""Transfer classification (spec 6.2, seven ordered rules) and the ROPA mechanism (spec 6.6)."""

from __future__ import annotations

from typing import Any

import pytest
from fact_helpers import CODES

from ledger.domain.transfers import (
    ADEQUACY,
    ADEQUACY_US_DPF,
    ART46_SAFEGUARD,
    ART49_DEROGATION,
    DOMESTIC,
    INTRA_ENTITY,
    NO_SAFEGUARD,
    classify_transfer,
    is_third_country,
    ropa_mechanism,
)


def recipient(country: str, **flags: Any) -> dict[str, Any]:
    return {
        "recipient_id": "REC-1",
        "name": "Example Recipient Inc",
        "category": "supplier_processor",
        "role": "processor",
        "country": country,
        **flags,
    }


def test_gb_recipient_is_domestic_even_with_a_mechanism() -> None:
    assert classify_transfer(recipient("GB"), "idta", CODES) == DOMESTIC


def test_same_legal_entity_abroad_is_intra_entity() -> None:
    assert classify_transfer(recipient("IN", same_legal_entity=True), None, CODES) == INTRA_ENTITY


def test_gb_wins_over_same_legal_entity() -> None:
    assert classify_transfer(recipient("GB", same_legal_entity=True), None, CODES) == DOMESTIC


@pytest.mark.parametrize("country", ["DE", "FR", "IE", "NO", "IS", "LI", "CH", "NZ", "UY", "JE"])
def test_full_adequacy_country_is_adequacy(country: str) -> None:
    assert classify_transfer(recipient(country), None, CODES) == ADEQUACY


@pytest.mark.parametrize("country", ["CA", "JP", "KR"])
def test_partial_adequacy_with_scope_confirmed_is_adequacy(country: str) -> None:
    assert classify_transfer(recipient(country, adequacy_scope_confirmed=True), None, CODES) == ADEQUACY


@pytest.mark.parametrize("country", ["CA", "JP", "KR"])
def test_partial_adequacy_without_scope_and_no_mechanism_is_no_safeguard(country: str) -> None:
    assert classify_transfer(recipient(country), None, CODES) == NO_SAFEGUARD
    assert classify_transfer(recipient(country, adequacy_scope_confirmed=False), None, CODES) == NO_SAFEGUARD


def test_ca_without_scope_but_with_idta_is_art46() -> None:
    assert classify_transfer(recipient("CA"), "idta", CODES) == ART46_SAFEGUARD


def test_us_with_dpf_is_adequacy_us_dpf() -> None:
    assert classify_transfer(recipient("US", dpf_certified=True), None, CODES) == ADEQUACY_US_DPF


def test_us_with_dpf_wins_over_a_mechanism() -> None:
    assert classify_transfer(recipient("US", dpf_certified=True), "idta", CODES) == ADEQUACY_US_DPF


def test_us_without_dpf_is_no_safeguard() -> None:
    assert classify_transfer(recipient("US"), None, CODES) == NO_SAFEGUARD
    assert classify_transfer(recipient("US", dpf_certified=False), None, CODES) == NO_SAFEGUARD


def test_us_scope_flag_is_not_dpf() -> None:
    assert classify_transfer(recipient("US", adequacy_scope_confirmed=True), None, CODES) == NO_SAFEGUARD


def test_dpf_flag_outside_us_means_nothing() -> None:
    assert classify_transfer(recipient("IN", dpf_certified=True), None, CODES) == NO_SAFEGUARD


@pytest.mark.parametrize("mechanism", ["idta", "uk_addendum", "uk_bcr", "other_art46"])
def test_art46_mechanisms(mechanism: str) -> None:
    assert classify_transfer(recipient("IN"), mechanism, CODES) == ART46_SAFEGUARD


@pytest.mark.parametrize("mechanism", sorted(CODES.transfer_mechanism_groups["art49"]))
def test_art49_mechanisms(mechanism: str) -> None:
    assert classify_transfer(recipient("BR"), mechanism, CODES) == ART49_DEROGATION


def test_no_country_cover_and_no_mechanism_is_no_safeguard() -> None:
    assert classify_transfer(recipient("CN"), None, CODES) == NO_SAFEGUARD


def test_eu_destination_is_adequacy_even_with_art49() -> None:
    assert classify_transfer(recipient("DE"), "art49_contract", CODES) == ADEQUACY


@pytest.mark.parametrize(
    ("classification", "mechanism", "expected"),
    [
        (ADEQUACY, None, "uk_adequacy"),
        (ADEQUACY_US_DPF, None, "uk_adequacy_us_dpf"),
        (ART46_SAFEGUARD, "idta", "idta"),
        (ART49_DEROGATION, "art49_contract", "art49_contract"),
        (NO_SAFEGUARD, None, "none"),
    ],
)
def test_ropa_mechanism(classification: str, mechanism: str | None, expected: str) -> None:
    assert ropa_mechanism(classification, mechanism) == expected


@pytest.mark.parametrize("classification", [DOMESTIC, INTRA_ENTITY, "bogus"])
def test_ropa_mechanism_refuses_non_third_country(classification: str) -> None:
    with pytest.raises(ValueError):
        ropa_mechanism(classification, None)


def test_is_third_country() -> None:
    assert not is_third_country(DOMESTIC)
    assert not is_third_country(INTRA_ENTITY)
    assert is_third_country(NO_SAFEGUARD)
    assert is_third_country(ADEQUACY)
