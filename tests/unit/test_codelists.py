"""The code lists as data (schemas/codelists.json) and their W3C DPV mapping (dpv-mapping.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ledger.codelists import DEFAULT_CODE_LISTS_PATH, load_code_lists
from ledger.domain.codes import REQUIRED_LISTS, CodeLists
from ledger.errors import CodeListError, LedgerError

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
DPV_LISTS = (
    "role",
    "category",
    "source_type",
    "purpose",
    "lawful_basis",
    "art9_condition",
    "recipient_category",
    "transfer_mechanism",
    "right",
    "request_type",
)


@pytest.fixture(scope="module")
def codes() -> CodeLists:
    return load_code_lists()


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SCHEMAS / "codelists.json").read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def dpv() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SCHEMAS / "dpv-mapping.json").read_text(encoding="utf-8"))
    return data


def test_the_code_lists_load_from_the_repository_schemas(codes: CodeLists) -> None:
    assert DEFAULT_CODE_LISTS_PATH.samefile(SCHEMAS / "codelists.json")
    assert codes.version == "2026-11-01"
    assert codes.lists.keys() >= REQUIRED_LISTS


def test_loading_is_cached(codes: CodeLists) -> None:
    assert load_code_lists() is codes
    assert load_code_lists(DEFAULT_CODE_LISTS_PATH) is codes


def test_the_lists_hold_the_spec_section_1_codes(codes: CodeLists) -> None:
    assert len(codes.codes("role")) == 9
    assert len(codes.codes("category")) == 30
    assert len(codes.codes("purpose")) == 11
    assert len(codes.codes("lawful_basis")) == 7
    assert len(codes.codes("recipient_category")) == 9
    assert len(codes.codes("transfer_mechanism")) == 10
    assert len(codes.codes("art9_condition")) == 10
    assert codes.is_code("rli_ref", "public_body_request")
    assert not codes.is_code("category", "email")


def test_the_full_iso_3166_alpha2_list_is_shipped(codes: CodeLists) -> None:
    countries = codes.codes("country")
    assert len(countries) == 249
    assert all(len(c) == 2 and c.isascii() and c.isupper() for c in countries)


def test_gb_is_a_country_and_uk_is_not(codes: CodeLists) -> None:
    assert codes.is_country("GB")
    assert not codes.is_country("UK")
    assert not codes.is_country("gb")
    assert not codes.is_country(None)


def test_every_purpose_has_registered_bases(codes: CodeLists) -> None:
    assert set(codes.purposes) == codes.codes("purpose")
    for rule in codes.purposes.values():
        assert rule.registered_bases
        assert rule.registered_bases <= codes.codes("lawful_basis")


def test_the_purpose_register_matches_spec_1_4(codes: CodeLists) -> None:
    assert codes.direct_marketing_purposes == {"b2b_marketing"}
    assert codes.purpose("b2b_marketing").li_ref == "LI-1"
    assert codes.purpose("marketing_product_development").registered_bases == {"legitimate_interests"}
    assert codes.purpose("crime_prevention").li_ref is None
    li_refs = {r.li_ref for r in codes.purposes.values() if r.li_ref}
    assert li_refs == set(codes.legitimate_interests) == {"LI-1", "LI-2", "LI-3", "LI-4"}


def test_special_category_is_derived_from_the_eight_art9_codes(codes: CodeLists) -> None:
    assert len(codes.special_categories) == 8
    assert codes.is_special("health")
    assert not codes.is_special("gender")
    assert not codes.is_special("criminal_offence")
    assert codes.is_criminal("criminal_offence")


def test_each_source_type_names_its_own_sub_list(codes: CodeLists) -> None:
    assert codes.source_rule("data_subject").field == "channel"
    assert codes.codes(codes.source_rule("data_subject").list_name) == {
        "phone",
        "email",
        "post",
        "online",
        "face_to_face",
    }
    for source_type in ("public_source", "observed", "third_party", "derived"):
        assert codes.source_rule(source_type).field == "name"
    assert codes.source_rule("derived").notice_article is None


def test_the_adequacy_list_is_data(codes: CodeLists) -> None:
    assert len(codes.adequacy_full) == 41  # 30 EEA states and 11 others
    assert {"IE", "CH", "NZ", "UY", "GI"} <= codes.adequacy_full
    assert "GB" not in codes.adequacy_full
    assert dict(codes.adequacy_partial) == {
        "CA": "adequacy_scope_confirmed",
        "JP": "adequacy_scope_confirmed",
        "KR": "adequacy_scope_confirmed",
        "US": "dpf_certified",
    }
    assert codes.transfer_mechanism_groups["art46"] | codes.transfer_mechanism_groups["art49"] == codes.codes(
        "transfer_mechanism"
    )


def test_no_list_repeats_a_code(raw: dict[str, Any]) -> None:
    for name, values in raw["lists"].items():
        assert len(values) == len(set(values)), name


def test_every_dpv_mapped_code_of_section_1_has_an_entry(codes: CodeLists, dpv: dict[str, Any]) -> None:
    mappings = dpv["mappings"]
    assert set(DPV_LISTS) <= mappings.keys()
    for list_name in DPV_LISTS:
        assert set(mappings[list_name]) == codes.codes(list_name), list_name
        for code, entry in mappings[list_name].items():
            assert entry["terms"], f"{list_name}.{code}"


def test_every_dpv_term_uses_a_declared_prefix_and_local_terms_are_declared(
    dpv: dict[str, Any],
) -> None:
    prefixes = dpv["prefixes"]
    assert prefixes["dpv"] == "https://w3id.org/dpv#"
    assert prefixes["pd"] == "https://w3id.org/dpv/pd#"
    assert prefixes["eu-gdpr"] == "https://w3id.org/dpv/legal/eu/gdpr#"
    terms = {
        term
        for mapping in dpv["mappings"].values()
        for entry in mapping.values()
        for term in entry["terms"] + entry.get("data_terms", [])
    }
    for term in terms | set(dpv["local_terms"]):
        assert term.split(":", 1)[0] in prefixes, term
    local = {t for t in terms if t.startswith("ct:")}
    assert local <= set(dpv["local_terms"])
    for declared in dpv["local_terms"].values():
        assert declared["rdfs:subClassOf"].split(":", 1)[0] in prefixes


def test_spec_tables_are_mapped_as_given(dpv: dict[str, Any]) -> None:
    m = dpv["mappings"]
    assert m["role"]["client_contracting_party"]["terms"] == ["dpv:Client"]
    assert m["category"]["device_technical"]["terms"] == [
        "pd:DeviceBased",
        "pd:IPAddress",
        "pd:BrowsingBehavior",
        "pd:UserAgent",
    ]
    assert m["lawful_basis"]["recognised_legitimate_interest"]["terms"] == ["ct:A6-1-ea"]
    assert dpv["local_terms"]["ct:A6-1-ea"]["rdfs:subClassOf"] == "dpv:LegitimateInterest"
    assert m["purpose"]["b2b_marketing"]["terms"] == ["dpv:DirectMarketing"]
    assert m["right"]["complain_to_controller"]["terms"] == ["ct:DPA-s164A"]


def test_a_missing_list_is_refused_at_load(raw: dict[str, Any], tmp_path: Path) -> None:
    broken = json.loads(json.dumps(raw))
    del broken["lists"]["refusal_reason"]
    path = tmp_path / "codelists.json"
    path.write_text(json.dumps(broken), encoding="utf-8")
    with pytest.raises(CodeListError, match="refusal_reason"):
        load_code_lists(path)


def test_a_purpose_without_registered_bases_is_refused(raw: dict[str, Any]) -> None:
    broken = json.loads(json.dumps(raw))
    broken["purposes"]["agreed_other"]["registered_bases"] = []
    with pytest.raises(ValueError, match="agreed_other"):
        CodeLists.from_data(broken)


def test_an_unreadable_file_is_a_ledger_error(tmp_path: Path) -> None:
    path = tmp_path / "codelists.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(LedgerError):
        load_code_lists(path)
    with pytest.raises(CodeListError):
        load_code_lists(tmp_path / "absent.json")
