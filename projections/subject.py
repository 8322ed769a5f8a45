"""Per-subject queries: inventory (spec 6.1), consent and preference state (6.3), portability (6.11).

Each query replays the subject's resolution set from the store (``ReadContext.subject_facts``) and folds
it with the pure rules of ``ledger.domain`` at ``rctx.as_of``. Personal values are decrypted here, at read
time, and only for the inventory; a value whose key is gone is ``null`` with ``value_state`` ``erased``
whatever ``as_of`` asks (spec 3.3: erasure is never undone by an earlier instant). The inventory without
values (``values=False``, the staff API's redacted inventory) opens no key: it reads only whether each
value's key still exists.

A subject with no stored event at or before ``as_of`` (in its whole resolution set) is unknown: every
query returns ``{"subject_id": <asked id>, "known": false}`` and nothing else, rather than raising.
Known subjects carry ``"known": true`` beside the spec columns.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ledger.domain.codes import CodeLists
from ledger.domain.consent import ConsentBook, ConsentStatus, consent_purposes, fold_consent
from ledger.domain.facts import Fact
from ledger.domain.inventory import (
    ERASED,
    InventoryItem,
    SubjectInventory,
    build_inventory,
    portability_items,
)
from ledger.store.dialect import SqlCursor
from projections.base import ProjectionError, utc
from projections.reading import ERASED_VALUE, ReadContext
from projections.requests import list_requests

__all__ = ["consent_state", "eligible_items", "portability", "subject_inventory"]


class _Subject:
    """The asked id, its resolution set now, and the set's stored facts (all instants; rules filter)."""

    def __init__(self, rctx: ReadContext, subject_id: str) -> None:
        self.asked = subject_id
        self.resolved = rctx.resolve(subject_id)
        self.members = rctx.members(self.resolved)
        self.facts: list[Fact] = rctx.subject_facts(subject_id)
        self.known = any(f.occurred_at <= rctx.as_of for f in self.facts)

    def header(self) -> dict[str, Any]:
        """The columns every answer starts with."""
        if not self.known:
            return {"subject_id": self.asked, "known": False}
        return {"subject_id": self.asked, "resolved_subject_id": self.resolved, "known": True}


def subject_inventory(
    cur: SqlCursor, rctx: ReadContext, subject_id: str, *, values: bool = True
) -> dict[str, Any]:
    """What is held on the subject at ``rctx.as_of`` (6.1), values decrypted now or reported erased.

    With ``values=False`` no value is read or decrypted and no key is opened: each item's ``value`` is
    ``null`` and a last ``value_withheld`` column is true where the plaintext answer would show one;
    ``value_state`` and everything else are as with values (a key destroyed is seen in the key table),
    except that a ciphertext that would no longer open (edited in the database) is not noticed here:
    ``verify`` reports it. ``open_request_ids`` comes from the rights-request view, which must be kept by
    the same runner.
    """
    subject = _Subject(rctx, subject_id)
    if not subject.known:
        return subject.header()
    codes = rctx.ctx.codes
    inventory = build_inventory(subject.facts, codes, as_of=rctx.as_of)
    if values:
        items = [_item(codes, item, *_value(rctx, item)) for item in inventory.items]
    else:
        states = _states_without_values(rctx, subject.facts, inventory.items)
        items = [_item(codes, item, None, state) for item, state in zip(inventory.items, states, strict=True)]
        for item in items:
            item["value_withheld"] = item["value_state"] != ERASED
    erased = sum(1 for i in items if i["value_state"] == ERASED)
    requests = list_requests(
        cur,
        rctx.ctx,
        rctx.as_of,
        subject=subject.resolved,
        resolve=rctx.resolve,
        family=subject.members,
    )
    return {
        **subject.header(),
        "merged_subject_ids": sorted(subject.members[1:]),
        "roles": list(inventory.roles),
        "erasure_state": "none" if erased == 0 else "full" if erased == len(items) else "partial",
        "items": items,
        "consents": [_consent(c) for c in inventory.consents],
        "dm_suppressed": inventory.dm_suppressed,
        "open_request_ids": sorted(r.request_id for r in requests if not r.is_closed),
        "recipient_ids": list(inventory.recipient_ids),
    }


def consent_state(cur: SqlCursor, rctx: ReadContext, subject_id: str) -> dict[str, Any]:
    """Consent per purpose, preference per marketing channel and DM suppression at ``rctx.as_of`` (6.3).

    ``consents`` lists, sorted by purpose, every purpose with a consent event, every purpose the register
    documents consent as a basis for, and every purpose the subject's data was processed for under basis
    consent (``consent_purposes``; ``NONE`` where there is no consent event). ``marketing_preferences``
    lists every marketing channel; ``dm_suppression`` every (direct-marketing purpose, channel) pair with
    the blocking events that suppress it.
    """
    subject = _Subject(rctx, subject_id)
    if not subject.known:
        return subject.header()
    codes = rctx.ctx.codes
    book = fold_consent(subject.facts, codes, rctx.as_of)
    channels = sorted(codes.codes("marketing_channel"))
    return {
        **subject.header(),
        "consents": [
            _consent(c) for c in book.statuses(rctx.as_of, consent_purposes(subject.facts, codes, rctx.as_of))
        ],
        "marketing_preferences": [
            {
                "channel": p.channel,
                "marketing_preference": p.preference,
                "changed_at": _instant(p.changed_at),
            }
            for p in book.preferences(channels)
        ],
        "dm_suppression": list(_suppression(book, codes, channels)),
        "dm_suppressed": book.dm_suppressed(codes),
    }


def portability(cur: SqlCursor, rctx: ReadContext, subject_id: str) -> dict[str, Any]:
    """The Art 20 eligible, non-erased (category, field) items at ``rctx.as_of`` (6.11), sorted."""
    subject = _Subject(rctx, subject_id)
    if not subject.known:
        return subject.header()
    return {**subject.header(), "eligible_items": eligible_items(subject.facts, rctx.ctx.codes, rctx.as_of)}


def eligible_items(facts: list[Fact], codes: CodeLists, at: datetime) -> list[dict[str, str]]:
    """The Art 20 eligible, non-erased (category, field) items of a subject's ``facts`` at ``at`` (6.11).

    The ``portability`` query asks at its ``as_of``; a portability request's row (6.4) at its receipt.
    """
    inventory: SubjectInventory = build_inventory(facts, codes, as_of=at)
    return [{"category": c, "field": f} for c, f in portability_items(inventory)]


# -- rendering ---------------------------------------------------------------------------------------


def _item(codes: CodeLists, item: InventoryItem, value: Any, state: str) -> dict[str, Any]:
    return {
        "category": item.category,
        "field": item.field,
        "value": value,
        "value_state": state,
        "special_category": item.special_category,
        "first_collected_at": utc(item.first_collected_at),
        "last_changed_at": utc(item.last_changed_at),
        "sources": [_source(codes, kind, name) for kind, name in item.sources],
        "purposes": [{"purpose": p, "lawful_basis": b} for p, b in item.purposes],
        "restricted": item.restricted,
        "on_legal_hold": item.on_legal_hold,
        "retain_until": item.retain_until.isoformat() if item.retain_until else None,
        "portability_eligible": item.portability_eligible,
    }


def _value(rctx: ReadContext, item: InventoryItem) -> tuple[Any, str]:
    """The plaintext and state of an item: never decrypted once its key version is known shredded."""
    if item.value_state == ERASED:
        return None, ERASED
    ref = item.value_ref
    value, state = rctx.value(ref.event_id, "/payload/" + "/".join(str(step) for step in ref.path))
    if state == ERASED_VALUE:
        return None, ERASED
    if state != "available":
        # Ids and codes only: never a value in an error text.
        raise ProjectionError(f"item {item.category}/{item.field} of event {ref.event_id} is {state}")
    return value, item.value_state


def _states_without_values(rctx: ReadContext, facts: list[Fact], items: Iterable[InventoryItem]) -> list[str]:
    """The ``value_state`` of each item as :func:`_value` gives it, without reading a key or a value.

    The stored envelope comes from the subject's facts (the same hashed records); whether its key still
    exists comes from the key table (``ReadContext.live_kids``), as ``_value`` would find it.
    """
    by_event = {f.event_id: f for f in facts}
    envelopes: list[tuple[InventoryItem, Any]] = []
    for item in items:
        if item.value_state == ERASED:
            envelopes.append((item, None))
            continue
        ref = item.value_ref
        fact = by_event.get(ref.event_id)
        node: Any = None if fact is None else fact.payload
        for step in ref.path:
            if node is None:
                break
            node = node[int(step)] if isinstance(node, list) else node.get(str(step))
        if node is None:
            raise ProjectionError(f"item {item.category}/{item.field} of event {ref.event_id} is missing")
        envelopes.append((item, node))
    kids = {str(n["kid"]) for _, n in envelopes if _is_envelope(n)}
    live = rctx.live_kids(kids) if kids else set()
    states = []
    for item, node in envelopes:
        if item.value_state == ERASED or (_is_envelope(node) and str(node["kid"]) not in live):
            states.append(ERASED)
        else:
            states.append(item.value_state)
    return states


def _is_envelope(node: Any) -> bool:
    return isinstance(node, dict) and "enc" in node and "kid" in node


def _source(codes: CodeLists, kind: str, name: str | None) -> dict[str, str]:
    rule = codes.source_rules.get(kind)
    out = {"type": kind}
    if rule is not None and name is not None:
        out[rule.field] = name
    return out


def _consent(c: ConsentStatus) -> dict[str, Any]:
    return {
        "purpose": c.purpose,
        "status": c.status,
        "consent_id": c.consent_id,
        "given_at": _instant(c.given_at),
        "withdrawn_at": _instant(c.withdrawn_at),
        "method": c.method,
        "notice_version": c.notice_version,
        "explicit": c.explicit,
        "expires_at": _instant(c.expires_at),
    }


def _suppression(book: ConsentBook, codes: CodeLists, channels: list[str]) -> Iterable[dict[str, Any]]:
    for purpose in sorted(codes.direct_marketing_purposes):
        for channel in channels:
            found = book.suppression(purpose, channel, codes)
            yield {
                "purpose": purpose,
                "channel": channel,
                "suppressed": found.suppressed,
                "blocking_event_ids": list(found.blocking_event_ids),
            }


def _instant(value: datetime | None) -> str | None:
    return utc(value) if value is not None else None
