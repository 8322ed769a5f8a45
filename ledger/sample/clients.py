"""Sample journeys of clients, platform users and prospective partners (due diligence)."""

from __future__ import annotations

from ledger.sample.journey import Journey
from ledger.sample.steps import (
    CONTACT,
    DD,
    DESK,
    PLATFORM,
    RISK,
    adm,
    chance,
    ds,
    related,
    settle,
    src,
)
from ledger.sample.world import purpose_entry as pe

__all__ = ["client_contracting_party", "platform_user", "prospective_partner"]


def client_contracting_party(j: Journey) -> None:
    """Platform sign-up with credit and fraud checks (CRA, fraud agency, automated decision)."""
    items = [
        ("title", "title"),
        *CONTACT,
        ("contact_details", "phone"),
        ("postal_address", "billing_address"),
        ("date_of_birth", "date_of_birth"),
        ("financial_details", "bank_account"),
    ]
    j.collect(
        PLATFORM,
        ds("online"),
        items,
        [
            pe("agreement_performance"),
            pe("records_administration"),
            pe("legal_regulatory_compliance"),
        ],
        art13=True,
    )
    if chance(j, 0.8):
        j.notice(PLATFORM, "art13", ["general", "cra_sharing", "fraud_prevention_sharing"], "email")
    else:
        j.notice(PLATFORM, "art13", ["general"], "email")
    j.wait_minutes(5, 120)
    j.share(RISK, "cra", "agreement_performance", ["name", "postal_address", "date_of_birth"])
    j.collect(
        RISK,
        src("third_party", "credit_reference_agency", "Credora Reference Ltd"),
        [("credit_history", "credit_report")],
        [pe("agreement_performance")],
    )
    outcome = j.rng.choice(("approved", "approved", "approved", "referred", "declined"))
    adm(j, RISK, "credit_check", "contract", safeguards=chance(j, 0.85), outcome=outcome)
    j.share(
        RISK,
        "fpa",
        "crime_prevention",
        ["name", "date_of_birth", "postal_address"],
        basis=j.rng.choice(("legal_obligation", "recognised_legitimate_interest")),
    )
    if chance(j, 0.25):
        cond = {} if chance(j, 0.3) else {"art10_condition_ref": "DPA 2018 Sch 1 Pt 2 para 10"}
        j.collect(
            RISK,
            src("third_party", "fraud_prevention_agency", "Sentinel Fraud Prevention Ltd"),
            [("criminal_offence", "fraud_marker")],
            [pe("crime_prevention", "recognised_legitimate_interest", **cond)],
        )
        if chance(j, 0.7):
            j.wait_days(2, 20)
            j.hold(["*"], "law_enforcement_request", f"LE-REQ-2026-{j.rng.randint(1, 999):03d}")
            j.share(
                RISK,
                "police",
                "crime_prevention",
                ["name", "date_of_birth", "criminal_offence"],
                basis="recognised_legitimate_interest",
            )
            settle(j, 0.6)
        outcome = "declined"
    if chance(j, 0.2):
        j.collect(
            RISK,
            ds("online"),
            [("biometric_identification", "face_template"), ("visual_image", "selfie")],
            [pe("crime_prevention", "legal_obligation", art9_condition="explicit_consent")],
        )
        art9 = {"art9_condition": "explicit_consent"} if chance(j, 0.6) else {}
        adm(
            j,
            RISK,
            "identity_verification",
            "legal_obligation",
            special=True,
            outcome="identity_matched",
            **art9,
        )
    if outcome == "declined":
        j.retention(["name", "credit_history", "date_of_birth"], "RET-DECLINED-12M", 12)
        return
    if chance(j, 0.15):
        j.hold(
            ["financial_details", "correspondence"],
            "regulatory_investigation",
            f"FCA-ENQ-2026-{j.rng.randint(1, 99):02d}",
        )
        j.share(DESK, "ico", "legal_regulatory_compliance", ["name", "financial_details"])
    j.retention(["financial_details", "name", "postal_address"], "RET-CONTRACT-6Y", 72)
    j.role_changed("platform_user", "added", PLATFORM)
    _platform_use(j)


def platform_user(j: Journey) -> None:
    """A client's staff member using the platform."""
    j.collect(
        PLATFORM,
        ds("online"),
        [*CONTACT, ("employer_details", "employer"), ("job_title", "job_title")],
        [pe("agreement_performance")],
        art13=True,
    )
    j.notice(PLATFORM, "art13", ["general"], "email")
    _platform_use(j)


def _platform_use(j: Journey) -> None:
    j.wait_days(1, 14)
    j.collect(
        PLATFORM,
        src("observed", "platform"),
        [("product_service_usage", "usage"), ("device_technical", "device")],
        [pe("agreement_performance"), pe("usage_demographics")],
        art13=True,
    )
    if chance(j, 0.3):
        j.collect(
            PLATFORM,
            src("observed", "internal_systems"),
            [("device_technical", "sso_login")],
            [pe("records_administration")],
        )
    recipients = [
        ("cloud_us", True),
        ("support_in", False),
        ("group_nl", False),
        ("hosting_ca", True),
        ("analytics_us", True),
    ]
    for key, transfer in j.rng.sample(recipients, j.rng.randint(1, 3)):
        analytics = key == "analytics_us"
        purpose = "usage_demographics" if analytics else "agreement_performance"
        mechanism = j.rng.choice((None, "uk_addendum")) if analytics else None
        j.share(
            PLATFORM,
            key,
            purpose,
            ["name", "product_service_usage"],
            mechanism=mechanism,
            transfer=transfer,
        )
    for _ in range(j.rng.randint(2, 5)):
        j.wait_days(10, 40)
        j.use(
            PLATFORM,
            "service_change_notices",
            ["name", "contact_details"],
            channel="email",
            operation=f"release:2026.{j.rng.randint(1, 9)}",
        )
        j.use(PLATFORM, "usage_demographics", ["product_service_usage", "device_technical"])
    if chance(j, 0.5):
        j.collect(
            PLATFORM,
            src("derived", "scoring"),
            [("product_service_usage", "engagement_score")],
            [pe("marketing_product_development")],
        )
    if chance(j, 0.2):
        j.consent(PLATFORM, "market_research_analysis", j.rng.choice(("web_form", "email")))
        j.wait_days(2, 20)
        j.use(
            PLATFORM,
            "market_research_analysis",
            ["name", "contact_details"],
            basis="consent",
            channel="email",
            operation="survey:2026-customer",
        )


def prospective_partner(j: Journey) -> None:
    """Supplier or partner due diligence: public sources, a due-diligence agency, family members."""
    j.collect(
        DD,
        ds(j.rng.choice(("face_to_face", "email"))),
        [
            *CONTACT,
            ("contact_details", "phone"),
            ("employer_details", "employer"),
            ("job_title", "job_title"),
            ("professional_registration", "registration"),
        ],
        [pe("relationship_follow_up")],
        art13=True,
    )
    j.wait_days(1, 10)
    public: list[tuple[str, str]] = [
        ("employer_details", "directorships"),
        ("visual_image", "press_photo"),
        ("lifestyle_social_circumstances", "public_profile"),
    ]
    purposes = [pe("legal_regulatory_compliance")]
    if chance(j, 0.3):
        public.append(
            (
                j.rng.choice(("religious_philosophical_beliefs", "political_opinions")),
                "inferred_from_posts",
            )
        )
        if chance(j, 0.5):
            purposes = [pe("legal_regulatory_compliance", art9_condition="made_public_by_subject")]
    name = j.rng.choice(("press", "social_media", "other_online", "company_register"))
    j.collect(DD, src("public_source", name), public, purposes)
    j.collect(
        DD,
        src("third_party", "other_organisation", "Vantage Due Diligence Ltd"),
        [
            ("identity_document", "passport"),
            ("credit_history", "credit_report"),
            ("financial_details", "declared_assets"),
            ("family_details", "household"),
            ("gender", "gender"),
        ],
        [pe("legal_regulatory_compliance"), pe("crime_prevention")],
    )
    if chance(j, 0.75):
        j.wait_days(1, 20)
        j.notice(DD, "art14", ["general", "fraud_prevention_sharing"], "email")
    for _ in range(j.rng.randint(0, 2)):
        related(j, DD, "Vantage Due Diligence Ltd", "legal_regulatory_compliance")
    for _ in range(j.rng.randint(1, 3)):
        j.wait_days(2, 15)
        j.use(
            DD,
            "relationship_follow_up",
            ["name", "contact_details"],
            channel=j.rng.choice(("email", "phone", "in_person")),
        )
    if chance(j, 0.3):
        j.share(DD, "acquirer", "legal_regulatory_compliance", ["name", "employer_details"])
    j.wait_days(5, 40)
    if chance(j, 0.4):
        j.role_changed("client_contracting_party", "added", DD)
        j.share(DD, "group_ie", "agreement_performance", ["name", "contact_details"])
        return
    until = j.retention(["identity_document", "credit_history", "family_details"], "RET-DUE-DILIGENCE-3M", 3)
    j.wait_past(until, 1, 20)
    j.erase(DD, ["identity_document", "credit_history", "family_details"], "no_longer_needed")
