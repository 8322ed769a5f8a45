"""The closed code lists of spec section 1 and the enumerations of section 4, as one value.

Pure: the lists arrive as already-parsed JSON data (``CodeLists.from_data``); reading the file is
the job of ``ledger.codelists``. Adding a code is a configuration release, never a code change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

__all__ = [
    "REQUIRED_LISTS",
    "CodeLists",
    "PurposeRule",
    "SourceRule",
]

# Every list the ledger's rules read; a configuration without one of them is refused at load time.
REQUIRED_LISTS: frozenset[str] = frozenset(
    {
        # section 1
        "role",
        "category",
        "source_type",
        "data_subject_channel",
        "public_source_name",
        "observed_source_name",
        "third_party_source_name",
        "derived_source_name",
        "purpose",
        "lawful_basis",
        "rli_ref",
        "art9_condition",
        "recipient_category",
        "transfer_mechanism",
        "right",
        "erasure_ground",
        "restriction_ground",
        "country",
        # section 4
        "role_change",
        "merge_reason",
        "processing_means",
        "art14_exemption",
        "communication_channel",
        "restriction_exemption",
        "recipient_role",
        "rectification_reason",
        "erasure_reason",
        "restriction_lift_reason",
        "legal_hold_reason",
        "notification_type",
        "notification_outcome",
        "consent_method",
        "marketing_channel",
        "marketing_preference",
        "objection_ground",
        "objection_outcome",
        "notice_article",
        "notice_topic",
        "notice_channel",
        "request_type",
        "request_channel",
        "identity_verification_kind",
        "fee_reason",
        "extension_reason",
        "fulfilment_outcome",
        "retention_reason",
        "refusal_reason",
        "request_close_reason",
        "complaint_channel",
        # section 8: the read audit (PersonalDataViewed)
        "staff_role",
        "personal_data_view",
        "read_reason",
        "access_interface",
    }
)


@dataclass(frozen=True)
class PurposeRule:
    """One row of the purpose register (spec 1.4): documented bases, LI reference, DM flag."""

    code: str
    registered_bases: frozenset[str]
    li_ref: str | None
    direct_marketing: bool


@dataclass(frozen=True)
class SourceRule:
    """For a ``source.type`` (spec 1.3): the sub-field naming the source and its code list."""

    source_type: str
    field: str  # "channel" or "name"
    list_name: str
    notice_article: str | None  # "art13", "art14" or None (derived data)


@dataclass(frozen=True, eq=False)
class CodeLists:
    """Every closed code list, the purpose register, special/criminal categories, adequacy."""

    version: str
    lists: Mapping[str, frozenset[str]]
    purposes: Mapping[str, PurposeRule]
    special_categories: frozenset[str]
    criminal_categories: frozenset[str]
    source_rules: Mapping[str, SourceRule]
    transfer_mechanism_groups: Mapping[str, frozenset[str]]
    adequacy_full: frozenset[str]
    adequacy_partial: Mapping[str, str]  # country -> the flag that confirms the receiver is in scope
    legitimate_interests: Mapping[str, str]

    def codes(self, list_name: str) -> frozenset[str]:
        """The codes of ``list_name`` (KeyError if there is no such list)."""
        return self.lists[list_name]

    def is_code(self, list_name: str, value: object) -> bool:
        """True if ``value`` is a code of ``list_name`` (KeyError if there is no such list)."""
        return isinstance(value, str) and value in self.lists[list_name]

    def is_country(self, value: object) -> bool:
        """True if ``value`` is an ISO 3166-1 alpha-2 code (``GB`` yes, ``UK`` no)."""
        return self.is_code("country", value)

    def is_special(self, category: str) -> bool:
        """True for the eight Art 9 special-category codes (spec 1.2)."""
        return category in self.special_categories

    def is_criminal(self, category: str) -> bool:
        """True for Art 10 criminal-offence data (spec 1.2)."""
        return category in self.criminal_categories

    def purpose(self, code: str) -> PurposeRule:
        """The register row of purpose ``code`` (KeyError if unknown)."""
        return self.purposes[code]

    def is_direct_marketing(self, purpose: str) -> bool:
        """True if ``purpose`` is flagged as direct marketing (unknown purposes are not)."""
        rule = self.purposes.get(purpose)
        return rule is not None and rule.direct_marketing

    @property
    def direct_marketing_purposes(self) -> frozenset[str]:
        """Every purpose flagged as direct marketing (today ``b2b_marketing``)."""
        return frozenset(code for code, rule in self.purposes.items() if rule.direct_marketing)

    def source_rule(self, source_type: str) -> SourceRule:
        """How a source of ``source_type`` is named (KeyError if the type is unknown)."""
        return self.source_rules[source_type]

    @classmethod
    def from_data(cls, data: Mapping[str, Any], required: Iterable[str] = REQUIRED_LISTS) -> CodeLists:
        """Build from the parsed ``schemas/codelists.json``; ValueError says what is wrong."""
        try:
            return _build(cls, data, frozenset(required))
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"malformed code-list data: {type(exc).__name__} {exc}") from exc


def _strings(raw: Any, what: str) -> frozenset[str]:
    if not isinstance(raw, list) or not all(isinstance(x, str) and x for x in raw):
        raise ValueError(f"{what} must be a list of non-empty strings")
    if len(set(raw)) != len(raw):
        raise ValueError(f"{what} has duplicate codes")
    return frozenset(raw)


def _build(cls: type[CodeLists], data: Mapping[str, Any], required: frozenset[str]) -> CodeLists:
    version = data["version"]
    if not isinstance(version, str) or not version:
        raise ValueError("version must be a non-empty string")
    lists = {name: _strings(codes, f"list {name}") for name, codes in data["lists"].items()}
    missing = sorted(required - lists.keys())
    if missing:
        raise ValueError(f"code lists missing: {', '.join(missing)}")
    purposes: dict[str, PurposeRule] = {}
    for code, row in data["purposes"].items():
        bases = _strings(row["registered_bases"], f"registered_bases of {code}")
        if not bases or not bases <= lists["lawful_basis"]:
            raise ValueError(f"registered_bases of {code} must be non-empty lawful_basis codes")
        li_ref = row["li_ref"]
        if li_ref is not None and not isinstance(li_ref, str):
            raise ValueError(f"li_ref of {code} must be a string or null")
        direct_marketing = row["direct_marketing"]
        if not isinstance(direct_marketing, bool):
            raise ValueError(f"direct_marketing of {code} must be true or false")
        purposes[code] = PurposeRule(code, bases, li_ref, direct_marketing)
    if set(purposes) != lists["purpose"]:
        raise ValueError("the purpose register must have exactly one row per purpose code")
    special = _strings(data["special_categories"], "special_categories")
    criminal = _strings(data["criminal_categories"], "criminal_categories")
    if not (special | criminal) <= lists["category"]:
        raise ValueError("special and criminal categories must be category codes")
    sources = {
        t: SourceRule(t, r["field"], r["list"], r["notice_article"]) for t, r in data["source_types"].items()
    }
    if set(sources) != lists["source_type"] or any(r.list_name not in lists for r in sources.values()):
        raise ValueError("source_types must map every source_type to a known list")
    groups = {
        g: _strings(codes, f"transfer_mechanism_groups.{g}")
        for g, codes in data["transfer_mechanism_groups"].items()
    }
    adequacy = data["adequacy"]
    full = _strings(adequacy["full"], "adequacy.full")
    partial = {country: str(row["flag"]) for country, row in adequacy["partial"].items()}
    if not (full | partial.keys()) <= lists["country"]:
        raise ValueError("adequacy countries must be ISO 3166-1 alpha-2 codes")
    return cls(
        version=version,
        lists=MappingProxyType(lists),
        purposes=MappingProxyType(purposes),
        special_categories=special,
        criminal_categories=criminal,
        source_rules=MappingProxyType(sources),
        transfer_mechanism_groups=MappingProxyType(groups),
        adequacy_full=full,
        adequacy_partial=MappingProxyType(partial),
        legitimate_interests=MappingProxyType(dict(data["legitimate_interests"])),
    )
