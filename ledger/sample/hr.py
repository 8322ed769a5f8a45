"""Sample journeys of people who work, or seek to work, for the company."""

from __future__ import annotations

from ledger.sample.journey import Journey
from ledger.sample.steps import (
    ATS,
    CONTACT,
    HR,
    PAY,
    adm,
    chance,
    ds,
    related,
    settle,
    src,
)
from ledger.sample.world import purpose_entry as pe

__all__ = ["employee", "job_applicant"]

_SCH1_EMPLOYMENT = "DPA 2018 Sch 1 Pt 1 para 1"


def job_applicant(j: Journey) -> None:
    """Application, screening, interviews; some are hired and continue as employees."""
    purposes = [pe("relationship_follow_up"), pe("records_administration")]
    base = [
        *CONTACT,
        ("title", "title"),
        ("contact_details", "phone"),
        ("postal_address", "home_address"),
        ("employer_details", "current_employer"),
        ("job_title", "current_job_title"),
    ]
    if chance(j, 0.35):
        exempt = "already_has_information" if chance(j, 0.4) else None
        j.collect(
            ATS,
            src("third_party", "recruitment_agency", "Brightpath Recruitment Ltd"),
            base,
            purposes,
            art14_exemption=exempt,
        )
        if exempt is None:
            j.notice(ATS, "art14", ["general"], "email")
    else:
        extra = [("professional_registration", "registration")] if chance(j, 0.3) else []
        j.collect(ATS, ds("online"), base + extra, purposes, art13=True)
        j.notice(ATS, "art13", ["general"], "email")
    if chance(j, 0.5):
        cond = {
            "art9_condition": "substantial_public_interest",
            "dpa_sch1_ref": "DPA 2018 Sch 1 Pt 2 para 8",
        }
        j.collect(
            ATS,
            ds("online"),
            [("racial_ethnic_origin", "equal_opportunities")],
            [pe("legal_regulatory_compliance", **cond)],
            art13=True,
        )
    j.wait_days(2, 10)
    solely = chance(j, 0.3)
    adm(
        j,
        ATS,
        "cv_screening",
        "contract",
        solely=solely,
        safeguards=not solely or chance(j, 0.7),
        outcome=j.rng.choice(("shortlist", "reject")),
    )
    j.use(
        ATS,
        "relationship_follow_up",
        ["name", "contact_details"],
        channel="email",
        operation="interview-invite",
    )
    j.wait_days(3, 14)
    j.use(ATS, "relationship_follow_up", ["name", "contact_details"], channel="phone")
    if chance(j, 0.6):
        j.collect(
            ATS,
            src("third_party", "referee"),
            [("employer_details", "previous_employer"), ("job_title", "previous_job_title")],
            [pe("relationship_follow_up")],
            art14_exemption="already_has_information",
        )
    if chance(j, 0.25):
        j.consent(ATS, "agreed_other", "web_form")
        j.collect(
            ATS,
            ds("online"),
            [("contact_preferences", "talent_pool_channel")],
            [pe("agreed_other")],
            art13=True,
        )
    j.wait_days(1, 12)
    if chance(j, 0.4):
        employee(j, hired=True)
        return
    j.use(
        ATS,
        "relationship_follow_up",
        ["name", "contact_details"],
        channel="email",
        operation="outcome-letter",
    )
    until = j.retention(
        ["name", "contact_details", "postal_address", "employer_details"], "RET-APPLICANT-6M", 6
    )
    j.wait_past(until, 1, 8)
    j.emit(
        "RetentionExpired",
        {
            "categories": ["name", "contact_details", "postal_address", "employer_details"],
            "retain_until": until.isoformat(),
        },
        "records.retention",
    )
    if chance(j, 0.8):
        j.erase(ATS, ["*"], "retention_expired")


def employee(j: Journey, *, hired: bool = False) -> None:
    """Onboarding, payroll, HMRC, group shared services; some disputes, address changes, leavers."""
    if hired:
        j.role_changed("employee", "added", HR)
        j.role_changed("job_applicant", "removed", HR)
    items = [
        ("title", "title"),
        *CONTACT,
        ("contact_details", "phone"),
        ("date_of_birth", "date_of_birth"),
        ("postal_address", "home_address"),
        ("gender", "gender"),
        ("identity_document", "passport"),
        ("financial_details", "bank_account"),
        ("job_title", "job_title"),
    ]
    purposes = [
        pe("agreement_performance"),
        pe("legal_regulatory_compliance"),
        pe("records_administration"),
    ]
    j.collect(HR, ds("face_to_face"), items, purposes, art13=True)
    j.notice(HR, "art13", ["general"], "face_to_face")
    if chance(j, 0.25):
        j.collect(
            HR,
            ds("face_to_face"),
            [("identity_document", "right_to_work_copy")],
            [pe("legal_regulatory_compliance")],
            manual=True,
            art13=True,
        )
    if chance(j, 0.4):
        cond = (
            {}
            if chance(j, 0.15)
            else {"art9_condition": "employment_social_security", "dpa_sch1_ref": _SCH1_EMPLOYMENT}
        )
        j.collect(
            HR,
            ds("email"),
            [("health", "occupational_health")],
            [pe("agreement_performance", "legal_obligation", **cond)],
            art13=True,
        )
        if chance(j, 0.2):  # a reportable workplace injury (RIDDOR) goes to the HSE
            j.wait_days(5, 60)
            j.share(HR, "hse", "legal_regulatory_compliance", ["name", "health"])
    if chance(j, 0.15):
        j.collect(
            HR,
            ds("post"),
            [("trade_union_membership", "union_subscription")],
            [
                pe(
                    "agreement_performance",
                    art9_condition="employment_social_security",
                    dpa_sch1_ref=_SCH1_EMPLOYMENT,
                )
            ],
            manual=True,
            art13=True,
        )
    j.retention(["financial_details", "identity_document"], "RET-PAYROLL-6Y", 72)
    if chance(j, 0.35):
        related(j, HR, "ClientTree HR self-service", "records_administration")
    if chance(j, 0.4):
        j.share(
            HR,
            j.rng.choice(("group_ie", "group_nl")),
            "records_administration",
            ["name", "job_title", "contact_details"],
        )
    if chance(j, 0.4):
        j.share(HR, "cloud_us", "records_administration", ["name", "job_title"], transfer=True)
    if chance(j, 0.25):
        j.share(HR, "support_in", "records_administration", ["name", "contact_details"])
    for _ in range(j.rng.randint(2, 5)):
        j.wait_days(20, 35)
        j.use(PAY, "agreement_performance", ["name", "financial_details"], operation="payroll-run")
        j.share(PAY, "payroll", "agreement_performance", ["name", "financial_details"])
        j.share(
            PAY,
            "hmrc",
            "legal_regulatory_compliance",
            ["name", "date_of_birth", "financial_details"],
        )
        if chance(j, 0.2):
            fixed = j.rectify(HR, [("postal_address", "home_address")], "data_quality", None)
            j.notify_recipients(HR, "rectification", fixed, ["postal_address"])
    if chance(j, 0.05):  # a police request about an incident at the office
        j.wait_days(5, 60)
        j.share(
            HR,
            "police",
            "crime_prevention",
            ["name", "contact_details"],
            basis="recognised_legitimate_interest",
        )
    if chance(j, 0.15):
        categories = ["*"] if chance(j, 0.5) else ["correspondence", "financial_details", "name"]
        j.hold(categories, "litigation", f"EMP-TRIB-2026-{j.rng.randint(1, 99):03d}")
        j.wait_days(2, 10)
        j.share(HR, "solicitors", "legal_regulatory_compliance", ["name", "job_title"])
        if chance(j, 0.5):  # routine clean-up while the hold stands: the ledger defers it
            j.wait_days(5, 30)
            j.erase(HR, ["financial_details", "identity_document"], "no_longer_needed")
        settle(j, 0.6)
    if chance(j, 0.25):
        j.wait_days(10, 60)
        j.role_changed("employee", "removed", HR)
        j.retention(["name", "contact_details", "job_title"], "RET-LEAVER-6Y", 72)
        if chance(j, 0.6):
            j.wait_days(5, 60)
            j.share(HR, "referencing", "records_administration", ["name", "job_title"])
