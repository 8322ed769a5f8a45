"""The event catalogue of spec section 4: every event type, its stream, its personal fields and references.

Pure data and small pure functions (standard library only). Validation, encryption, the Avro schemas and
the store all read the catalogue from here, so an event type is declared exactly once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "EVENT_TYPES",
    "ITEM_CATEGORY",
    "LEDGER_SUBJECT_ID",
    "SYSTEM_EVENT_TYPES",
    "EventSpec",
    "PersonalField",
    "Reference",
    "StreamKind",
    "event_spec",
    "iter_personal_fields",
    "stored_topic",
]


class StreamKind(StrEnum):
    """Which stream an event is appended to (design: one per subject, request, complaint)."""

    SUBJECT = "subject"
    REQUEST = "request"
    COMPLAINT = "complaint"
    ALERT = "alert"


# The ledger's own subject id (the nil UUID): it owns the keys of subject-less events and of dead letters
# whose subject cannot be read. Only the ledger's own events may carry it; producers are refused.
LEDGER_SUBJECT_ID = "00000000-0000-0000-0000-000000000000"

# Key-category placeholder meaning "the category of the list item the value belongs to" (P[item]).
ITEM_CATEGORY = "@item"


@dataclass(frozen=True)
class PersonalField:
    """A personal field: a path into the payload (``*`` = every list element) and its key category."""

    path: tuple[str, ...]
    category: str


@dataclass(frozen=True)
class Reference:
    """A payload field that refers to another entity (spec 3.5 point 4)."""

    field: str
    kind: str  # request | objection | restriction | hold | complaint | event


@dataclass(frozen=True)
class EventSpec:
    """What the ledger knows about one event type of the catalogue."""

    name: str
    stream: StreamKind
    personal: tuple[PersonalField, ...] = ()
    references: tuple[Reference, ...] = ()
    creates: str | None = None  # the entity kind this event creates (keyed by ``creates_field``)
    creates_field: str | None = None
    system: bool = False
    subject_optional: bool = False
    section: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


_CORRESPONDENCE = "correspondence"
_REQ = Reference("request_id", "request")


def _spec(name: str, stream: StreamKind = StreamKind.SUBJECT, **kw: Any) -> EventSpec:
    return EventSpec(name=name, stream=stream, **kw)


def _request_event(name: str, *personal: str) -> EventSpec:
    return _spec(
        name,
        StreamKind.REQUEST,
        personal=tuple(PersonalField((p,), _CORRESPONDENCE) for p in personal),
        references=(_REQ,),
        section="4.4",
    )


_SPECS: tuple[EventSpec, ...] = (
    # 4.1 Subject lifecycle
    _spec("SubjectRegistered", personal=(PersonalField(("display_name",), "name"),), section="4.1"),
    _spec("SubjectRoleChanged", section="4.1"),
    _spec("SubjectsMerged", section="4.1"),
    # 4.2 Data lifecycle
    _spec(
        "DataCollected",
        personal=(PersonalField(("data_items", "*", "value"), ITEM_CATEGORY),),
        section="4.2",
    ),
    _spec("DataUsed", section="4.2"),
    _spec("DataShared", section="4.2"),
    _spec("TransferredInternationally", section="4.2"),
    _spec(
        "DataRectified",
        personal=(PersonalField(("items", "*", "new_value"), ITEM_CATEGORY),),
        references=(_REQ,),
        section="4.2",
    ),
    _spec("DataErased", references=(_REQ,), section="4.2"),
    _spec(
        "ProcessingRestricted",
        references=(_REQ,),
        creates="restriction",
        creates_field="restriction_id",
        section="4.2",
    ),
    _spec("RestrictionLifted", references=(Reference("restriction_id", "restriction"),), section="4.2"),
    _spec("LegalHoldPlaced", creates="hold", creates_field="hold_id", section="4.2"),
    _spec("LegalHoldReleased", references=(Reference("hold_id", "hold"),), section="4.2"),
    _spec("RetentionScheduleAssigned", section="4.2"),
    _spec("RetentionExpired", section="4.2"),
    _spec("RecipientNotified", references=(Reference("ref_event_id", "event"),), section="4.2"),
    # 4.3 Consent and preferences
    _spec(
        "ConsentGiven",
        personal=(PersonalField(("evidence",), "consent_records"),),
        section="4.3",
    ),
    _spec("ConsentWithdrawn", section="4.3"),
    _spec("MarketingPreferenceChanged", section="4.3"),
    _spec(
        "ObjectionRaised",
        personal=(PersonalField(("statement",), _CORRESPONDENCE),),
        references=(_REQ,),
        creates="objection",
        creates_field="objection_id",
        section="4.3",
    ),
    _spec("ObjectionDecided", references=(Reference("objection_id", "objection"),), section="4.3"),
    _spec("PrivacyNoticeProvided", section="4.3"),
    # 4.4 Rights requests
    _spec(
        "RightsRequestReceived",
        StreamKind.REQUEST,
        personal=tuple(
            PersonalField((p,), _CORRESPONDENCE)
            for p in ("requester_name", "requester_contact", "description")
        ),
        creates="request",
        creates_field="request_id",
        section="4.4",
    ),
    _request_event("IdentityVerificationRequested"),
    _request_event("IdentityEvidenceReceived"),
    _request_event("IdentityVerified"),
    _request_event("IdentityVerificationFailed"),
    _request_event("FeeRequested"),
    _request_event("FeePaid"),
    _request_event("ClarificationRequested", "question"),
    _request_event("ClarificationReceived", "answer"),
    _request_event("RequestExtended"),
    _request_event("RequestFulfilled", "notes"),
    _request_event("RequestRefused", "details"),
    _request_event("RequestWithdrawn"),
    _request_event("RequestClosed"),
    # 4.5 Automated decisions
    _spec("AutomatedDecisionMade", section="4.5"),
    # 4.6 Complaints
    _spec(
        "ComplaintReceived",
        StreamKind.COMPLAINT,
        personal=(PersonalField(("text",), _CORRESPONDENCE),),
        references=(Reference("about_request_id", "request"),),
        creates="complaint",
        creates_field="complaint_id",
        section="4.6",
    ),
    _spec(
        "ComplaintAcknowledged",
        StreamKind.COMPLAINT,
        references=(Reference("complaint_id", "complaint"),),
        section="4.6",
    ),
    _spec(
        "ComplaintOutcomeSent",
        StreamKind.COMPLAINT,
        references=(Reference("complaint_id", "complaint"),),
        section="4.6",
    ),
    # 4.7 Alert handling
    _spec("AlertAcknowledged", StreamKind.ALERT, subject_optional=True, section="4.7"),
    _spec("AlertResolved", StreamKind.ALERT, subject_optional=True, section="4.7"),
    # 4.8 Ledger-generated system events
    _spec("KeyShredded", system=True, section="4.8"),
    _spec("ErasureDeferred", system=True, section="4.8"),
    # Spec 8: every read of plaintext personal data, recorded by the ledger itself (no personal value:
    # who by an opaque reference, their role, which view, a reason code; the subject in the envelope).
    _spec("PersonalDataViewed", system=True, section="8"),
)

EVENT_TYPES: Mapping[str, EventSpec] = {s.name: s for s in _SPECS}

# Event types that only the ledger itself may emit (producer.system = "ledger").
SYSTEM_EVENT_TYPES: frozenset[str] = frozenset(s.name for s in _SPECS if s.system)


def event_spec(event_type: str) -> EventSpec:
    """Return the catalogue entry of ``event_type`` (KeyError if it is not in the catalogue)."""
    return EVENT_TYPES[event_type]


def stored_topic(event_type: str) -> str:
    """The explicit, stable stored topic of an event type, e.g. ``privacy.consent_withdrawn.v1``."""
    snake = "".join("_" + c.lower() if c.isupper() else c for c in event_type).lstrip("_")
    return f"privacy.{snake}.v1"


def iter_personal_fields(
    event_type: str, payload: Mapping[str, Any]
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Yield ``(concrete path, key category)`` for every personal value present in ``payload``.

    ``P[item]`` fields resolve to the ``category`` of their list item. Absent or null values are skipped.
    """
    for pf in EVENT_TYPES[event_type].personal:
        yield from _walk(payload, pf.path, (), pf.category, None)


def _walk(
    node: Any,
    path: tuple[str, ...],
    done: tuple[str | int, ...],
    category: str,
    item: Mapping[str, Any] | None,
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    if not path:
        if node is None:
            return
        if category == ITEM_CATEGORY:
            cat = item.get("category") if item is not None else None
            if not isinstance(cat, str):
                return
            yield done, cat
        else:
            yield done, category
        return
    head, rest = path[0], path[1:]
    if head == "*":
        if isinstance(node, list):
            for i, element in enumerate(node):
                nxt_item = element if isinstance(element, Mapping) else item
                yield from _walk(element, rest, (*done, i), category, nxt_item)
        return
    if isinstance(node, Mapping) and head in node:
        yield from _walk(node[head], rest, (*done, head), category, item)
