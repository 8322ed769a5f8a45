"""What every event-triggered rule receives, and how it builds an alert (spec section 5).

Trigger ids: the triggering event id; for a rule evaluated per purpose entry of a DataCollected (A1, A2,
A3) it is ``f"{event_id}#{index}"`` with ``index`` the 0-based position of the entry in the stored
``purposes`` list, so one event can raise the same code once per entry with distinct, stable alert ids.
``triggering_event_id`` recovers the event id from a trigger id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

from ledger.domain.alert_model import Alert
from ledger.domain.calendar import utc_text
from ledger.domain.codes import CodeLists
from ledger.domain.facts import Fact
from ledger.domain.subject_state import Arrival, SubjectState

__all__ = [
    "ENTRY_SEPARATOR",
    "Rule",
    "RuleInput",
    "make_alert",
    "triggering_event_id",
    "utc_text",
]

ENTRY_SEPARATOR: Final = "#"


def triggering_event_id(trigger_id: str) -> str:
    """The event id part of a trigger id (``event_id`` or ``event_id#index``)."""
    return trigger_id.split(ENTRY_SEPARATOR, 1)[0]


@dataclass(frozen=True)
class RuleInput:
    """One triggering fact with the subject's state at its instant and what it met on arrival."""

    fact: Fact
    state: SubjectState
    arrival: Arrival
    codes: CodeLists
    subject_id: str


Rule = Callable[[RuleInput], Iterable[Alert]]


def make_alert(
    code: str,
    given: RuleInput,
    detail: str,
    *,
    related: Iterable[str] = (),
    entry: int | None = None,
) -> Alert:
    """An alert of ``code`` triggered by ``given.fact`` (entry ``entry`` of its purposes, if given).

    ``detail`` MUST be made of codes and ids only. ``related`` is de-duplicated, order kept.
    """
    fact = given.fact
    trigger = fact.event_id if entry is None else f"{fact.event_id}{ENTRY_SEPARATOR}{entry}"
    where = fact.event_type if entry is None else f"{fact.event_type} purpose entry {entry}"
    return Alert(
        code=code,
        trigger_id=trigger,
        subject_id=given.subject_id,
        related_event_ids=tuple(dict.fromkeys(r for r in related if r != fact.event_id)),
        event_occurred_at=utc_text(fact.occurred_at),
        message=f"{code}: {where} {fact.event_id}: {detail}",
    )
