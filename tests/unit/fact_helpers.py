"""Build stored facts for the pure rule tests: fictional ids, envelopes instead of personal values."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger.codelists import load_code_lists
from ledger.domain.codes import CodeLists
from ledger.domain.facts import Fact

SUBJECT = "00000000-0000-4000-8000-00000000a001"
T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
RECORDED_BASE = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)

CODES: CodeLists = load_code_lists()


def at(minutes: float) -> datetime:
    """The instant ``minutes`` after T0."""
    return T0 + timedelta(minutes=minutes)


def text(when: datetime) -> str:
    """RFC 3339 UTC text as producers send it."""
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def envelope(category: str) -> dict[str, str]:
    """A stand-in ciphertext envelope (no value inside)."""
    return {"enc": "AAAA", "kid": f"k-{category}", "cat": category}


def stable_id(name: str) -> str:
    """A fictional, deterministic UUID for a readable name."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"test:{name}"))


@dataclass
class Stream:
    """Appends facts with growing ``seq`` (and ``recorded_at``); occurred_at is chosen per fact."""

    subject_id: str = SUBJECT
    facts: list[Fact] = field(default_factory=list)

    def add(self, event_type: str, minutes: float, payload: dict[str, Any], **kw: Any) -> Fact:
        seq = len(self.facts) + 1
        fact = Fact(
            seq=seq,
            recorded_at=kw.pop("recorded_at", RECORDED_BASE + timedelta(seconds=seq)),
            occurred_at=at(minutes),
            event_id=kw.pop("event_id", None) or stable_id(f"{self.subject_id}:{seq}"),
            event_type=event_type,
            subject_id=kw.pop("subject_id", self.subject_id),
            payload=payload,
            producer_system=kw.pop("producer_system", "test.fixture"),
        )
        assert not kw, kw
        self.facts.append(fact)
        return fact

    # -- shorthands (payloads in their stored, normalised shape) -----------------------------------
    def collected(
        self,
        minutes: float,
        categories: list[str] | None = None,
        *,
        purposes: list[dict[str, Any]] | None = None,
        source: dict[str, Any] | None = None,
        means: str = "automated",
        **extra: Any,
    ) -> Fact:
        items = [
            {"category": c, "field": f"f_{c}", "value": envelope(c)}
            for c in (categories or ["contact_details"])
        ]
        payload: dict[str, Any] = {
            "data_items": items,
            "source": source or {"type": "data_subject", "channel": "online"},
            "purposes": purposes or [{"purpose": "agreement_performance", "lawful_basis": "contract"}],
            "processing_means": means,
            **extra,
        }
        return self.add("DataCollected", minutes, payload)

    def used(
        self,
        minutes: float,
        purpose: str = "agreement_performance",
        basis: str = "contract",
        categories: list[str] | None = None,
        **extra: Any,
    ) -> Fact:
        payload = {
            "purpose": purpose,
            "lawful_basis": basis,
            "categories": categories or ["contact_details"],
            **extra,
        }
        return self.add("DataUsed", minutes, payload)

    def shared(
        self,
        minutes: float,
        purpose: str = "agreement_performance",
        basis: str = "contract",
        categories: list[str] | None = None,
        *,
        recipient: dict[str, Any] | None = None,
        event_type: str = "DataShared",
        **extra: Any,
    ) -> Fact:
        payload = {
            "recipient": recipient
            or {
                "recipient_id": "SUP-001",
                "name": "Example Supplier Ltd",
                "category": "supplier_processor",
                "role": "processor",
                "country": "GB",
            },
            "categories": categories or ["contact_details"],
            "purpose": purpose,
            "lawful_basis": basis,
            **extra,
        }
        return self.add(event_type, minutes, payload)

    def consent_given(
        self, minutes: float, purpose: str = "b2b_marketing", consent_id: str | None = None, **extra: Any
    ) -> Fact:
        payload = {
            "consent_id": consent_id or stable_id(f"consent:{len(self.facts)}"),
            "purpose": purpose,
            "method": "web_form",
            "notice_version": "v1",
            "explicit": False,
            **extra,
        }
        return self.add("ConsentGiven", minutes, payload)

    def consent_withdrawn(self, minutes: float, purpose: str = "b2b_marketing", **extra: Any) -> Fact:
        return self.add("ConsentWithdrawn", minutes, {"purpose": purpose, "method": "email", **extra})

    def preference(self, minutes: float, channel: str, preference: str, **extra: Any) -> Fact:
        return self.add(
            "MarketingPreferenceChanged", minutes, {"channel": channel, "preference": preference, **extra}
        )

    def objection(
        self, minutes: float, ground: str, purposes: list[str] | None = None, objection_id: str | None = None
    ) -> Fact:
        payload: dict[str, Any] = {"objection_id": objection_id or stable_id("objection"), "ground": ground}
        if purposes is not None:
            payload["purposes"] = purposes
        return self.add("ObjectionRaised", minutes, payload)

    def decided(self, minutes: float, objection_id: str, outcome: str) -> Fact:
        return self.add("ObjectionDecided", minutes, {"objection_id": objection_id, "outcome": outcome})

    def restricted(
        self,
        minutes: float,
        categories: list[str],
        purposes: list[str] | None = None,
        restriction_id: str | None = None,
    ) -> Fact:
        payload: dict[str, Any] = {
            "restriction_id": restriction_id or stable_id("restriction"),
            "categories": categories,
            "ground": "accuracy_contested",
        }
        if purposes is not None:
            payload["purposes"] = purposes
        return self.add("ProcessingRestricted", minutes, payload)

    def lifted(self, minutes: float, restriction_id: str, informed: datetime | None = None) -> Fact:
        payload: dict[str, Any] = {"restriction_id": restriction_id, "reason": "accuracy_verified"}
        if informed is not None:
            payload["subject_informed_at"] = text(informed)
        return self.add("RestrictionLifted", minutes, payload)

    def hold(self, minutes: float, categories: list[str], hold_id: str | None = None) -> Fact:
        payload = {
            "hold_id": hold_id or stable_id("hold"),
            "categories": categories,
            "reason": "litigation",
            "matter_ref": "M-1",
        }
        return self.add("LegalHoldPlaced", minutes, payload)

    def released(self, minutes: float, hold_id: str) -> Fact:
        return self.add("LegalHoldReleased", minutes, {"hold_id": hold_id})

    def erased(self, minutes: float, categories: list[str], reason: str = "erasure_request") -> Fact:
        return self.add("DataErased", minutes, {"categories": categories, "reason": reason})

    def shredded(self, minutes: float, category: str) -> Fact:
        return self.add(
            "KeyShredded", minutes, {"category": category, "key_versions": [1]}, producer_system="ledger"
        )

    def rectified(self, minutes: float, categories: list[str]) -> Fact:
        items = [{"category": c, "field": f"f_{c}", "new_value": envelope(c)} for c in categories]
        return self.add("DataRectified", minutes, {"items": items, "reason": "data_quality"})

    def registered(self, minutes: float, roles: list[str], display_name: bool = False) -> Fact:
        payload: dict[str, Any] = {"roles": roles}
        if display_name:
            payload["display_name"] = envelope("name")
        return self.add("SubjectRegistered", minutes, payload)

    def notice(self, minutes: float, topics: list[str] | None = None, article: str = "art14") -> Fact:
        payload = {
            "notice_version": "n1",
            "article": article,
            "topics": topics if topics is not None else ["general"],
            "channel": "email",
        }
        return self.add("PrivacyNoticeProvided", minutes, payload)

    def decision(self, minutes: float, **fields: Any) -> Fact:
        payload: dict[str, Any] = {
            "decision_id": stable_id(f"decision:{len(self.facts)}"),
            "decision_type": "credit_check",
            "significant": True,
            "solely_automated": True,
            "special_category_used": False,
            "lawful_basis": "contract",
            "safeguards_notified": True,
            "outcome_code": "approved",
        }
        payload.update(fields)
        return self.add("AutomatedDecisionMade", minutes, payload)
