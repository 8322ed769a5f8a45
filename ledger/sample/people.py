"""Obviously fictional people and personal values for the sample event generator."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

__all__ = ["Person", "item_value", "make_person"]

_FIRST = (
    "Ada", "Bram", "Cora", "Devi", "Elin", "Farid", "Greta", "Hugo", "Isla", "Jonah", "Kemi",
    "Lars", "Maya", "Nico", "Orla", "Priya", "Quinn", "Rafe", "Sana", "Tomos", "Una", "Vik",
    "Wren", "Yusuf", "Zara",
)  # fmt: skip
_LAST = (
    "Applethwaite", "Brackenridge", "Culverhouse", "Dunmore", "Elderkin", "Fenwright",
    "Gorsebrook", "Hollowell", "Inchbald", "Kettlewell", "Larkhill", "Marchbank", "Nettleford",
    "Oakhurst", "Pennywhistle", "Quillfeather", "Rookwood", "Sallowmere", "Thistlewood",
)  # fmt: skip
_TITLES = ("Mr", "Ms", "Mrs", "Mx", "Dr")
_GENDERS = ("female", "male", "non_binary", "prefer_not_to_say")
_STREETS = (
    "Larkspur Lane", "Quince Street", "Tallow Row", "Juniper Mews", "Heron Wharf",
    "Copperkettle Road", "Millpond Close", "Foxglove Terrace",
)  # fmt: skip
_TOWNS = ("Eastmarsh", "Kettleby Magna", "Lower Wychbury", "Sallowford", "Thornbury Cross")
_EMPLOYERS = (
    "Brambleworth Analytics Ltd", "Orchid Lane Consulting", "Tidewater Logistics plc",
    "Quayside Widgets Ltd", "Fernhollow Foods Ltd", "Glasshouse Media LLP",
)  # fmt: skip
_JOBS = (
    "Finance Manager", "Operations Lead", "Software Engineer", "Procurement Officer",
    "Head of Compliance", "Office Manager", "Data Analyst", "Sales Director",
)  # fmt: skip
_FEATURES = ("reports", "dashboards", "exports", "workflows", "api", "billing")
_AGENTS = ("Mozilla/5.0 (SampleOS 14) SampleBrowser/120", "Mozilla/5.0 (FictionPad) Demo/3.1")
_RELATIONS = ("spouse", "partner", "parent", "sibling", "adult_child")


@dataclass(frozen=True)
class Person:
    """A fictional person (example.com emails, drama phone numbers, ZX postcodes)."""

    title: str
    first: str
    last: str
    gender: str
    birth_date: str
    phone: str
    street_no: int
    street: str
    town: str
    postcode: str
    employer: str
    job_title: str

    @property
    def full_name(self) -> str:
        """The display name."""
        return f"{self.first} {self.last}"

    @property
    def email(self) -> str:
        """A fictional address at the reserved example.com domain."""
        return f"{self.first.lower()}.{self.last.lower()}@example.com"


def make_person(rng: random.Random) -> Person:
    """Draw a fictional person."""
    letters = "ABDEFGHJLNPQRSTUWXYZ"
    return Person(
        title=rng.choice(_TITLES),
        first=rng.choice(_FIRST),
        last=rng.choice(_LAST),
        gender=rng.choice(_GENDERS),
        birth_date=f"{rng.randint(1960, 2004)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
        phone=f"+44 20 7946 0{rng.randint(0, 999):03d}",
        street_no=rng.randint(1, 180),
        street=rng.choice(_STREETS),
        town=rng.choice(_TOWNS),
        postcode=f"ZX{rng.randint(1, 9)} {rng.randint(1, 9)}{''.join(rng.choices(letters, k=2))}",
        employer=rng.choice(_EMPLOYERS),
        job_title=rng.choice(_JOBS),
    )


def _ip(rng: random.Random) -> str:
    # RFC 5737 documentation ranges only.
    net = rng.choice(("192.0.2", "198.51.100", "203.0.113"))
    return f"{net}.{rng.randint(1, 254)}"


def item_value(category: str, field: str, p: Person, rng: random.Random) -> Any:
    """Return a fictional value for the data item ``field`` of ``category`` about ``p``."""
    if field == "email":
        return p.email
    if field == "phone":
        return p.phone
    simple: dict[str, Any] = {
        "title": p.title,
        "name": p.full_name,
        "date_of_birth": p.birth_date,
        "gender": p.gender,
        "employer_details": p.employer,
        "job_title": p.job_title,
        "postal_address": {
            "line1": f"{p.street_no} {p.street}",
            "town": p.town,
            "postcode": p.postcode,
            "country": "GB",
        },
    }
    if category in simple:
        return simple[category]
    n = rng.randint(1000, 9999)
    values: dict[str, Any] = {
        "visual_image": f"specimen-photo-{n}.jpg",
        "identity_document": {"type": "passport", "number": f"SPECIMEN{n}", "checked": True},
        "financial_details": {"sort_code": f"00-99-{n % 100:02d}", "account_number": f"0000{n}"},
        "credit_history": {"score_band": rng.choice(("good", "fair", "poor")), "defaults": n % 3},
        "family_details": {"relationship": rng.choice(_RELATIONS), "dependants": n % 4},
        "lifestyle_social_circumstances": {"household": rng.choice(("single", "family", "shared"))},
        "professional_registration": {
            "body": "Institute of Sample Accountants",
            "number": f"ISA-{n}",
        },
        "product_service_usage": {"feature": rng.choice(_FEATURES), "sessions_30d": n % 60},
        "device_technical": {"ip": _ip(rng), "user_agent": rng.choice(_AGENTS)},
        "contact_preferences": rng.choice(("email", "phone", "post")),
        "marketing_preferences": {"newsletter": rng.random() < 0.7, "events": rng.random() < 0.3},
        "correspondence": "Sample enquiry about platform pricing and onboarding.",
        "consent_records": {"form": "sample-form-v3", "ip": _ip(rng)},
        "health": {"adjustment": rng.choice(("standing desk", "screen reader", "flexible hours"))},
        "trade_union_membership": {"union": "Sample Workers Union", "deduction_pence": 1500},
        "racial_ethnic_origin": {"monitoring_group": "prefer_not_to_say"},
        "religious_philosophical_beliefs": {"inferred_from": "public social media post"},
        "political_opinions": {"inferred_from": "public press article"},
        "biometric_identification": f"specimen-face-template-{n}",
        "criminal_offence": {"marker": "false_identity_risk", "case_ref": f"FPA-2026-{n}"},
    }
    return values.get(category, f"sample-{category}-{n}")
