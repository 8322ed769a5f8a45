"""Shared steps of the sample role journeys: producers, sources, chances and small sub-journeys."""

from __future__ import annotations

from typing import Any

from ledger.sample.journey import Journey, london_date
from ledger.sample.people import make_person
from ledger.sample.world import purpose_entry as pe

__all__ = [
    "ATS",
    "CONTACT",
    "CRM",
    "DD",
    "DESK",
    "HR",
    "MKT",
    "PAY",
    "PLATFORM",
    "RISK",
    "WEB",
    "adm",
    "campaign",
    "chance",
    "ds",
    "related",
    "settle",
    "src",
]

HR, ATS, CRM, WEB, MKT = (
    "hr.workday",
    "recruit.greenhouse",
    "crm.salesforce",
    "web.platform",
    "marketing.hubspot",
)
PLATFORM, RISK, DD, PAY, DESK = (
    "platform.core",
    "risk.onboarding",
    "partners.duediligence",
    "finance.sage",
    "support.zendesk",
)

CONTACT = [("name", "full_name"), ("contact_details", "email")]


def ds(channel: str) -> dict[str, Any]:
    """A ``data_subject`` source reached through ``channel``."""
    return {"type": "data_subject", "channel": channel}


def src(kind: str, name: str, org: str | None = None) -> dict[str, Any]:
    """A named source of another type, with the organisation's name for third parties."""
    out: dict[str, Any] = {"type": kind, "name": name}
    if org is not None:
        out["third_party_name"] = org
    return out


def campaign(j: Journey) -> str:
    """A non-personal campaign label for the current month."""
    return f"campaign:{london_date(j.now):%Y-%m}-{j.rng.choice(('newsletter', 'webinar', 'launch'))}"


def chance(j: Journey, p: float) -> bool:
    """True with probability ``p`` (from the run's RNG)."""
    return j.rng.random() < p


def adm(j: Journey, producer: str, decision_type: str, basis: str, **kw: Any) -> str:
    """AutomatedDecisionMade (significant); ``kw`` sets solely, special, safeguards, outcome."""
    payload: dict[str, Any] = {
        "decision_id": j.rec.uuid(),
        "decision_type": decision_type,
        "significant": True,
        "solely_automated": kw.pop("solely", True),
        "special_category_used": kw.pop("special", False),
        "lawful_basis": basis,
        "safeguards_notified": kw.pop("safeguards", True),
        "outcome_code": kw.pop("outcome"),
    }
    payload.update(kw)
    return j.emit("AutomatedDecisionMade", payload, producer, actor="system:decision-engine")


def related(j: Journey, producer: str, org: str, purpose: str) -> None:
    """A related individual (next of kin, family member) named in this subject's record."""
    r = j.fork(make_person(j.rng))
    r.register(["related_individual"], producer)
    exempt = "disproportionate_effort" if chance(j, 0.7) else None
    items = [("name", "full_name"), ("family_details", "relationship")]
    if producer == HR:
        items.append(("contact_details", "phone"))
    r.collect(
        producer,
        src("third_party", "other_organisation", org),
        items,
        [pe(purpose)],
        art14_exemption=exempt,
    )
    if exempt is None and chance(j, 0.5):
        r.wait_days(3, 40)
        r.notice(producer, "art14", ["general"], "post")


def settle(j: Journey, p: float) -> None:
    """With probability ``p`` the matter closes after a while and every hold is released."""
    if chance(j, p):
        j.wait_days(30, 120)
        for hold_id in list(j.holds):
            j.release(hold_id)
