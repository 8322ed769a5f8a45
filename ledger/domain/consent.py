"""Consent, marketing preferences, objections and direct-marketing suppression (spec 6.3, D8, D12, D13).

A ``ConsentBook`` is a fold of one subject's consent-related facts in business order (``occurred_at``,
then ``seq``). Its queries answer for an instant ``at`` and assume the book holds exactly the facts with
``occurred_at`` at or before ``at`` (``fold_consent`` builds such a book); ``at`` itself only decides
consent expiry. Ties (D8): a fact at the same instant as a use is part of the state the use is judged
against, so a use at the instant of a withdrawal or objection counts as after it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from ledger.domain.codes import CodeLists
from ledger.domain.facts import Fact
from ledger.domain.timeutil import canonical_timestamp

__all__ = [
    "CONSENT_ID_MISMATCH",
    "DIRECT_MARKETING",
    "EXPIRED",
    "GIVEN",
    "NONE",
    "OPT_IN",
    "OPT_OUT",
    "OVERRIDDEN",
    "PARTICULAR_SITUATION",
    "PENDING",
    "UNSPECIFIED",
    "UPHELD",
    "WITHDRAWN",
    "ConsentBook",
    "ConsentStatus",
    "Mark",
    "MarketingPreference",
    "ObjectionState",
    "Suppression",
    "consent_purposes",
    "fold_consent",
    "parse_instant",
]

GIVEN: Final = "GIVEN"
WITHDRAWN: Final = "WITHDRAWN"
EXPIRED: Final = "EXPIRED"
NONE: Final = "NONE"
OPT_IN: Final = "OPT_IN"
OPT_OUT: Final = "OPT_OUT"
UNSPECIFIED: Final = "UNSPECIFIED"
PENDING: Final = "pending"
UPHELD: Final = "upheld"
OVERRIDDEN: Final = "overridden"
DIRECT_MARKETING: Final = "direct_marketing"
PARTICULAR_SITUATION: Final = "particular_situation"
CONSENT_ID_MISMATCH: Final = "CONSENT_ID_MISMATCH"
_CONSENT_BASIS: Final = "consent"

_CONSENT_EVENTS: Final = frozenset(
    {"ConsentGiven", "ConsentWithdrawn", "MarketingPreferenceChanged", "ObjectionRaised", "ObjectionDecided"}
)


def parse_instant(value: Any) -> datetime | None:
    """A stored RFC 3339 timestamp as an aware UTC datetime; None when absent or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        return canonical_timestamp(value)
    except ValueError:
        return None


@dataclass(frozen=True, order=True)
class Mark:
    """Where a fact sits in business order (``occurred_at`` then ``seq``), and which event it is."""

    occurred_at: datetime
    seq: int
    event_id: str = field(compare=False)

    @classmethod
    def of(cls, fact: Fact) -> Mark:
        """The mark of ``fact``."""
        return cls(fact.occurred_at, fact.seq, fact.event_id)


@dataclass(frozen=True)
class _Given:
    mark: Mark
    consent_id: str | None
    method: str | None
    notice_version: str | None
    explicit: bool | None
    expires_at: datetime | None


@dataclass(frozen=True)
class ConsentStatus:
    """Consent state of one (subject, purpose) at an instant (spec 6.3).

    ``consent_id``, ``given_at``, ``method``, ``notice_version``, ``explicit`` and ``expires_at``
    describe the latest ConsentGiven (if any); ``withdrawn_at`` is set when the status is WITHDRAWN.
    ``event_id`` is the ConsentGiven or ConsentWithdrawn the status comes from.
    """

    purpose: str
    status: str
    consent_id: str | None = None
    given_at: datetime | None = None
    withdrawn_at: datetime | None = None
    method: str | None = None
    notice_version: str | None = None
    explicit: bool | None = None
    expires_at: datetime | None = None
    event_id: str | None = None


@dataclass(frozen=True)
class MarketingPreference:
    """The latest channel preference (spec 6.3): ``OPT_IN``, ``OPT_OUT`` or ``UNSPECIFIED``."""

    channel: str
    preference: str
    changed_at: datetime | None = None
    event_id: str | None = None


@dataclass(frozen=True)
class _Objection:
    objection_id: str
    ground: str
    purposes: frozenset[str]
    mark: Mark


@dataclass(frozen=True)
class ObjectionState:
    """An objection and its state: ``pending``, ``upheld`` or ``overridden``.

    An override of a ``direct_marketing`` objection has no effect (Art 21(3)): such an objection is
    ``pending`` until upheld, and never ``overridden``. ``decision_event_id`` is the decision in effect.
    """

    objection_id: str
    ground: str
    purposes: frozenset[str]
    state: str
    raised_at: datetime
    raised_event_id: str
    decision_event_id: str | None = None

    @property
    def active(self) -> bool:
        """True while it blocks processing (pending or upheld)."""
        return self.state in (PENDING, UPHELD)


@dataclass(frozen=True)
class Suppression:
    """Whether direct marketing is suppressed, and the blocking events that make it so."""

    suppressed: bool
    blocking_event_ids: tuple[str, ...] = ()


_NOT_SUPPRESSED: Final = Suppression(False)


class ConsentBook:
    """Consent, preference and objection facts of one (resolved) subject, folded in business order."""

    __slots__ = ("_decisions", "_dm_objection", "_given", "_objections", "_opt", "_pref", "_withdrawn")

    def __init__(self) -> None:
        self._given: dict[str, _Given] = {}
        self._withdrawn: dict[str, Mark] = {}
        self._pref: dict[str, tuple[Mark, str]] = {}
        self._opt: dict[tuple[str, str, str], Mark] = {}  # (purpose, channel, opt_in|opt_out) -> latest
        self._dm_objection: dict[str, Mark] = {}  # purpose -> latest direct-marketing objection
        self._objections: dict[str, _Objection] = {}
        self._decisions: dict[str, tuple[tuple[Mark, str], ...]] = {}

    def copy(self) -> ConsentBook:
        """An independent copy (values are immutable, so shallow dict copies suffice)."""
        other = ConsentBook()
        other._given = dict(self._given)
        other._withdrawn = dict(self._withdrawn)
        other._pref = dict(self._pref)
        other._opt = dict(self._opt)
        other._dm_objection = dict(self._dm_objection)
        other._objections = dict(self._objections)
        other._decisions = dict(self._decisions)
        return other

    # -- fold ------------------------------------------------------------------------------------------
    def apply(self, fact: Fact, codes: CodeLists) -> tuple[str, ...]:
        """Fold one fact (the next in business order); returns its anomaly annotations (spec 3.6)."""
        p = fact.payload
        mark = Mark.of(fact)
        kind = fact.event_type
        if kind == "ConsentGiven":
            self._given[str(p.get("purpose"))] = _Given(
                mark,
                _opt_str(p.get("consent_id")),
                _opt_str(p.get("method")),
                _opt_str(p.get("notice_version")),
                p.get("explicit") if isinstance(p.get("explicit"), bool) else None,
                parse_instant(p.get("expires_at")),
            )
        elif kind == "ConsentWithdrawn":
            purpose = str(p.get("purpose"))
            given = self._given.get(purpose)
            claimed = p.get("consent_id")
            self._withdrawn[purpose] = mark
            if given is None or (claimed is not None and claimed != given.consent_id):
                return (CONSENT_ID_MISMATCH,)
        elif kind == "MarketingPreferenceChanged":
            channel, preference = str(p.get("channel")), str(p.get("preference"))
            self._pref[channel] = (mark, preference)
            for purpose in _purposes_or_dm(p, codes):
                self._opt[(purpose, channel, preference)] = mark
        elif kind == "ObjectionRaised":
            objection_id = str(p.get("objection_id"))
            ground = str(p.get("ground"))
            purposes = frozenset(_purposes_or_dm(p, codes) if ground == DIRECT_MARKETING else _list(p))
            if objection_id not in self._objections:
                self._objections[objection_id] = _Objection(objection_id, ground, purposes, mark)
                if ground == DIRECT_MARKETING:
                    for purpose in purposes:
                        self._dm_objection[purpose] = mark
        elif kind == "ObjectionDecided":
            objection_id = str(p.get("objection_id"))
            decision = (mark, str(p.get("outcome")))
            self._decisions[objection_id] = (*self._decisions.get(objection_id, ()), decision)
        return ()

    # -- consent ---------------------------------------------------------------------------------------
    def status(self, purpose: str, at: datetime) -> ConsentStatus:
        """Consent state of ``purpose`` at ``at`` (spec 6.3)."""
        given = self._given.get(purpose)
        withdrawn = self._withdrawn.get(purpose)
        if given is None and withdrawn is None:
            return ConsentStatus(purpose, NONE)
        if withdrawn is not None and (given is None or withdrawn > given.mark):
            if given is None:
                return ConsentStatus(
                    purpose, WITHDRAWN, withdrawn_at=withdrawn.occurred_at, event_id=withdrawn.event_id
                )
            return _from_given(purpose, WITHDRAWN, given, withdrawn)
        assert given is not None
        expired = given.expires_at is not None and given.expires_at <= at
        return _from_given(purpose, EXPIRED if expired else GIVEN, given, None)

    def statuses(self, at: datetime, purposes: Iterable[str] = ()) -> list[ConsentStatus]:
        """Consent state of every purpose with a consent event and of ``purposes`` (``NONE`` when they
        have none), sorted by purpose code. The 6.3 view passes ``consent_purposes``."""
        listed = self._given.keys() | self._withdrawn.keys() | set(purposes)
        return [self.status(p, at) for p in sorted(listed)]

    def consent_given_ids(self) -> dict[str, str | None]:
        """The ``consent_id`` of the latest ConsentGiven per purpose."""
        return {purpose: g.consent_id for purpose, g in self._given.items()}

    # -- preferences -----------------------------------------------------------------------------------
    def preference(self, channel: str) -> MarketingPreference:
        """The latest MarketingPreferenceChanged for ``channel`` (whatever purposes it named)."""
        latest = self._pref.get(channel)
        if latest is None:
            return MarketingPreference(channel, UNSPECIFIED)
        mark, preference = latest
        label = OPT_IN if preference == "opt_in" else OPT_OUT
        return MarketingPreference(channel, label, mark.occurred_at, mark.event_id)

    def preferences(self, channels: Iterable[str]) -> list[MarketingPreference]:
        """The preference for each channel, sorted by channel code."""
        return [self.preference(c) for c in sorted(channels)]

    # -- objections ------------------------------------------------------------------------------------
    def objection(self, objection_id: str) -> ObjectionState | None:
        """The objection and its current state, or None if it was not raised (yet)."""
        raised = self._objections.get(objection_id)
        if raised is None:
            return None
        decision = self._decision(raised)
        state = PENDING
        if decision is not None:
            state = UPHELD if decision[1] == "upheld" else OVERRIDDEN
        return ObjectionState(
            raised.objection_id,
            raised.ground,
            raised.purposes,
            state,
            raised.mark.occurred_at,
            raised.mark.event_id,
            decision[0].event_id if decision is not None else None,
        )

    def objections(self) -> list[ObjectionState]:
        """Every raised objection, in the order they were raised."""
        raised = sorted(self._objections.values(), key=lambda o: o.mark)
        return [s for s in (self.objection(o.objection_id) for o in raised) if s is not None]

    def active_objections(self, purpose: str, ground: str = PARTICULAR_SITUATION) -> list[ObjectionState]:
        """Objections on ``ground`` covering ``purpose`` that are pending or upheld, oldest first."""
        return [o for o in self.objections() if o.ground == ground and purpose in o.purposes and o.active]

    def _decision(self, raised: _Objection) -> tuple[Mark, str] | None:
        decisions = self._decisions.get(raised.objection_id, ())
        if raised.ground == DIRECT_MARKETING:
            # Overriding a direct-marketing objection is not permitted and has no effect (A4).
            decisions = tuple(d for d in decisions if d[1] == "upheld")
        return max(decisions, key=lambda d: d[0]) if decisions else None

    # -- direct-marketing suppression ------------------------------------------------------------------
    def suppression(self, purpose: str, channel: str | None, codes: CodeLists) -> Suppression:
        """DM suppression for (``purpose``, ``channel``) (spec 6.3).

        ``channel=None`` is a share without a channel: suppressed if, on any marketing channel, the
        subject is suppressed because of an objection or a withdrawal (a single-channel opt-out does not
        block a share). Non-DM purposes are never suppressed.
        """
        if not codes.is_direct_marketing(purpose):
            return _NOT_SUPPRESSED
        if channel is not None:
            return self._channel_suppression(purpose, channel, with_opt_out=True)
        blocking: set[str] = set()
        for c in sorted(codes.codes("marketing_channel")):
            found = self._channel_suppression(purpose, c, with_opt_out=False)
            blocking.update(found.blocking_event_ids)
        return Suppression(True, tuple(sorted(blocking))) if blocking else _NOT_SUPPRESSED

    def dm_suppressed(self, codes: CodeLists) -> bool:
        """True if suppressed for some DM purpose on every marketing channel (inventory ``dm_suppressed``)."""
        channels = sorted(codes.codes("marketing_channel"))
        return any(
            all(self._channel_suppression(p, c, with_opt_out=True).suppressed for c in channels)
            for p in sorted(codes.direct_marketing_purposes)
        )

    def _channel_suppression(self, purpose: str, channel: str, *, with_opt_out: bool) -> Suppression:
        blocking = [self._dm_objection.get(purpose), self._withdrawn.get(purpose)]
        if with_opt_out:
            blocking.append(self._opt.get((purpose, channel, "opt_out")))
        situation = self.active_objections(purpose)
        if situation:
            blocking.append(max(self._objections[o.objection_id].mark for o in situation))
        marks = [m for m in blocking if m is not None]
        if not marks:
            return _NOT_SUPPRESSED
        latest_block = max(marks)
        given = self._given.get(purpose)
        permits = [given.mark if given else None, self._opt.get((purpose, channel, "opt_in"))]
        permit_marks = [m for m in permits if m is not None]
        if permit_marks and max(permit_marks) > latest_block:
            return _NOT_SUPPRESSED
        return Suppression(True, (latest_block.event_id,))


_PURPOSE_EVENTS: Final = frozenset({"DataUsed", "DataShared", "TransferredInternationally"})


def consent_purposes(facts: Iterable[Fact], codes: CodeLists, at: datetime) -> frozenset[str]:
    """The purposes the consent view lists for a subject at ``at`` besides those with a consent event.

    Spec 6.3 gives a status per (subject, purpose), ``NONE`` when there is no consent event; listing
    every code would be noise for purposes consent can never justify. So these are listed: every
    purpose the register (spec 1.4) documents consent as a basis for, and every purpose the subject's
    data was processed for under basis ``consent`` at or before ``at`` (a DataCollected purpose entry,
    DataUsed, DataShared or TransferredInternationally: the entries alert A1 judges), registered or not.
    """
    out = {code for code, rule in codes.purposes.items() if _CONSENT_BASIS in rule.registered_bases}
    for fact in facts:
        if fact.occurred_at > at:
            continue
        if fact.event_type == "DataCollected":
            raw = fact.payload.get("purposes")
            entries = [e for e in (raw if isinstance(raw, list) else ()) if isinstance(e, Mapping)]
        elif fact.event_type in _PURPOSE_EVENTS:
            entries = [fact.payload]
        else:
            continue
        for entry in entries:
            purpose = entry.get("purpose")
            if entry.get("lawful_basis") == _CONSENT_BASIS and isinstance(purpose, str):
                out.add(purpose)
    return frozenset(out)


def fold_consent(facts: Iterable[Fact], codes: CodeLists, at: datetime) -> ConsentBook:
    """A book of the consent-related ``facts`` with ``occurred_at`` at or before ``at``, in business order."""
    book = ConsentBook()
    for fact in sorted((f for f in facts if f.occurred_at <= at), key=lambda f: f.order_key):
        if fact.event_type in _CONSENT_EVENTS:
            book.apply(fact, codes)
    return book


def _from_given(purpose: str, status: str, given: _Given, withdrawn: Mark | None) -> ConsentStatus:
    return ConsentStatus(
        purpose,
        status,
        consent_id=given.consent_id,
        given_at=given.mark.occurred_at,
        withdrawn_at=withdrawn.occurred_at if withdrawn is not None else None,
        method=given.method,
        notice_version=given.notice_version,
        explicit=given.explicit,
        expires_at=given.expires_at,
        event_id=(withdrawn or given.mark).event_id,
    )


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _list(payload: Mapping[str, Any]) -> list[str]:
    raw = payload.get("purposes")
    return [str(x) for x in raw] if isinstance(raw, list) else []


def _purposes_or_dm(payload: Mapping[str, Any], codes: CodeLists) -> list[str]:
    """``purposes`` if given and non-empty, else every direct-marketing purpose."""
    return _list(payload) or sorted(codes.direct_marketing_purposes)
