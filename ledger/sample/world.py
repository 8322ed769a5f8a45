"""Fixed, non-personal reference data for the sample generator: producers, recipients, purposes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "LI_REFS",
    "PRODUCERS",
    "RECIPIENTS",
    "REGISTERED_BASES",
    "SPECIAL_CATEGORIES",
    "Producer",
    "Recipient",
    "purpose_entry",
]

# Spec §1.4: the bases the controller documented for each purpose, first = the usual one.
REGISTERED_BASES: dict[str, tuple[str, ...]] = {
    "agreement_performance": ("contract", "legal_obligation"),
    "records_administration": ("contract", "legal_obligation"),
    "relationship_follow_up": ("contract",),
    "b2b_marketing": ("legitimate_interests", "consent"),
    "service_change_notices": ("contract",),
    "legal_regulatory_compliance": ("legal_obligation",),
    "crime_prevention": ("legal_obligation", "recognised_legitimate_interest"),
    "market_research_analysis": ("legitimate_interests", "consent"),
    "usage_demographics": ("legitimate_interests", "consent"),
    "marketing_product_development": ("legitimate_interests",),
    "agreed_other": ("consent", "contract"),
}
LI_REFS: dict[str, str] = {
    "b2b_marketing": "LI-1",
    "market_research_analysis": "LI-2",
    "marketing_product_development": "LI-3",
    "usage_demographics": "LI-4",
}
SPECIAL_CATEGORIES: frozenset[str] = frozenset(
    {
        "health",
        "racial_ethnic_origin",
        "political_opinions",
        "religious_philosophical_beliefs",
        "trade_union_membership",
        "genetic",
        "biometric_identification",
        "sex_life_orientation",
    }
)


def purpose_entry(purpose: str, basis: str | None = None, **extra: str) -> dict[str, Any]:
    """A ``purposes[]`` entry with the registered basis (or ``basis``) and its LI/RLI reference."""
    chosen = basis or REGISTERED_BASES[purpose][0]
    entry: dict[str, Any] = {"purpose": purpose, "lawful_basis": chosen}
    if chosen == "legitimate_interests" and purpose in LI_REFS:
        entry["li_ref"] = LI_REFS[purpose]
    if chosen == "recognised_legitimate_interest":
        entry["rli_ref"] = "crime"
    if purpose == "agreed_other":
        entry["agreement_ref"] = "AGR-TALENT-POOL-2026"
    entry.update(extra)
    return entry


@dataclass(frozen=True)
class Producer:
    """An upstream system; ``style`` is how it writes timestamps (utc, utc_ms or local)."""

    system: str
    instances: tuple[str, ...]
    style: str


PRODUCERS: dict[str, Producer] = {
    p.system: p
    for p in (
        Producer("hr.workday", ("workday-emea-1",), "local"),
        Producer("recruit.greenhouse", ("gh-prod-1", "gh-prod-2"), "utc"),
        Producer("crm.salesforce", ("sf-eu-2",), "utc_ms"),
        Producer("web.platform", ("web-1", "web-2", "web-3"), "utc_ms"),
        Producer("marketing.hubspot", ("hs-portal-1",), "utc"),
        Producer("dsar.portal", ("dsar-prod-1",), "local"),
        Producer("platform.core", ("core-api-1", "core-api-2"), "utc"),
        Producer("finance.sage", ("sage-payroll-1",), "local"),
        Producer("risk.onboarding", ("risk-1",), "utc_ms"),
        Producer("legal.matters", ("matters-1",), "local"),
        Producer("records.retention", ("retention-scheduler",), "utc"),
        Producer("support.zendesk", ("zd-eu-1",), "utc_ms"),
        Producer("partners.duediligence", ("dd-1",), "local"),
    )
}


@dataclass(frozen=True)
class Recipient:
    """An organisation data is disclosed to; ``mechanism`` is its usual transfer safeguard."""

    recipient_id: str
    name: str
    category: str
    role: str
    country: str
    dpf_certified: bool | None = None
    adequacy_scope_confirmed: bool | None = None
    mechanism: str | None = None
    tra_ref: str | None = None

    def payload(self) -> dict[str, Any]:
        """The ``recipient`` object of a DataShared or TransferredInternationally payload."""
        out: dict[str, Any] = {
            "recipient_id": self.recipient_id,
            "name": self.name,
            "category": self.category,
            "role": self.role,
            "country": self.country,
            "same_legal_entity": False,
        }
        if self.dpf_certified is not None:
            out["dpf_certified"] = self.dpf_certified
        if self.adequacy_scope_confirmed is not None:
            out["adequacy_scope_confirmed"] = self.adequacy_scope_confirmed
        return out


_SUP, _PROC, _CTRL, _AUTH = "supplier_processor", "processor", "controller", "public_authority"
RECIPIENTS: dict[str, Recipient] = {
    "hmrc": Recipient("HMRC-GB", "HM Revenue & Customs", "government_agency", _AUTH, "GB"),
    "ico": Recipient("ICO-GB", "Information Commissioner's Office", "regulator", _AUTH, "GB"),
    "hse": Recipient("HSE-GB", "Health and Safety Executive", "regulator", _AUTH, "GB"),
    "police": Recipient("MPS-GB", "Metropolitan Police Service", "law_enforcement", _AUTH, "GB"),
    "payroll": Recipient("PAYFLOW-GB", "Payflow Payroll Services Ltd", _SUP, _PROC, "GB"),
    "mailer_us": Recipient("NORTHWIND-US", "Northwind Mail Inc.", _SUP, _PROC, "US", dpf_certified=True),
    "analytics_us": Recipient(
        "BLUEPEAK-US", "Bluepeak Analytics Inc.", _SUP, _PROC, "US", dpf_certified=False
    ),
    "cloud_us": Recipient("CIRRUS-US", "Cirrus Compute Inc.", _SUP, _PROC, "US", dpf_certified=True),
    "support_in": Recipient(
        "LOTUS-IN",
        "Lotus Helpdesk Services Pvt Ltd",
        _SUP,
        _PROC,
        "IN",
        mechanism="idta",
        tra_ref="TRA-2026-003",
    ),
    "hosting_ca": Recipient(
        "MAPLECLOUD-CA", "Maplecloud Hosting Inc.", _SUP, _PROC, "CA", adequacy_scope_confirmed=True
    ),
    "events_us": Recipient(
        "SUMMIT-EVENTS-US",
        "Summit Events LLC",
        _SUP,
        _PROC,
        "US",
        mechanism="art49_explicit_consent",
    ),
    "group_ie": Recipient("CT-IE", "ClientTree Ireland Ltd", "group_company", _CTRL, "IE"),
    "group_nl": Recipient("CT-NL", "ClientTree Netherlands B.V.", "group_company", _CTRL, "NL"),
    "cra": Recipient("CREDORA-GB", "Credora Reference Ltd", "credit_reference_agency", _CTRL, "GB"),
    "fpa": Recipient("SENTINEL-GB", "Sentinel Fraud Prevention Ltd", "fraud_prevention_agency", _CTRL, "GB"),
    "solicitors": Recipient(
        "HARBURY-FINCH-GB", "Harbury & Finch LLP", "dispute_or_employment_party", _CTRL, "GB"
    ),
    "referencing": Recipient(
        "VOUCHSAFE-GB", "Vouchsafe Referencing Ltd", "dispute_or_employment_party", _CTRL, "GB"
    ),
    "acquirer": Recipient(
        "OAKRIDGE-GB", "Oakridge Capital Partners LLP", "business_transaction_party", _CTRL, "GB"
    ),
}
