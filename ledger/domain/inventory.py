"""The non-personal part of the subject inventory row (spec 6.1) and portability eligibility (6.11).

Items carry a reference to the ciphertext of their latest value (event id, JSON path, key id), never a
value: the caller decrypts at read time. ``value_state`` follows the key as it is *now* (spec section 2:
erasure cannot be reversed by an earlier ``as_of``), so it reads KeyShredded and ErasureDeferred facts
whatever their instant; everything else is as of ``as_of``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final

from ledger.domain.codes import CodeLists
from ledger.domain.consent import ConsentStatus, MarketingPreference, consent_purposes
from ledger.domain.facts import Fact, business_order
from ledger.domain.subject_state import ALL, SubjectState, categories_of
from ledger.domain.timeutil import parse_date

__all__ = [
    "AVAILABLE",
    "ERASED",
    "ERASURE_DEFERRED",
    "InventoryItem",
    "SubjectInventory",
    "ValueRef",
    "build_inventory",
    "portability_items",
]

AVAILABLE: Final = "available"
ERASED: Final = "erased"
ERASURE_DEFERRED: Final = "erasure_deferred"
_PROVIDED_SOURCES: Final = frozenset({"data_subject", "observed"})  # D14
_PORTABLE_BASES: Final = frozenset({"consent", "contract"})
_DISCLOSURES: Final = frozenset({"DataShared", "TransferredInternationally"})


@dataclass(frozen=True)
class ValueRef:
    """Where the latest value's ciphertext is: the event, the JSON path in its payload, the key id."""

    event_id: str
    path: tuple[str | int, ...]
    kid: str | None


@dataclass(frozen=True)
class InventoryItem:
    """One (category, field) row of spec 6.1, without its value. Sources and purposes are sorted."""

    category: str
    field: str
    value_ref: ValueRef
    value_state: str
    special_category: bool
    first_collected_at: datetime
    last_changed_at: datetime
    sources: tuple[tuple[str, str | None], ...]  # (type, name or channel)
    purposes: tuple[tuple[str, str], ...]  # (purpose, lawful_basis)
    restricted: bool
    on_legal_hold: bool
    retain_until: date | None
    portability_eligible: bool


@dataclass(frozen=True)
class SubjectInventory:
    """The non-personal inventory of one resolved subject at ``as_of`` (ids are the caller's)."""

    roles: tuple[str, ...]
    erasure_state: str
    items: tuple[InventoryItem, ...]
    consents: tuple[ConsentStatus, ...]
    marketing_preferences: tuple[MarketingPreference, ...]
    dm_suppressed: bool
    recipient_ids: tuple[str, ...]


@dataclass
class _Item:
    category: str
    name: str
    ref: ValueRef
    ref_seq: int
    ref_subject: str | None
    first: datetime
    last: datetime
    sources: set[tuple[str, str | None]] = field(default_factory=set)
    purposes: set[tuple[str, str]] = field(default_factory=set)
    portable: bool = False


class _Keys:
    """Shredded key versions and deferred erasures, from every fact whatever its instant."""

    def __init__(self, facts: Iterable[Fact]) -> None:
        self.shredded: dict[tuple[str | None, str], list[tuple[int, frozenset[int]]]] = {}
        self.deferred: list[tuple[int, frozenset[str]]] = []
        for f in facts:
            if f.event_type == "KeyShredded":
                versions = f.payload.get("key_versions")
                got = frozenset(int(v) for v in versions) if isinstance(versions, list) else frozenset()
                self.shredded.setdefault((f.subject_id, str(f.payload.get("category"))), []).append(
                    (f.seq, got)
                )
            elif f.event_type == "ErasureDeferred":
                self.deferred.append((f.seq, categories_of(f.payload)))

    def state(self, item: _Item) -> str:
        subject, category, version = _key_of(item)
        for seq, versions in self.shredded.get((subject, category), ()):
            # A known version is erased if listed; an unreadable kid is erased by any later shred.
            if (version in versions) if version is not None else seq > item.ref_seq:
                return ERASED
        if any(seq > item.ref_seq and (ALL in cats or item.category in cats) for seq, cats in self.deferred):
            return ERASURE_DEFERRED
        return AVAILABLE


def _key_of(item: _Item) -> tuple[str | None, str, int | None]:
    """(key subject, category, version) of the item's latest value; version None if the kid is unreadable."""
    kid = item.ref.kid  # the ledger's key id format: "<subject_id>/<category>/v<version>"
    if kid is not None:
        parts = kid.split("/")
        if len(parts) == 3 and parts[2].startswith("v") and parts[2][1:].isdigit():
            return parts[0], parts[1], int(parts[2][1:])
    return item.ref_subject, item.category, None


def _collect(items: dict[tuple[str, str], _Item], fact: Fact, codes: CodeLists) -> None:
    p = fact.payload
    rectified = fact.event_type == "DataRectified"
    list_name, value_name = ("items", "new_value") if rectified else ("data_items", "value")
    raw = p.get(list_name)
    raw_source = p.get("source")
    source: Mapping[str, Any] = raw_source if isinstance(raw_source, Mapping) else {}
    source_type = str(source.get("type"))
    rule = codes.source_rules.get(source_type)
    src = (source_type, str(source[rule.field]) if rule is not None and rule.field in source else None)
    entries = [e for e in p.get("purposes") or () if isinstance(e, Mapping)]
    purposes = {(str(e.get("purpose")), str(e.get("lawful_basis"))) for e in entries}
    portable = (
        source_type in _PROVIDED_SOURCES
        and any(b in _PORTABLE_BASES for _, b in purposes)
        and p.get("processing_means") == "automated"
    )
    for index, entry in enumerate(raw if isinstance(raw, list) else ()):
        if not isinstance(entry, Mapping):
            continue
        category, name = str(entry.get("category")), str(entry.get("field"))
        envelope = entry.get(value_name)
        kid = envelope.get("kid") if isinstance(envelope, Mapping) else None
        ref = ValueRef(fact.event_id, (list_name, index, value_name), kid if isinstance(kid, str) else None)
        item = items.get((category, name))
        if item is None:
            item = items[(category, name)] = _Item(
                category, name, ref, fact.seq, fact.subject_id, fact.occurred_at, fact.occurred_at
            )
        else:
            item.ref, item.ref_seq, item.ref_subject, item.last = (
                ref,
                fact.seq,
                fact.subject_id,
                fact.occurred_at,
            )
            if not rectified and item.first > fact.occurred_at:
                item.first = fact.occurred_at
        if not rectified:
            item.sources.add(src)
            item.purposes |= purposes
            item.portable = item.portable or portable


def build_inventory(facts: Iterable[Fact], codes: CodeLists, *, as_of: datetime) -> SubjectInventory:
    """The non-personal inventory row of one resolved subject's ``facts`` at ``as_of`` (spec 6.1, 6.11).

    Items are sorted by category then field; roles and recipient ids are sorted. An item is
    ``portability_eligible`` when one of its collections meets all three conditions of 6.11.
    """
    every = list(facts)
    keys = _Keys(every)
    state = SubjectState()
    items: dict[tuple[str, str], _Item] = {}
    retain: dict[str, date] = {}
    recipients: set[str] = set()
    for fact in business_order([f for f in every if f.occurred_at <= as_of]):
        state.apply(fact, codes)
        if fact.event_type in ("DataCollected", "DataRectified"):
            _collect(items, fact, codes)
        elif fact.event_type == "RetentionScheduleAssigned":
            until = _date(fact.payload.get("retain_until"))
            for category in categories_of(fact.payload):
                if until is not None:
                    retain[category] = until
        elif fact.event_type in _DISCLOSURES:
            recipient = fact.payload.get("recipient")
            if isinstance(recipient, Mapping) and recipient.get("recipient_id") is not None:
                recipients.add(str(recipient["recipient_id"]))
    rows = tuple(_row(items[k], keys, state, codes, retain) for k in sorted(items))
    erased = sum(1 for r in rows if r.value_state == ERASED)
    erasure_state = "none" if erased == 0 else "full" if erased == len(rows) else "partial"
    return SubjectInventory(
        roles=tuple(sorted(state.roles)),
        erasure_state=erasure_state,
        items=rows,
        consents=tuple(state.consent.statuses(as_of, consent_purposes(every, codes, as_of))),
        marketing_preferences=tuple(state.consent.preferences(codes.codes("marketing_channel"))),
        dm_suppressed=state.consent.dm_suppressed(codes),
        recipient_ids=tuple(sorted(recipients)),
    )


def _row(
    item: _Item, keys: _Keys, state: SubjectState, codes: CodeLists, retain: dict[str, date]
) -> InventoryItem:
    active = [r for r in state.active_restrictions() if r.covers((item.category,), None)]
    return InventoryItem(
        category=item.category,
        field=item.name,
        value_ref=item.ref,
        value_state=keys.state(item),
        special_category=codes.is_special(item.category),
        first_collected_at=item.first,
        last_changed_at=item.last,
        sources=tuple(sorted(item.sources, key=lambda s: (s[0], s[1] or ""))),
        purposes=tuple(sorted(item.purposes)),
        restricted=bool(active),
        on_legal_hold=bool(state.holds_covering((item.category,))),
        retain_until=retain.get(item.category),
        portability_eligible=item.portable,
    )


def _date(value: Any) -> date | None:
    try:
        return parse_date(value) if isinstance(value, str) else None
    except ValueError:
        return None


def portability_items(inventory: SubjectInventory) -> list[tuple[str, str]]:
    """``eligible_items`` of a portability request (6.11): eligible, non-erased, sorted (category, field)."""
    return sorted(
        (i.category, i.field) for i in inventory.items if i.portability_eligible and i.value_state != ERASED
    )
