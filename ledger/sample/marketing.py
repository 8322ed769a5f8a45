"""Sample journeys of website users, enquirers and client contacts (marketing-heavy)."""

from __future__ import annotations

from typing import Any

from ledger.sample.journey import Journey
from ledger.sample.steps import (
    CONTACT,
    CRM,
    MKT,
    PLATFORM,
    WEB,
    campaign,
    chance,
    ds,
    src,
)
from ledger.sample.world import purpose_entry as pe

__all__ = ["client_contact", "enquirer", "website_user"]


def website_user(j: Journey) -> None:
    """Cookie consent, analytics, newsletter sign-up and campaigns; some withdraw or opt out."""
    j.collect(
        WEB,
        src("observed", "website"),
        [("device_technical", "device"), ("product_service_usage", "page_views")],
        [pe("usage_demographics"), pe("market_research_analysis")],
        art13=True,
    )
    cookies = chance(j, 0.6)
    if cookies:
        j.consent(WEB, "usage_demographics", "web_form")
    for _ in range(j.rng.randint(1, 3)):
        j.wait_days(1, 25, office=False)
        j.collect(
            WEB,
            src("observed", "website"),
            [("product_service_usage", "page_views")],
            [pe("usage_demographics"), pe("market_research_analysis")],
            art13=True,
        )
        j.use(WEB, "usage_demographics", ["product_service_usage", "device_technical"])
    if chance(j, 0.5):
        j.wait_days(1, 20, office=False)
        basis = "consent" if cookies else ("contract" if chance(j, 0.1) else None)
        j.collect(
            WEB,
            src("derived", "analytics"),
            [("product_service_usage", "interest_segment")],
            [pe("usage_demographics", basis)],
        )
        mechanism = j.rng.choice((None, "uk_addendum"))
        j.share(
            WEB,
            "analytics_us",
            "usage_demographics",
            ["product_service_usage"],
            basis=basis,
            mechanism=mechanism,
        )
    if not chance(j, 0.65):
        return
    j.wait_days(0, 30, office=False)
    j.collect(
        WEB,
        ds("online"),
        [*CONTACT, ("marketing_preferences", "newsletter")],
        [pe("b2b_marketing", "consent")],
        art13=True,
    )
    j.consent(WEB, "b2b_marketing", "web_form")
    j.preference(MKT, "email", "opt_in")
    j.share(MKT, "mailer_us", "b2b_marketing", ["name", "contact_details"], basis="consent")
    for _ in range(j.rng.randint(2, 6)):
        j.wait_days(7, 30)
        j.use(
            MKT,
            "b2b_marketing",
            ["name", "contact_details"],
            basis="consent",
            channel="email",
            operation=campaign(j),
        )
    if chance(j, 0.4):
        j.wait_days(1, 20, office=False)
        if chance(j, 0.6):
            j.withdraw(WEB, "b2b_marketing", j.rng.choice(("web_form", "email")), cite=chance(j, 0.8))
        else:
            j.preference(MKT, "email", "opt_out")
        if chance(j, 0.35):  # the campaign tool missed the withdrawal: stored, alerted later
            j.wait_days(2, 15)
            j.use(
                MKT,
                "b2b_marketing",
                ["name", "contact_details"],
                basis="consent",
                channel="email",
                operation=campaign(j),
            )
    elif chance(j, 0.2):
        j.withdraw(WEB, "usage_demographics", "web_form")


def enquirer(j: Journey) -> None:
    """An enquiry, follow-up calls, soft opt-in marketing; some object or become client contacts."""
    channel = j.rng.choice(("phone", "email", "post", "online", "face_to_face"))
    j.collect(
        CRM,
        ds(channel),
        [
            *CONTACT,
            ("contact_details", "phone"),
            ("employer_details", "employer"),
            ("correspondence", "enquiry"),
        ],
        [pe("relationship_follow_up")],
        art13=chance(j, 0.85),
    )
    if chance(j, 0.7):
        j.notice(CRM, "art13", ["general"], "email")
    for _ in range(j.rng.randint(1, 4)):
        j.wait_days(1, 10)
        j.use(
            CRM,
            "relationship_follow_up",
            ["name", "contact_details"],
            channel=j.rng.choice(("phone", "email")),
        )
    if chance(j, 0.5):
        j.wait_days(5, 30)
        j.use(
            MKT,
            "b2b_marketing",
            ["name", "contact_details"],
            channel="email",
            operation=campaign(j),
            drop_li_ref=chance(j, 0.1),
        )
        if chance(j, 0.3):
            j.wait_days(1, 10)
            _dm_objection(j)
    if chance(j, 0.2):
        j.role_changed("client_contact", "added", CRM)
    j.retention(["name", "contact_details", "correspondence"], "RET-ENQUIRY-24M", 24)


def _dm_objection(j: Journey) -> None:
    """A direct-marketing objection by email, almost always upheld (an override is alert A4)."""
    objection_id = j.rec.uuid()
    payload: dict[str, Any] = {
        "objection_id": objection_id,
        "ground": "direct_marketing",
        "statement": "Please stop sending me marketing emails.",
    }
    if chance(j, 0.5):
        payload["purposes"] = ["b2b_marketing"]
    j.emit("ObjectionRaised", payload, CRM, actor=j.staff())
    j.wait_days(0, 5)
    outcome = "upheld" if chance(j, 0.85) else "overridden_compelling_grounds"
    j.emit("ObjectionDecided", {"objection_id": objection_id, "outcome": outcome}, CRM, actor=j.staff())
    if chance(j, 0.15):
        j.wait_days(5, 30)
        j.use(
            MKT,
            "b2b_marketing",
            ["name", "contact_details"],
            channel="email",
            operation=campaign(j),
        )


def client_contact(j: Journey) -> None:
    """A B2B contact from public sources or supplied by the client; marketing and release notes."""
    roll = j.rng.random()
    if roll < 0.6:
        name = j.rng.choice(("company_register", "social_media", "other_online", "press"))
        j.collect(
            CRM,
            src("public_source", name),
            [("name", "full_name"), ("job_title", "job_title"), ("employer_details", "employer")],
            [pe("b2b_marketing"), pe("relationship_follow_up")],
        )
    else:
        j.collect(
            CRM,
            src("third_party", "client_organisation", j.person.employer),
            [*CONTACT, ("contact_details", "phone"), ("job_title", "job_title")],
            [pe("agreement_performance"), pe("service_change_notices")],
        )
    timing = j.rng.random()
    if timing < 0.6:
        j.wait_days(1, 10)
        j.notice(CRM, "art14", ["general"], "email")
    for i in range(j.rng.randint(2, 7)):
        j.wait_days(7, 30)
        j.use(
            MKT,
            "b2b_marketing",
            ["name", "contact_details"],
            channel="email",
            operation=campaign(j),
            drop_li_ref=chance(j, 0.05),
        )
        if i == 0 and 0.6 <= timing < 0.8:
            j.wait_days(3, 20)
            j.notice(CRM, "art14", ["general"], "email")  # late: after the first communication
    j.share(MKT, "mailer_us", "b2b_marketing", ["name", "contact_details"])
    if chance(j, 0.2):
        j.share(MKT, "analytics_us", "market_research_analysis", ["job_title"], transfer=True)
    if chance(j, 0.08):
        j.share(CRM, "events_us", "relationship_follow_up", ["name", "contact_details"])
    for _ in range(j.rng.randint(1, 2)):
        j.wait_days(10, 40)
        j.use(
            PLATFORM,
            "service_change_notices",
            ["name", "contact_details"],
            channel="email",
            operation=f"release:2026.{j.rng.randint(1, 9)}",
        )
    if chance(j, 0.25):
        j.wait_days(5, 30)
        j.preference(MKT, "email", "opt_out")
        if chance(j, 0.2):
            j.wait_days(3, 30)
            j.use(
                MKT,
                "b2b_marketing",
                ["name", "contact_details"],
                channel="email",
                operation=campaign(j),
            )
        elif chance(j, 0.2):
            j.wait_days(20, 60)
            j.preference(MKT, "email", "opt_in")
    elif chance(j, 0.1):
        _dm_objection(j)
    if chance(j, 0.12):  # the contact disputes their job title on a call; checked, then lifted
        j.wait_days(1, 20)
        restriction_id, _ = j.restrict(CRM, ["job_title", "employer_details"], "accuracy_contested")
        j.wait_days(3, 20)
        j.lift(CRM, restriction_id, "accuracy_verified")
