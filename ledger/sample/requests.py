"""Rights-request and complaint lifecycles for the sample generator (spec 4.4, 4.6, section 7)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from ledger.sample.journey import Journey
from ledger.sample.people import make_person

__all__ = ["REQUEST_TYPES", "REQUEST_VARIANTS", "complaint", "rights_request"]

REQUEST_TYPES = (
    "access",
    "rectification",
    "erasure",
    "restriction",
    "portability",
    "objection",
    "adm_review",
)
# Each variant is one lifecycle shape; a shuffled deck of them makes sure every shape appears.
REQUEST_VARIANTS = (
    "plain",
    "plain",
    "plain",
    "identity",
    "identity",
    "identity_failed",
    "identity_failed",
    "identity_no_evidence",
    "third_party",
    "fee_paid",
    "fee_paid",
    "fee_unpaid",
    "clarification",
    "clarification_unanswered",
    "clarification_late",
    "extension",
    "extension_late",
    "extension_no_reasons",
    "withdrawn",
    "withdrawn",
    "refused",
    "duplicate",
    "open",
    "late",
)
PORTAL, DESK = "dsar.portal", "support.zendesk"

_DESCRIPTIONS = {
    "access": "Please send me a copy of all personal data you hold about me.",
    "rectification": "My address and phone number on file are out of date.",
    "erasure": "Please delete my personal data; I no longer use your services.",
    "restriction": "I dispute the accuracy of my record; please stop using it until checked.",
    "portability": "Please provide the data I gave you in a machine-readable format.",
    "objection": "I object to my data being used for analytics and research.",
    "adm_review": "I would like a person to review the automated decision about me.",
}
_ERASURE_GROUNDS = (
    "no_longer_needed",
    "consent_withdrawn",
    "unlawful_processing",
    "objection_upheld",
)
_RESTRICTION_GROUNDS = ("accuracy_contested", "unlawful_processing_erasure_opposed")


class _Request:
    """Emits the events of one request on the subject's journey."""

    def __init__(self, j: Journey, request_type: str) -> None:
        self.j = j
        self.type = request_type
        self.request_id = j.rec.uuid()
        self.correlation = f"dsar-{self.request_id[:8]}"

    def emit(self, event_type: str, **payload: Any) -> str:
        body = {"request_id": self.request_id, **payload}
        return self.j.emit(event_type, body, PORTAL, actor=self.j.staff(), correlation=self.correlation)

    def subject_event(self, event_type: str, payload: dict[str, Any]) -> str:
        payload["request_id"] = self.request_id
        return self.j.emit(event_type, payload, PORTAL, actor=self.j.staff(), correlation=self.correlation)


def rights_request(j: Journey, request_type: str, variant: str) -> str:
    """Generate one request's lifecycle (shape chosen by ``variant``) and return its request id."""
    rng = j.rng
    r = _Request(j, request_type)
    via_third_party = variant == "third_party"
    channel = (
        "third_party_portal"
        if via_third_party
        else rng.choice(("email", "online", "online", "phone", "post", "face_to_face", "social_media"))
    )
    requester = make_person(rng) if via_third_party else j.person
    received: dict[str, Any] = {
        "request_type": request_type,
        "channel": channel,
        "via_third_party": via_third_party,
        "requester_name": requester.full_name,
        "requester_contact": requester.email if rng.random() < 0.8 else requester.phone,
        "description": _DESCRIPTIONS[request_type],
    }
    if request_type == "erasure":
        received["grounds"] = [rng.choice(_ERASURE_GROUNDS)]
    elif request_type == "restriction":
        received["grounds"] = [rng.choice(_RESTRICTION_GROUNDS)]
    j.emit(
        "RightsRequestReceived",
        {"request_id": r.request_id, **received},
        PORTAL,
        correlation=r.correlation,
    )
    if not _verify(r, variant, via_third_party) or not _fee(r, variant):
        return r.request_id
    if not _clarify(r, variant):
        return r.request_id
    if variant in ("extension", "extension_late", "extension_no_reasons"):
        j.wait_days(*((33, 40) if variant == "extension_late" else (8, 24)))
        sent = j.now - timedelta(minutes=rng.choice((0, 0, 15, 90)))
        r.emit(
            "RequestExtended",
            reason=rng.choice(("complexity", "number_of_requests")),
            notice_sent_at=j.stamp(sent, PORTAL),
            reasons_stated=variant != "extension_no_reasons",
        )
        j.wait_days(20, 55)
    elif variant == "late":
        j.wait_days(35, 60)
    else:
        j.wait_days(3, 24)
    if variant == "withdrawn":
        r.emit("RequestWithdrawn")
    elif variant == "refused":
        reason = rng.choice(
            (
                "manifestly_unfounded",
                "manifestly_excessive",
                "exemption_applies",
                "right_not_applicable",
            )
        )
        extra = {"exemption_ref": "DPA 2018 Sch 2 para 2"} if reason == "exemption_applies" else {}
        r.emit(
            "RequestRefused",
            reason=reason,
            complaint_rights_notified=rng.random() < 0.7,
            details="Refusal reasons set out in our letter.",
            **extra,
        )
    elif variant == "duplicate":
        r.emit("RequestClosed", reason="duplicate_request")
    elif variant != "open":
        _fulfil(r)
    return r.request_id


def _verify(r: _Request, variant: str, via_third_party: bool) -> bool:
    j = r.j
    if variant not in ("identity", "identity_failed", "identity_no_evidence") and not via_third_party:
        return True
    kind = "third_party_authority" if via_third_party else "identity"
    j.wait_days(0, 2)
    r.emit("IdentityVerificationRequested", kind=kind)
    if variant == "identity_no_evidence":
        j.wait_days(30, 45)
        r.emit("RequestClosed", reason="no_identity_evidence")
        return False
    j.wait_days(1, 12)
    r.emit("IdentityEvidenceReceived", kind=kind)
    j.wait_days(0, 2)
    if variant == "identity_failed":
        r.emit("IdentityVerificationFailed", reason="evidence_insufficient")
        j.wait_days(1, 5)
        r.emit("RequestRefused", reason="identity_not_verified", complaint_rights_notified=True)
        return False
    r.emit("IdentityVerified", method=j.rng.choice(("document_check", "existing_account")))
    return True


def _fee(r: _Request, variant: str) -> bool:
    j = r.j
    if variant not in ("fee_paid", "fee_unpaid"):
        return True
    amount = j.rng.choice((1000, 2500, 5000))
    reason = j.rng.choice(("manifestly_excessive", "further_copies", "manifestly_unfounded"))
    j.wait_days(1, 4)
    r.emit("FeeRequested", amount_pence=amount, reason=reason)
    if variant == "fee_unpaid":
        j.wait_days(30, 50)
        r.emit("RequestClosed", reason="fee_not_paid")
        return False
    j.wait_days(2, 12)
    r.emit("FeePaid", amount_pence=amount)
    return True


def _clarify(r: _Request, variant: str) -> bool:
    j = r.j
    if variant not in ("clarification", "clarification_unanswered", "clarification_late"):
        return True
    j.wait_days(*((36, 45) if variant == "clarification_late" else (1, 8)))
    r.emit("ClarificationRequested", question="Which systems and date range does your request cover?")
    if variant == "clarification_unanswered":
        j.wait_days(30, 60)
        r.emit("RequestClosed", reason="no_clarification_received")
        return False
    j.wait_days(2, 15)
    r.emit("ClarificationReceived", answer="Everything held since I first contacted you.")
    return True


def _fulfil(r: _Request) -> None:
    j, rng = r.j, r.j.rng
    held = sorted({c for cats in j.holds.values() for c in cats})
    if "*" in held:
        held = sorted(j.categories)
    if r.type == "rectification":
        items = [("postal_address", "home_address"), ("contact_details", "phone")]
        fixed = j.rectify(PORTAL, rng.sample(items, rng.randint(1, 2)), "subject_request", r.request_id)
        j.notify_recipients(PORTAL, "rectification", fixed, ["postal_address", "contact_details"])
        r.emit("RequestFulfilled", outcome="full", notes="Record corrected and recipients told.")
    elif r.type == "erasure":
        _erase(r, held)
    elif r.type == "restriction":
        _restrict(r)
    elif r.type == "objection":
        _object(r)
    elif r.type == "access":
        r.emit(
            "RequestFulfilled",
            outcome=rng.choice(("full", "full", "partial")),
            notes="Copy of data and supplementary information sent securely.",
        )
    else:
        notes = (
            "Human review completed; decision upheld."
            if r.type == "adm_review"
            else "Export provided as JSON."
        )
        r.emit("RequestFulfilled", outcome="full", notes=notes)


def _erase(r: _Request, held: list[str]) -> None:
    j, rng = r.j, r.j.rng
    if rng.random() < 0.5 or not j.categories:
        categories = ["*"]
    else:
        pool = sorted(j.categories)
        categories = sorted(rng.sample(pool, rng.randint(1, min(3, len(pool)))))
    erased = r.subject_event("DataErased", {"categories": categories, "reason": "erasure_request"})
    j.notify_recipients(PORTAL, "erasure", erased, categories)
    if held:
        r.emit(
            "RequestFulfilled",
            outcome="partial",
            retained_categories=held,
            retention_reason="legal_claims",
            notes="Some data kept under a legal hold.",
        )
    else:
        r.emit("RequestFulfilled", outcome="full", notes="Data erased and recipients told.")
    if held and rng.random() < 0.7:
        j.wait_days(20, 90)
        for hold_id in list(j.holds):
            j.release(hold_id)
    if rng.random() < 0.08:  # a downstream system kept mailing: stored, alerted later
        j.wait_days(3, 20)
        j.use(
            "marketing.hubspot",
            "b2b_marketing",
            ["name", "contact_details"],
            channel="email",
            operation="campaign:stale-list",
        )
    elif rng.random() < 0.08:  # the person came back to the website
        j.wait_days(10, 60, office=False)
        j.collect(
            "web.platform",
            {"type": "observed", "name": "website"},
            [("device_technical", "device")],
            [
                {
                    "purpose": "usage_demographics",
                    "lawful_basis": "legitimate_interests",
                    "li_ref": "LI-4",
                }
            ],
        )


def _restrict(r: _Request) -> None:
    j, rng = r.j, r.j.rng
    categories = ["postal_address", "contact_details"] if rng.random() < 0.6 else ["*"]
    ground = rng.choice(_RESTRICTION_GROUNDS)
    restriction_id, restricted = j.restrict(
        PORTAL, categories, ground, request_id=r.request_id, correlation=r.correlation
    )
    j.notify_recipients(PORTAL, "restriction", restricted, categories)
    r.emit("RequestFulfilled", outcome="full", notes="Processing restricted while we check.")
    if rng.random() < 0.1:  # a sales call despite the restriction: stored, alerted later
        j.wait_days(2, 10)
        j.use("crm.salesforce", "relationship_follow_up", ["name", "contact_details"], channel="phone")
    j.wait_days(10, 40)
    reason = "data_rectified" if rng.random() < 0.5 else "accuracy_verified"
    if reason == "data_rectified":
        j.rectify(PORTAL, [("postal_address", "home_address")], "data_quality", None)
    j.lift(PORTAL, restriction_id, reason, informed=rng.choice(("before",) * 6 + ("after", "never")))


def _object(r: _Request) -> None:
    j, rng = r.j, r.j.rng
    objection_id = j.rec.uuid()
    direct = rng.random() < 0.3
    purposes = ["b2b_marketing"] if direct else ["usage_demographics", "market_research_analysis"]
    raised = {
        "objection_id": objection_id,
        "purposes": purposes,
        "ground": "direct_marketing" if direct else "particular_situation",
        "statement": "I object to this use of my data.",
    }
    r.subject_event("ObjectionRaised", raised)
    restriction_id = None
    if not direct and rng.random() < 0.5:
        restriction_id, _ = j.restrict(
            PORTAL,
            ["*"],
            "objection_pending",
            purposes=purposes,
            request_id=r.request_id,
            correlation=r.correlation,
        )
    j.wait_days(3, 20)
    outcome = (
        "upheld"
        if direct or rng.random() < 0.7
        else rng.choice(("overridden_compelling_grounds", "overridden_legal_claims"))
    )
    j.emit(
        "ObjectionDecided",
        {"objection_id": objection_id, "outcome": outcome},
        PORTAL,
        actor=j.staff(),
        correlation=r.correlation,
    )
    if restriction_id is not None:
        j.lift(PORTAL, restriction_id, "objection_decided")
    if outcome == "upheld":
        r.emit("RequestFulfilled", outcome="full", notes="Objection upheld; processing stopped.")
        if not direct and rng.random() < 0.1:  # analytics carried on: stored, alerted later
            j.wait_days(5, 30)
            j.use("platform.core", "usage_demographics", ["product_service_usage"])
    else:
        r.emit(
            "RequestRefused",
            reason="exemption_applies",
            exemption_ref="UK GDPR Art 21(1)",
            complaint_rights_notified=True,
            details="Compelling legitimate grounds apply.",
        )


def complaint(j: Journey, about_request_id: str | None) -> None:
    """A complaint to the controller (DPA s.164A), acknowledged on time, late, or not yet."""
    rng = j.rng
    complaint_id = j.rec.uuid()
    payload: dict[str, Any] = {
        "complaint_id": complaint_id,
        "channel": rng.choice(("email", "phone", "post", "online")),
        "text": "I am unhappy with how my personal data request was handled.",
    }
    if about_request_id is not None:
        payload["about_request_id"] = about_request_id
    j.emit("ComplaintReceived", payload, DESK)
    shape = rng.choice(("on_time", "on_time", "late", "outcome_only", "open"))
    if shape == "open":
        return
    if shape != "outcome_only":
        j.wait_days(*((33, 45) if shape == "late" else (1, 20)))
        j.emit("ComplaintAcknowledged", {"complaint_id": complaint_id}, DESK, actor=j.staff())
    j.wait_days(5, 40)
    j.emit("ComplaintOutcomeSent", {"complaint_id": complaint_id}, DESK, actor=j.staff())
    if rng.random() < 0.25:  # the complainant went to the ICO, which asked for the record
        j.wait_days(10, 40)
        j.share(DESK, "ico", "legal_regulatory_compliance", ["correspondence", "name"])
