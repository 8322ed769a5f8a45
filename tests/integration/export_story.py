"""A fictional subject's history for the export tests (spec 6.8, 6.12): two records merged, anomalies,
an alert retracted by a late consent, a request whose erasure is deferred by a legal hold and completed
on its release, a complaint about that request, a disclosure and an automated decision.

Values of erased categories (``ERASED_VALUES``) may appear in no export made after the erasure; the
others (``KEPT_VALUES``) stay readable. All data is fictional (example.com, Ofcom drama numbers).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from ledger.store.messages import Message
from ledger.testing import collected, event

NAME_A = "Ada Exportson"
NAME_B = "Ada E. Exportson"
TITLE = "Quality Lead"
EMAIL_A = "ada.exportson@example.com"
PHONE_B = "+44 20 7946 0123"
STREET = "7 Sample Row"
COMPLAINT_TEXT = "My erasure request was only partly done."
ERASED_VALUES = (EMAIL_A, PHONE_B, STREET)
KEPT_VALUES = (NAME_A, NAME_B, TITLE, COMPLAINT_TEXT)
CRM = {
    "recipient_id": "EXAMPLE-CRM-01",
    "name": "Example CRM Ltd",
    "category": "supplier_processor",
    "role": "processor",
    "country": "GB",
}
HOST = {
    "recipient_id": "EXAMPLE-HOST-SG",
    "name": "Example Hosting Pte Ltd",
    "category": "supplier_processor",
    "role": "processor",
    "country": "SG",
}


@dataclass
class Story:
    """The ids of one run of the story (fresh per ledger) and its events by name."""

    a: str = field(default_factory=lambda: str(uuid.uuid4()))  # the survivor
    b: str = field(default_factory=lambda: str(uuid.uuid4()))  # merged into a
    request: str = field(default_factory=lambda: str(uuid.uuid4()))
    complaint: str = field(default_factory=lambda: str(uuid.uuid4()))
    hold: str = field(default_factory=lambda: str(uuid.uuid4()))
    other: str = field(default_factory=lambda: str(uuid.uuid4()))  # another person, never exported
    events: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        a, b = self.a, self.b
        consent = {
            "consent_id": str(uuid.uuid4()),
            "purpose": "b2b_marketing",
            "method": "web_form",
            "notice_version": "2026.1",
            "explicit": True,
        }
        request = {
            "request_id": self.request,
            "request_type": "erasure",
            "channel": "email",
            "via_third_party": False,
            "requester_name": NAME_A,
            "description": "Please erase my contact details and address.",
            "grounds": ["consent_withdrawn"],
        }
        e = {
            "registered_a": event(
                "SubjectRegistered",
                a,
                {"roles": ["client_contact"], "display_name": NAME_A},
                occurred_at="2026-01-05T09:00:00Z",
            ),
            "collected_a": _at(
                collected(a, [("contact_details", "email", EMAIL_A), ("job_title", "title", TITLE)]),
                "2026-01-06T09:00:00Z",
            ),
            "registered_b": event(
                "SubjectRegistered",
                b,
                {"roles": ["website_user"], "display_name": NAME_B},
                occurred_at="2026-01-07T09:00:00Z",
            ),
            "collected_b": _at(
                collected(
                    b,
                    [
                        ("contact_details", "phone", PHONE_B),
                        ("postal_address", "address", {"line1": STREET, "city": "Leeds"}),
                    ],
                ),
                "2026-01-08T09:00:00Z",
            ),
            "merged": event(
                "SubjectsMerged",
                a,
                {"surviving_subject_id": a, "merged_subject_id": b, "reason": "duplicate_record"},
                occurred_at="2026-01-10T09:00:00Z",
            ),
            "registered_again": event(
                "SubjectRegistered",
                a,
                {"roles": ["client_contact"]},
                occurred_at="2026-01-11T09:00:00Z",
            ),
            "used_on_consent": event(
                "DataUsed",
                a,
                {
                    "purpose": "b2b_marketing",
                    "lawful_basis": "consent",
                    "categories": ["contact_details"],
                    "channel": "email",
                },
                occurred_at="2026-02-01T09:00:00Z",
            ),
            "withdrawn_unknown": event(
                "ConsentWithdrawn",
                a,
                {"purpose": "market_research_analysis", "consent_id": str(uuid.uuid4()), "method": "email"},
                occurred_at="2026-02-05T09:00:00Z",
            ),
            "shared": event(
                "DataShared",
                a,
                {
                    "recipient": CRM,
                    "categories": ["job_title"],
                    "purpose": "agreement_performance",
                    "lawful_basis": "contract",
                },
                occurred_at="2026-02-10T09:00:00Z",
            ),
            "transferred": event(
                "TransferredInternationally",
                a,
                {
                    "recipient": HOST,
                    "categories": ["job_title"],
                    "purpose": "agreement_performance",
                    "lawful_basis": "contract",
                    "transfer_mechanism": "idta",
                },
                occurred_at="2026-02-11T09:00:00Z",
            ),
            "decided": event(
                "AutomatedDecisionMade",
                a,
                {
                    "decision_id": str(uuid.uuid4()),
                    "decision_type": "credit_check",
                    "significant": True,
                    "solely_automated": False,
                    "special_category_used": False,
                    "lawful_basis": "contract",
                    "safeguards_notified": True,
                    "outcome_code": "ACCEPT",
                },
                occurred_at="2026-02-12T09:00:00Z",
            ),
            "request": event("RightsRequestReceived", a, request, occurred_at="2026-03-02T09:00:00Z"),
            "hold": event(
                "LegalHoldPlaced",
                a,
                {
                    "hold_id": self.hold,
                    "categories": ["contact_details"],
                    "reason": "litigation",
                    "matter_ref": "M-2026-1",
                },
                occurred_at="2026-03-03T09:00:00Z",
            ),
            "erased": event(
                "DataErased",
                a,
                {
                    "categories": ["contact_details", "postal_address"],
                    "reason": "erasure_request",
                    "request_id": self.request,
                },
                occurred_at="2026-03-10T09:00:00Z",
            ),
            "complained": event(
                "ComplaintReceived",
                a,
                {
                    "complaint_id": self.complaint,
                    "channel": "email",
                    "about_request_id": self.request,
                    "text": COMPLAINT_TEXT,
                },
                occurred_at="2026-03-20T09:00:00Z",
            ),
            "acknowledged": event(
                "ComplaintAcknowledged",
                a,
                {"complaint_id": self.complaint},
                occurred_at="2026-03-22T09:00:00Z",
            ),
            "other_person": _at(
                collected(self.other, [("contact_details", "email", "someone.else@example.com")]),
                "2026-03-23T09:00:00Z",
            ),
            # Second batch: a late consent (before the use it justifies) and the hold's release.
            "late_consent": event("ConsentGiven", a, consent, occurred_at="2026-01-20T09:00:00Z"),
            "released": event(
                "LegalHoldReleased", a, {"hold_id": self.hold}, occurred_at="2026-04-01T09:00:00Z"
            ),
        }
        self.events = e

    def first_batch(self) -> list[dict[str, Any]]:
        """Everything up to the erasure and the complaint (the hold still in place)."""
        late = ("late_consent", "released")
        return [e for name, e in self.events.items() if name not in late]

    def second_batch(self) -> list[dict[str, Any]]:
        """The late consent and the hold's release (which completes the erasure)."""
        return [self.events["late_consent"], self.events["released"]]

    def id(self, name: str) -> str:
        """The event id of a named event."""
        return str(self.events[name]["event_id"])


def _at(e: dict[str, Any], occurred_at: str) -> dict[str, Any]:
    return {**e, "occurred_at": occurred_at}


def messages(events: list[dict[str, Any]]) -> list[Message]:
    """The events as consumed messages."""
    return [Message("test", 0, i, event=e, raw=json.dumps(e).encode()) for i, e in enumerate(events)]


def jsonl(events: list[dict[str, Any]]) -> str:
    """The events as a JSON-lines file's text."""
    return "".join(json.dumps(e) + "\n" for e in events)
