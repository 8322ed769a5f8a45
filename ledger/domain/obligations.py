"""As-of obligation rows: complaints (spec 6.10), Art 13/14 notices (6.9) and retention (6.7).

Pure functions over stored facts: ``as_of`` and the holiday calendar are arguments; facts after
``as_of`` are ignored and the rest are read in business order (``occurred_at``, then ``seq``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final

from ledger.domain.calendar import HolidayCalendar, add_months, end_of_day_london, london_date, utc_text
from ledger.domain.facts import Fact
from ledger.domain.timeutil import parse_date

__all__ = [
    "ART14_SOURCE_TYPES",
    "COMPLAINTS_STATUTORY_FROM",
    "ComplaintRow",
    "NoticeRow",
    "RetentionRow",
    "evaluate_complaint",
    "evaluate_notices",
    "evaluate_retention",
]

COMPLAINTS_STATUTORY_FROM: Final = date(2026, 6, 19)  # DPA 2018 s.164A in force (SI 2026/82)
ART14_SOURCE_TYPES: Final = frozenset({"public_source", "third_party"})
_ACK_DAYS: Final = timedelta(days=30)
_DISCLOSURES: Final = frozenset({"DataShared", "TransferredInternationally"})


def _in_order(facts: Iterable[Fact], as_of: datetime) -> list[Fact]:
    return sorted((f for f in facts if f.occurred_at <= as_of), key=lambda f: f.order_key)


def _date_text(d: date | None) -> str | None:
    return d.isoformat() if d is not None else None


def _first(facts: Sequence[Fact], event_type: str) -> Fact | None:
    return next((f for f in facts if f.event_type == event_type), None)


# -- 6.10 complaints -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ComplaintRow:
    """One row of the complaints queue (spec 6.10)."""

    complaint_id: str
    subject_id: str | None
    received_date: date
    statutory: bool
    ack_due_date: date | None
    acknowledged_date: date | None
    ack_on_time: bool | None
    outcome_sent_date: date | None
    status: str
    ack_overdue: bool
    ack_overdue_by_days: int
    received_event_id: str = ""

    def to_json(self) -> dict[str, Any]:
        """The spec 6.10 columns."""
        return {
            "complaint_id": self.complaint_id,
            "subject_id": self.subject_id,
            "received_date": self.received_date.isoformat(),
            "statutory": self.statutory,
            "ack_due_date": _date_text(self.ack_due_date),
            "acknowledged_date": _date_text(self.acknowledged_date),
            "ack_on_time": self.ack_on_time,
            "outcome_sent_date": _date_text(self.outcome_sent_date),
            "status": self.status,
            "ack_overdue": self.ack_overdue,
            "ack_overdue_by_days": self.ack_overdue_by_days,
        }


def evaluate_complaint(
    facts: Sequence[Fact],
    as_of: datetime,
    calendar: HolidayCalendar,
    *,
    resolve: Callable[[str], str] | None = None,
) -> ComplaintRow | None:
    """The 6.10 row of one complaint stream at ``as_of`` (None if not yet received).

    The acknowledgement is the first ``ComplaintAcknowledged`` or the outcome, whichever came first:
    an outcome sent within the 30 days counts as the acknowledgement [S25].
    """
    ordered = _in_order(facts, as_of)
    receipt = _first(ordered, "ComplaintReceived")
    if receipt is None:
        return None
    complaint_id = str(receipt.payload.get("complaint_id", ""))
    ordered = [f for f in ordered if f.payload.get("complaint_id", complaint_id) == complaint_id]
    received_date = london_date(receipt.occurred_at)
    statutory = received_date >= COMPLAINTS_STATUTORY_FROM
    # The 30 days start the day after receipt; a weekend or holiday end moves to the next working day.
    ack_due = calendar.roll(received_date + _ACK_DAYS) if statutory else None
    ack = _first(ordered, "ComplaintAcknowledged")
    outcome = _first(ordered, "ComplaintOutcomeSent")
    outcome_date = london_date(outcome.occurred_at) if outcome else None
    ack_dates = [london_date(f.occurred_at) for f in (ack, outcome) if f is not None]
    acknowledged = min(ack_dates) if ack_dates else None
    as_of_date = london_date(as_of)
    overdue = ack_due is not None and acknowledged is None and as_of_date > ack_due
    subject = receipt.subject_id
    return ComplaintRow(
        complaint_id=complaint_id,
        subject_id=resolve(subject) if resolve and subject else subject,
        received_date=received_date,
        statutory=statutory,
        ack_due_date=ack_due,
        acknowledged_date=acknowledged,
        ack_on_time=(acknowledged <= ack_due) if acknowledged and ack_due else None,
        outcome_sent_date=outcome_date,
        status="CLOSED" if outcome else "ACKNOWLEDGED" if ack else "OPEN",
        ack_overdue=overdue,
        ack_overdue_by_days=(as_of_date - ack_due).days if overdue and ack_due else 0,
        received_event_id=receipt.event_id,
    )


# -- 6.9 Art 13/14 notices -------------------------------------------------------------------------
@dataclass(frozen=True)
class NoticeRow:
    """One Art 14 notice obligation (spec 6.9): a collection from a public source or third party."""

    collection_event_id: str
    subject_id: str | None
    collected_date: date
    notice_due_date: date
    status: str
    first_communication_at: str | None
    first_disclosure_at: str | None
    notice_provided_at: str | None
    first_contact_event_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The spec 6.9 columns, with the instants that set or met the due date."""
        return {
            "collection_event_id": self.collection_event_id,
            "subject_id": self.subject_id,
            "collected_date": self.collected_date.isoformat(),
            "notice_due_date": self.notice_due_date.isoformat(),
            "status": self.status,
            "first_communication_at": self.first_communication_at,
            "first_disclosure_at": self.first_disclosure_at,
            "notice_provided_at": self.notice_provided_at,
        }


def _is_communication(f: Fact) -> bool:
    return f.event_type == "DataUsed" and f.payload.get("channel") is not None


def _source_type(f: Fact) -> str | None:
    source = f.payload.get("source")
    return str(source.get("type")) if isinstance(source, dict) else None


def evaluate_notices(
    subject_facts: Sequence[Fact], as_of: datetime, *, subject_id: str | None = None
) -> list[NoticeRow]:
    """One 6.9 row per Art 14 collection of the subject at ``as_of``, in business order.

    ``subject_facts`` are all facts of the (resolved) subject; ``subject_id`` overrides the row subject.
    """
    ordered = _in_order(subject_facts, as_of)
    notices = [f for f in ordered if f.event_type == "PrivacyNoticeProvided"]
    rows: list[NoticeRow] = []
    for i, collected in enumerate(ordered):
        if collected.event_type != "DataCollected" or _source_type(collected) not in ART14_SOURCE_TYPES:
            continue
        later = ordered[i + 1 :]
        comm = next((f for f in later if _is_communication(f)), None)
        disc = next((f for f in later if f.event_type in _DISCLOSURES), None)
        rows.append(_notice_row(collected, comm, disc, notices, as_of, subject_id))
    return rows


def _notice_row(
    collected: Fact,
    comm: Fact | None,
    disc: Fact | None,
    notices: Sequence[Fact],
    as_of: datetime,
    subject_id: str | None,
) -> NoticeRow:
    collected_date = london_date(collected.occurred_at)
    contacts = [f for f in (comm, disc) if f is not None]
    contact = min(contacts, key=lambda f: f.order_key) if contacts else None
    # No working-day roll for Art 14 (D10).
    due = min([add_months(collected_date, 1), *(london_date(f.occurred_at) for f in contacts)])
    limit = end_of_day_london(due)
    if contact is not None:
        limit = min(limit, contact.occurred_at)
    first_notice = notices[0] if notices else None
    if collected.payload.get("art14_exemption") is not None:
        status = "EXEMPT"
    elif first_notice is not None and first_notice.occurred_at <= limit:
        status = "SATISFIED"
    elif first_notice is not None:
        status = "SATISFIED_LATE"
    elif contact is not None or london_date(as_of) > due:
        status = "OVERDUE"
    else:
        status = "PENDING"
    return NoticeRow(
        collection_event_id=collected.event_id,
        subject_id=subject_id or collected.subject_id,
        collected_date=collected_date,
        notice_due_date=due,
        status=status,
        first_communication_at=utc_text(comm.occurred_at) if comm else None,
        first_disclosure_at=utc_text(disc.occurred_at) if disc else None,
        notice_provided_at=utc_text(first_notice.occurred_at) if first_notice else None,
        first_contact_event_id=contact.event_id if contact else None,
    )


# -- 6.7 retention ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class RetentionRow:
    """One retention obligation (spec 6.7): a (subject, category) with a ``retain_until``."""

    subject_id: str | None
    category: str
    retain_until: date
    rule_id: str
    on_legal_hold: bool
    hold_ids: tuple[str, ...]
    status: str
    days_past_retention: int
    schedule_event_id: str = ""

    @property
    def trigger_id(self) -> str:
        """The as-of alert entity id ``<subject>|<category>`` (A25)."""
        return f"{self.subject_id}|{self.category}"

    def to_json(self) -> dict[str, Any]:
        """The spec 6.7 columns."""
        return {
            "subject_id": self.subject_id,
            "category": self.category,
            "retain_until": self.retain_until.isoformat(),
            "rule_id": self.rule_id,
            "on_legal_hold": self.on_legal_hold,
            "hold_ids": list(self.hold_ids),
            "status": self.status,
            "days_past_retention": self.days_past_retention,
        }


def _categories(f: Fact) -> list[str]:
    """The categories an event names (``categories[]``, ``category`` or its items' categories)."""
    p = f.payload
    if isinstance(p.get("categories"), list):
        return [str(c) for c in p["categories"]]
    if isinstance(p.get("category"), str):
        return [p["category"]]
    items = p.get("data_items") if f.event_type == "DataCollected" else p.get("items")
    if isinstance(items, list):
        return [str(i["category"]) for i in items if isinstance(i, dict) and "category" in i]
    if f.event_type == "SubjectRegistered" and p.get("display_name") is not None:
        return ["name"]
    return []


_KEYED: Final = frozenset({"DataCollected", "DataRectified", "SubjectRegistered"})


def evaluate_retention(
    subject_facts: Sequence[Fact], as_of: datetime, *, subject_id: str | None = None
) -> list[RetentionRow]:
    """One 6.7 row per category of the subject with a retention schedule at ``as_of``, by category.

    The latest ``RetentionScheduleAssigned`` (by ``occurred_at``, ``seq``) for a category wins.
    """
    schedules: dict[str, Fact] = {}
    holds: dict[str, tuple[str, ...]] = {}
    keyed: dict[str, Fact] = {}  # latest event bringing a value (a new key version after a shred)
    shredded: dict[str, Fact] = {}
    deferred: dict[str, Fact] = {}
    for f in _in_order(subject_facts, as_of):
        kind, cats = f.event_type, _categories(f)
        target: dict[str, Fact] | None = {
            "RetentionScheduleAssigned": schedules,
            "KeyShredded": shredded,
            "ErasureDeferred": deferred,
        }.get(kind)
        if kind in _KEYED:
            target = keyed
        if target is not None:
            target.update(dict.fromkeys(cats, f))
        elif kind == "LegalHoldPlaced":
            holds[str(f.payload.get("hold_id"))] = tuple(cats)
        elif kind == "LegalHoldReleased":
            holds.pop(str(f.payload.get("hold_id")), None)
    as_of_date = london_date(as_of)
    rows = []
    for category in sorted(schedules):
        schedule = schedules[category]
        retain_until = parse_date(str(schedule.payload.get("retain_until")))
        hold_ids = tuple(sorted(h for h, cats in holds.items() if category in cats or "*" in cats))
        shred = shredded.get(category)
        erased = shred is not None and not _after(keyed.get(category), shred)
        defer = deferred.get(category) or deferred.get("*")
        if erased:
            status = "ERASED"
        elif hold_ids:
            status = "HELD"
        elif defer is not None and _after(defer, shred):
            status = "DEFERRED"
        elif as_of_date > retain_until:
            status = "DUE"
        else:
            status = "RETAIN"
        rows.append(
            RetentionRow(
                subject_id=subject_id or schedule.subject_id,
                category=category,
                retain_until=retain_until,
                rule_id=str(schedule.payload.get("rule_id", "")),
                on_legal_hold=bool(hold_ids),
                hold_ids=hold_ids,
                status=status,
                days_past_retention=max(0, (as_of_date - retain_until).days),
                schedule_event_id=schedule.event_id,
            )
        )
    return rows


def _after(fact: Fact | None, than: Fact | None) -> bool:
    """Whether ``fact`` exists and comes after ``than`` (or ``than`` does not exist)."""
    if fact is None:
        return False
    return than is None or fact.order_key > than.order_key
