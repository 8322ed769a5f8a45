"""One subject's clock and state for the sample generator, with a helper per event type."""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from ledger.sample.people import Person, item_value
from ledger.sample.world import PRODUCERS, RECIPIENTS, SPECIAL_CATEGORIES, purpose_entry

__all__ = ["Journey", "Recorder", "format_instant", "london_date"]


def _last_sunday(year: int, month: int) -> date:
    d = date(year, month + 1, 1) - timedelta(days=1)
    return d - timedelta(days=(d.weekday() + 1) % 7)


def _is_bst(at: datetime) -> bool:
    # UK summer time: 01:00 UTC on the last Sunday of March to 01:00 UTC on the last Sunday of Oct.
    y = at.year
    start = datetime.combine(_last_sunday(y, 3), datetime.min.time(), UTC) + timedelta(hours=1)
    end = datetime.combine(_last_sunday(y, 10), datetime.min.time(), UTC) + timedelta(hours=1)
    return start <= at < end


def london_date(at: datetime) -> date:
    """The Europe/London calendar date of an aware instant."""
    return (at + timedelta(hours=1 if _is_bst(at) else 0)).date()


def format_instant(at: datetime, style: str) -> str:
    """RFC 3339 text of ``at``: UTC ``Z`` (``utc``, ``utc_ms``) or London offset (``local``)."""
    if style == "local" and _is_bst(at):
        return (at + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S") + "+01:00"
    text = at.strftime("%Y-%m-%dT%H:%M:%S")
    if style == "utc_ms":
        text += f".{at.microsecond // 1000:03d}"
    return text + "Z"


class Recorder:
    """Collects the events of one generation run with the instants they occurred at."""

    def __init__(self, rng: random.Random, end: datetime) -> None:
        self.rng = rng
        self.end = end
        self._rows: list[tuple[datetime, int, dict[str, Any]]] = []

    def uuid(self) -> str:
        """A random version-4 UUID drawn from the run's RNG (never the OS entropy)."""
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def add(self, at: datetime, event: dict[str, Any]) -> None:
        """Keep ``event`` unless it would occur after the end of the sample window."""
        if at <= self.end:
            self._rows.append((at, len(self._rows), event))

    def events(self) -> list[dict[str, Any]]:
        """Every kept event ordered by instant, ties in generation order."""
        return [row[2] for row in sorted(self._rows, key=lambda r: (r[0], r[1]))]


class Journey:
    """A subject's strictly increasing clock and its accumulated shares, consents and holds."""

    def __init__(self, rec: Recorder, now: datetime, person: Person) -> None:
        self.rec = rec
        self.rng = rec.rng
        self.now = now
        self.person = person
        self.subject_id = rec.uuid()
        self.categories: set[str] = set()
        self.shares: list[tuple[str, frozenset[str]]] = []
        self.consents: dict[str, str] = {}
        self.holds: dict[str, list[str]] = {}

    def fork(self, person: Person) -> Journey:
        """A journey for another subject that starts at this journey's current instant."""
        return Journey(self.rec, self.now, person)

    def wait_minutes(self, lo: int, hi: int) -> None:
        """Advance the clock by ``lo``..``hi`` minutes."""
        self.now += timedelta(seconds=self.rng.randint(lo * 60, hi * 60))

    def wait_days(self, lo: int, hi: int, *, office: bool = True) -> None:
        """Advance to a random time ``lo``..``hi`` London days later (office hours on workdays)."""
        rng = self.rng
        day = london_date(self.now) + timedelta(days=rng.randint(lo, hi))
        if office:
            while day.weekday() >= 5:
                day += timedelta(days=1)
            minute = rng.randint(8 * 60, 17 * 60 + 30)
        else:
            minute = rng.randint(7 * 60, 23 * 60 + 30)
        guess = datetime.combine(day, datetime.min.time(), UTC) + timedelta(minutes=minute)
        if _is_bst(guess - timedelta(hours=1)):
            guess -= timedelta(hours=1)
        guess += timedelta(seconds=rng.randint(0, 59), milliseconds=rng.randint(0, 999))
        self.now = guess if guess > self.now else self.now + timedelta(minutes=rng.randint(5, 90))

    def wait_past(self, day: date, lo: int, hi: int) -> None:
        """Advance to office hours ``lo``..``hi`` days after the London date ``day``."""
        ahead = (day - london_date(self.now)).days
        self.wait_days(ahead + lo, ahead + hi)

    def stamp(self, at: datetime | None = None, producer: str = "dsar.portal") -> str:
        """``at`` (default now) as RFC 3339 text in the producer's style."""
        return format_instant(at or self.now, PRODUCERS[producer].style)

    def emit(
        self,
        event_type: str,
        payload: dict[str, Any],
        producer: str,
        *,
        actor: str | None = None,
        correlation: str | None = None,
    ) -> str:
        """Record one event at the current instant, advance the clock, and return the event id."""
        rng = self.rng
        prod = PRODUCERS[producer]
        at = self.now if prod.style == "utc_ms" else self.now.replace(microsecond=0)
        event_id = self.rec.uuid()
        event: dict[str, Any] = {
            "event_id": event_id,
            "event_type": event_type,
            "schema_version": 1,
            "occurred_at": format_instant(at, prod.style),
            "producer": {"system": prod.system, "instance": rng.choice(prod.instances)},
            "subject_id": self.subject_id,
        }
        if correlation is not None:
            event["correlation_id"] = correlation
        if actor is not None:
            event["actor_ref"] = actor
        event["payload"] = payload
        self.rec.add(at, event)
        self.now += timedelta(seconds=rng.randint(30, 600), milliseconds=rng.randint(1, 999))
        return event_id

    def staff(self) -> str:
        """An opaque staff reference (never a name or email)."""
        return f"staff:{self.rng.randint(1001, 1060)}"

    # -- 4.1 subject lifecycle ------------------------------------------------------------------
    def register(self, roles: Sequence[str], producer: str, *, named: bool = True) -> str:
        """SubjectRegistered with the roles and, usually, a display name."""
        payload: dict[str, Any] = {"roles": list(roles)}
        if named:
            payload["display_name"] = self.person.full_name
        return self.emit("SubjectRegistered", payload, producer, actor="system:onboarding")

    def role_changed(self, role: str, change: str, producer: str) -> str:
        """SubjectRoleChanged."""
        return self.emit("SubjectRoleChanged", {"role": role, "change": change}, producer)

    # -- 4.2 data lifecycle ---------------------------------------------------------------------
    def collect(
        self,
        producer: str,
        source: dict[str, Any],
        items: Iterable[tuple[str, str]],
        purposes: Sequence[dict[str, Any]],
        *,
        manual: bool = False,
        art13: bool | None = None,
        art14_exemption: str | None = None,
    ) -> str:
        """DataCollected of (category, field) items with fictional values."""
        data_items = []
        for category, field in items:
            item: dict[str, Any] = {
                "category": category,
                "field": field,
                "value": item_value(category, field, self.person, self.rng),
            }
            if category in SPECIAL_CATEGORIES or self.rng.random() < 0.1:
                item["special_category"] = category in SPECIAL_CATEGORIES
            data_items.append(item)
            self.categories.add(category)
        payload: dict[str, Any] = {
            "data_items": data_items,
            "source": source,
            "purposes": list(purposes),
            "processing_means": "manual" if manual else "automated",
        }
        if art13 is not None:
            payload["art13_notice_given"] = art13
        if art14_exemption is not None:
            payload["art14_exemption"] = art14_exemption
        return self.emit("DataCollected", payload, producer, actor=self.staff() if manual else None)

    def use(
        self,
        producer: str,
        purpose: str,
        categories: Sequence[str],
        *,
        basis: str | None = None,
        channel: str | None = None,
        operation: str | None = None,
        drop_li_ref: bool = False,
        exemption: str | None = None,
    ) -> str:
        """DataUsed (a channel makes it a communication with the subject)."""
        payload = purpose_entry(purpose, basis)
        if drop_li_ref:
            payload.pop("li_ref", None)
        payload["categories"] = list(categories)
        if channel is not None:
            payload["channel"] = channel
        if operation is not None:
            payload["operation"] = operation
        if exemption is not None:
            payload["restriction_exemption"] = exemption
        payload["automated"] = channel in (None, "email", "sms")
        return self.emit("DataUsed", payload, producer)

    def share(
        self,
        producer: str,
        recipient: str,
        purpose: str,
        categories: Sequence[str],
        *,
        basis: str | None = None,
        mechanism: str | None = None,
        transfer: bool = False,
    ) -> str:
        """DataShared (or TransferredInternationally) to a known recipient."""
        rcp = RECIPIENTS[recipient]
        payload: dict[str, Any] = {"recipient": rcp.payload()}
        chosen = mechanism or rcp.mechanism
        if chosen is not None:
            payload["transfer_mechanism"] = chosen
            if rcp.tra_ref is not None:
                payload["tra_ref"] = rcp.tra_ref
        payload.update(purpose_entry(purpose, basis))
        payload["categories"] = list(categories)
        self.shares.append((rcp.recipient_id, frozenset(categories)))
        kind = "TransferredInternationally" if transfer else "DataShared"
        return self.emit(kind, payload, producer, actor=self.staff())

    def rectify(
        self, producer: str, items: Sequence[tuple[str, str]], reason: str, request_id: str | None
    ) -> str:
        """DataRectified with fictional new values."""
        new = [
            {"category": c, "field": f, "new_value": item_value(c, f, self.person, self.rng)}
            for c, f in items
        ]
        payload: dict[str, Any] = {"items": new, "reason": reason}
        if request_id is not None:
            payload["request_id"] = request_id
        return self.emit("DataRectified", payload, producer, actor=self.staff())

    def erase(
        self, producer: str, categories: Sequence[str], reason: str, request_id: str | None = None
    ) -> str:
        """DataErased of some categories or ``["*"]``."""
        payload: dict[str, Any] = {"categories": list(categories), "reason": reason}
        if request_id is not None:
            payload["request_id"] = request_id
        return self.emit("DataErased", payload, producer, actor=self.staff())

    def notify_recipients(
        self, producer: str, kind: str, ref_event_id: str, categories: Iterable[str]
    ) -> None:
        """RecipientNotified (Art 19) to each earlier recipient of an affected category."""
        wanted = set(categories)
        seen: set[str] = set()
        for rid, cats in self.shares:
            if rid in seen or not (cats & wanted or "*" in wanted):
                continue
            seen.add(rid)
            if self.rng.random() < 0.1:
                continue  # an Art 19 notification that is never sent stays pending
            outcome = self.rng.choice(
                ("sent", "sent", "sent", "sent", "impossible", "disproportionate_effort")
            )
            payload = {
                "recipient_id": rid,
                "notification_type": kind,
                "ref_event_id": ref_event_id,
                "outcome": outcome,
            }
            self.wait_minutes(20, 600)
            self.emit("RecipientNotified", payload, producer, actor=self.staff())

    def restrict(
        self,
        producer: str,
        categories: Sequence[str],
        ground: str,
        *,
        purposes: Sequence[str] | None = None,
        request_id: str | None = None,
        correlation: str | None = None,
    ) -> tuple[str, str]:
        """ProcessingRestricted; returns (restriction id, event id)."""
        restriction_id = self.rec.uuid()
        payload: dict[str, Any] = {
            "restriction_id": restriction_id,
            "categories": list(categories),
            "ground": ground,
        }
        if purposes is not None:
            payload["purposes"] = list(purposes)
        if request_id is not None:
            payload["request_id"] = request_id
        actor = self.staff()
        event_id = self.emit("ProcessingRestricted", payload, producer, actor=actor, correlation=correlation)
        return restriction_id, event_id

    def lift(self, producer: str, restriction_id: str, reason: str, *, informed: str = "before") -> str:
        """RestrictionLifted; the subject is told ``before`` (Art 18(3)), ``after`` or ``never``."""
        payload: dict[str, Any] = {"restriction_id": restriction_id, "reason": reason}
        if informed == "before":
            payload["subject_informed_at"] = self.stamp(producer=producer)
            self.wait_days(1, 7)
        elif informed == "after":
            payload["subject_informed_at"] = self.stamp(self.now + timedelta(days=3), producer)
        return self.emit("RestrictionLifted", payload, producer, actor=self.staff())

    def hold(self, categories: Sequence[str], reason: str, matter_ref: str) -> str:
        """LegalHoldPlaced; returns the hold id."""
        hold_id = self.rec.uuid()
        payload = {
            "hold_id": hold_id,
            "categories": list(categories),
            "reason": reason,
            "matter_ref": matter_ref,
        }
        self.emit("LegalHoldPlaced", payload, "legal.matters", actor=self.staff())
        self.holds[hold_id] = list(categories)
        return hold_id

    def release(self, hold_id: str) -> str:
        """LegalHoldReleased."""
        self.holds.pop(hold_id, None)
        return self.emit("LegalHoldReleased", {"hold_id": hold_id}, "legal.matters", actor=self.staff())

    def retention(self, categories: Sequence[str], rule_id: str, months: int) -> date:
        """RetentionScheduleAssigned from today's London date; returns ``retain_until``."""
        trigger = london_date(self.now)
        m = trigger.month - 1 + months
        until = date(trigger.year + m // 12, m % 12 + 1, min(trigger.day, 28))
        payload = {
            "categories": list(categories),
            "rule_id": rule_id,
            "trigger_date": trigger.isoformat(),
            "retain_until": until.isoformat(),
        }
        self.emit("RetentionScheduleAssigned", payload, "records.retention", actor="system:retention")
        return until

    # -- 4.3 consent and preferences ------------------------------------------------------------
    def consent(self, producer: str, purpose: str, method: str, *, explicit: bool = False) -> str:
        """ConsentGiven with a form snapshot as evidence; returns the consent id."""
        consent_id = self.rec.uuid()
        payload: dict[str, Any] = {
            "consent_id": consent_id,
            "purpose": purpose,
            "method": method,
            "notice_version": self.rng.choice(("2025.4", "2026.1")),
            "explicit": explicit,
            "evidence": item_value("consent_records", "evidence", self.person, self.rng),
        }
        if self.rng.random() < 0.2:
            payload["expires_at"] = self.stamp(self.now + timedelta(days=365), producer)
        self.consents[purpose] = consent_id
        return self.emit("ConsentGiven", payload, producer)

    def withdraw(self, producer: str, purpose: str, method: str, *, cite: bool = True) -> str:
        """ConsentWithdrawn, citing the consent id when the producer knows it."""
        payload: dict[str, Any] = {"purpose": purpose, "method": method}
        known = self.consents.pop(purpose, None)
        if cite and known is not None:
            payload["consent_id"] = known
        return self.emit("ConsentWithdrawn", payload, producer)

    def preference(self, producer: str, channel: str, preference: str) -> str:
        """MarketingPreferenceChanged for the direct-marketing purpose."""
        payload = {"channel": channel, "preference": preference, "purposes": ["b2b_marketing"]}
        return self.emit("MarketingPreferenceChanged", payload, producer)

    def notice(self, producer: str, article: str, topics: Sequence[str], channel: str) -> str:
        """PrivacyNoticeProvided."""
        payload = {
            "notice_version": "2026.1",
            "article": article,
            "topics": list(topics),
            "channel": channel,
        }
        return self.emit("PrivacyNoticeProvided", payload, producer)
