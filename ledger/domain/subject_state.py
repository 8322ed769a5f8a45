"""The state of one (resolved) subject at an instant: a fold of its facts in business order.

``SubjectState.apply`` folds the next fact in business order (``occurred_at``, then ``seq``) and returns an
``Arrival``: what that fact met when it arrived (annotations, values for shredded categories, the Art 14
collections it is the first contact after). After every fact at or before an instant ``t`` has been
applied, the queries answer "at ``t``". ``copy`` is cheap (dict copies of immutable values), so a caller can
keep snapshots and resume the fold from one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from ledger.domain.codes import CodeLists
from ledger.domain.consent import ConsentBook, Mark
from ledger.domain.facts import Fact

__all__ = [
    "ALL",
    "DUPLICATE_SUBJECT_REGISTRATION",
    "Arrival",
    "Collection",
    "Hold",
    "Notice",
    "Restriction",
    "SubjectState",
    "categories_of",
    "value_categories",
]

ALL: Final = "*"
DUPLICATE_SUBJECT_REGISTRATION: Final = "DUPLICATE_SUBJECT_REGISTRATION"
_NAME_CATEGORY: Final = "name"
_DISCLOSURES: Final = frozenset({"DataShared", "TransferredInternationally"})


def categories_of(payload: Mapping[str, Any]) -> frozenset[str]:
    """The ``categories`` list of a payload (may hold ``*``)."""
    raw = payload.get("categories")
    return frozenset(str(c) for c in raw) if isinstance(raw, list) else frozenset()


def _covers(held: frozenset[str], asked: Iterable[str]) -> bool:
    """True if a ``categories`` list (``*`` = every category) intersects ``asked`` (``*`` = any)."""
    asked = frozenset(asked)
    return bool(held & asked) or (ALL in held and bool(asked)) or (ALL in asked and bool(held))


def value_categories(fact: Fact) -> tuple[str, ...]:
    """Categories for which ``fact`` brings a personal value that is collected data (A8/A9 re-keying).

    DataCollected items, DataRectified items and ``SubjectRegistered.display_name`` (category ``name``);
    rights-request lifecycle events and other free text are not collection. Sorted, distinct.
    """
    p = fact.payload
    if fact.event_type == "DataCollected":
        items = p.get("data_items")
    elif fact.event_type == "DataRectified":
        items = p.get("items")
    elif fact.event_type == "SubjectRegistered":
        return (_NAME_CATEGORY,) if p.get("display_name") is not None else ()
    else:
        return ()
    if not isinstance(items, list):
        return ()
    return tuple(sorted({str(i["category"]) for i in items if isinstance(i, Mapping) and "category" in i}))


@dataclass(frozen=True)
class Restriction:
    """A ProcessingRestricted: categories (``*`` = all) and purposes (empty = all purposes)."""

    restriction_id: str
    categories: frozenset[str]
    purposes: frozenset[str]
    mark: Mark

    def covers(self, categories: Iterable[str], purpose: str | None) -> bool:
        """True if processing ``categories`` for ``purpose`` falls under this restriction."""
        in_scope = not self.purposes or purpose is None or purpose in self.purposes
        return in_scope and _covers(self.categories, categories)


@dataclass(frozen=True)
class Hold:
    """A LegalHoldPlaced: categories (``*`` = all)."""

    hold_id: str
    categories: frozenset[str]
    mark: Mark

    def covers(self, categories: Iterable[str]) -> bool:
        """True if the hold covers any of ``categories`` (``*`` = any)."""
        return _covers(self.categories, categories)


@dataclass(frozen=True)
class Notice:
    """A PrivacyNoticeProvided: article and topics."""

    article: str
    topics: frozenset[str]
    mark: Mark


@dataclass(frozen=True)
class Collection:
    """A DataCollected: its source, and whether it is an Art 14 collection (public or third-party source)."""

    source_type: str
    source_name: str | None
    art14: bool
    exempt: bool
    mark: Mark


@dataclass(frozen=True)
class Arrival:
    """What a fact met when folded in business order.

    ``shredded`` pairs a category the fact brings a value for with the KeyShredded events that shredded it
    (A9); ``art14_collections`` are the non-exempt Art 14 collections this communication or disclosure is
    the first contact after (A15); ``annotations`` are anomaly codes (spec 3.6).
    """

    annotations: tuple[str, ...] = ()
    shredded: tuple[tuple[str, tuple[str, ...]], ...] = ()
    art14_collections: tuple[str, ...] = ()


_NOTHING: Final = Arrival()


class SubjectState:
    """What the compliance rules need to know about one resolved subject, as of the facts folded so far."""

    __slots__ = (
        "_art14_pending",
        "_holds",
        "_lifted",
        "_registered",
        "_released",
        "_restrictions",
        "_roles",
        "_shreds",
        "collections",
        "consent",
        "first_communication",
        "first_disclosure",
        "notices",
    )

    def __init__(self) -> None:
        self.consent = ConsentBook()
        self._roles: set[str] = set()
        self._registered: set[str] = set()
        self._restrictions: dict[str, Restriction] = {}
        self._lifted: dict[str, Mark] = {}
        self._holds: dict[str, Hold] = {}
        self._released: dict[str, Mark] = {}
        self._shreds: dict[str, tuple[Mark, ...]] = {}  # category -> shreds since it was last re-keyed
        self._art14_pending: tuple[str, ...] = ()
        self.notices: list[Notice] = []
        self.collections: list[Collection] = []
        self.first_communication: Mark | None = None
        self.first_disclosure: Mark | None = None

    def copy(self) -> SubjectState:
        """An independent copy."""
        other = SubjectState()
        other.consent = self.consent.copy()
        other._roles = set(self._roles)
        other._registered = set(self._registered)
        other._restrictions = dict(self._restrictions)
        other._lifted = dict(self._lifted)
        other._holds = dict(self._holds)
        other._released = dict(self._released)
        other._shreds = dict(self._shreds)
        other._art14_pending = self._art14_pending
        other.notices = list(self.notices)
        other.collections = list(self.collections)
        other.first_communication = self.first_communication
        other.first_disclosure = self.first_disclosure
        return other

    # -- fold ------------------------------------------------------------------------------------------
    def apply(self, fact: Fact, codes: CodeLists) -> Arrival:
        """Fold the next fact in business order and say what it met on arrival."""
        kind, p, mark = fact.event_type, fact.payload, Mark.of(fact)
        annotations = self.consent.apply(fact, codes)
        shredded = self._rekey(fact)
        contact = self._contact(fact, mark)
        if kind == "SubjectRegistered":
            annotations = self._register(fact)
        elif kind == "SubjectRoleChanged":
            role = str(p.get("role"))
            if p.get("change") == "removed":
                self._roles.discard(role)
            else:
                self._roles.add(role)
        elif kind == "DataCollected":
            self._collect(p, mark, codes)
        elif kind == "ProcessingRestricted":
            rid = str(p.get("restriction_id"))
            purposes = p.get("purposes")
            self._restrictions.setdefault(
                rid,
                Restriction(
                    rid,
                    categories_of(p),
                    frozenset(str(x) for x in purposes) if isinstance(purposes, list) else frozenset(),
                    mark,
                ),
            )
        elif kind == "RestrictionLifted":
            self._lifted[str(p.get("restriction_id"))] = mark
        elif kind == "LegalHoldPlaced":
            hid = str(p.get("hold_id"))
            self._holds.setdefault(hid, Hold(hid, categories_of(p), mark))
        elif kind == "LegalHoldReleased":
            self._released[str(p.get("hold_id"))] = mark
        elif kind == "KeyShredded":
            category = str(p.get("category"))
            self._shreds[category] = (*self._shreds.get(category, ()), mark)
        elif kind == "PrivacyNoticeProvided":
            topics = p.get("topics")
            self.notices.append(
                Notice(
                    str(p.get("article")),
                    frozenset(str(t) for t in topics) if isinstance(topics, list) else frozenset(),
                    mark,
                )
            )
        if not (annotations or shredded or contact):
            return _NOTHING
        return Arrival(annotations, shredded, contact)

    def _register(self, fact: Fact) -> tuple[str, ...]:
        roles = fact.payload.get("roles")
        for role in roles if isinstance(roles, list) else ():
            self._roles.add(str(role))
        # Per envelope subject: two registered records merged later are not a duplicate registration.
        who = fact.subject_id or ""
        if who in self._registered:
            return (DUPLICATE_SUBJECT_REGISTRATION,)
        self._registered.add(who)
        return ()

    def _rekey(self, fact: Fact) -> tuple[tuple[str, tuple[str, ...]], ...]:
        hits: list[tuple[str, tuple[str, ...]]] = []
        for category in value_categories(fact):
            shreds = self._shreds.pop(category, ())
            if shreds:
                hits.append((category, tuple(m.event_id for m in shreds)))
        return tuple(hits)

    def _contact(self, fact: Fact, mark: Mark) -> tuple[str, ...]:
        if fact.event_type in _DISCLOSURES:
            if self.first_disclosure is None:
                self.first_disclosure = mark
        elif fact.event_type == "DataUsed" and fact.payload.get("channel") is not None:
            if self.first_communication is None:
                self.first_communication = mark
        else:
            return ()
        pending, self._art14_pending = self._art14_pending, ()
        return pending

    def _collect(self, p: Mapping[str, Any], mark: Mark, codes: CodeLists) -> None:
        source = p.get("source")
        source = source if isinstance(source, Mapping) else {}
        source_type = str(source.get("type"))
        rule = codes.source_rules.get(source_type)
        name = source.get(rule.field) if rule is not None else None
        art14 = rule is not None and rule.notice_article == "art14"
        exempt = p.get("art14_exemption") is not None
        self.collections.append(
            Collection(source_type, str(name) if name is not None else None, art14, exempt, mark)
        )
        if art14 and not exempt:
            self._art14_pending = (*self._art14_pending, mark.event_id)

    # -- queries ---------------------------------------------------------------------------------------
    @property
    def roles(self) -> frozenset[str]:
        """The subject's roles."""
        return frozenset(self._roles)

    def active_restrictions(self) -> list[Restriction]:
        """Restrictions placed and not lifted, oldest first."""
        live = (r for rid, r in self._restrictions.items() if rid not in self._lifted)
        return sorted(live, key=lambda r: r.mark)

    def restrictions_covering(self, categories: Iterable[str], purpose: str | None) -> list[Restriction]:
        """Active restrictions that cover processing ``categories`` for ``purpose``, oldest first."""
        cats = tuple(categories)
        # Filtered before the (stable) sort: the same list as filtering ``active_restrictions()``.
        hits = (
            r for rid, r in self._restrictions.items() if rid not in self._lifted and r.covers(cats, purpose)
        )
        return sorted(hits, key=lambda r: r.mark)

    def restriction(self, restriction_id: str) -> Restriction | None:
        """The restriction placed under ``restriction_id`` (lifted or not), if any."""
        return self._restrictions.get(restriction_id)

    def active_holds(self) -> list[Hold]:
        """Legal holds placed and not released, oldest first."""
        live = (h for hid, h in self._holds.items() if hid not in self._released)
        return sorted(live, key=lambda h: h.mark)

    def holds_covering(self, categories: Iterable[str]) -> list[Hold]:
        """Active holds covering any of ``categories`` (``*`` = any), oldest first."""
        cats = tuple(categories)
        hits = (h for hid, h in self._holds.items() if hid not in self._released and h.covers(cats))
        return sorted(hits, key=lambda h: h.mark)

    def shredded(self, category: str) -> tuple[str, ...]:
        """The KeyShredded event ids if ``category`` is shredded and not re-keyed since; else ``()``."""
        return tuple(m.event_id for m in self._shreds.get(category, ()))

    def shredded_categories(self) -> frozenset[str]:
        """Categories shredded and not re-keyed by later collection."""
        return frozenset(c for c, marks in self._shreds.items() if marks)

    def has_notice(self) -> bool:
        """True if any privacy notice was provided (at or before the state's instant)."""
        return bool(self.notices)

    def notices_before(self, mark: Mark, topic: str | None = None) -> list[Notice]:
        """Notices (with ``topic`` if given) whose ``occurred_at`` is strictly earlier than ``mark``'s."""
        return [
            n
            for n in self.notices
            if n.mark.occurred_at < mark.occurred_at and (topic is None or topic in n.topics)
        ]
