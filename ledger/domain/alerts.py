"""The alert engine: the alert set implied by one subject's facts, and its history in append order.

* ``evaluate_subject``: the event-triggered alerts (A1-A15, A22-A24) implied by a set of facts. Each rule is
  evaluated against the state at the triggering fact's ``occurred_at``, folded from every fact at or before
  that instant in business order (``occurred_at``, then ``seq``).
* ``alert_history``: spec section 2, Recomputation. After appending fact k (facts read in ``seq`` order)
  the alert set from facts 1..k is compared with the set from 1..k-1: new alerts are ``RAISED``, vanished
  ones ``RETRACTED`` (never deleted), and alerts whose content (related ids, message, subject) changed are
  ``UPDATED``. ``detected_at`` is the ``recorded_at`` of the fact whose append first made the alert true;
  an alert retracted and later raised again keeps that first ``detected_at`` (its id never changes, so the
  view row keeps one detection instant; the re-raise itself is visible as a new ``RAISED`` change).
* ``IncrementalAlerts``: the same history, computed fact by fact without re-folding from the start: only
  triggers at or after the appended fact's ``occurred_at`` can change, and the fold resumes from a snapshot.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from ledger.domain.alert_model import Alert
from ledger.domain.codes import CodeLists
from ledger.domain.facts import Fact, business_order
from ledger.domain.rules import alerts_for, can_trigger
from ledger.domain.rules_base import RuleInput, triggering_event_id
from ledger.domain.subject_state import SubjectState

__all__ = [
    "RAISED",
    "RETRACTED",
    "UPDATED",
    "AlertChange",
    "IncrementalAlerts",
    "alert_history",
    "evaluate_subject",
    "event_annotations",
    "triggering_event_id",
]

RAISED: Final = "RAISED"
RETRACTED: Final = "RETRACTED"
UPDATED: Final = "UPDATED"


@dataclass(frozen=True)
class AlertChange:
    """One change of the alert set caused by appending the fact ``seq`` (recorded at ``recorded_at``).

    ``alert`` is the alert as it now stands (for ``RETRACTED``: as it stood before). ``detected_at`` is the
    ``recorded_at`` of the fact whose append first made the alert true.
    """

    seq: int
    recorded_at: datetime
    alert: Alert
    change: str
    detected_at: datetime


_OnGroup = Callable[[datetime, int, SubjectState], None]  # (instant, index of its first fact, state before)


def _run(
    state: SubjectState,
    facts: Sequence[Fact],
    start: int,
    codes: CodeLists,
    subject_id: str,
    on_group: _OnGroup | None = None,
) -> list[tuple[datetime, Alert]]:
    """Fold ``facts[start:]`` (business order) into ``state``; judge each instant after its whole group."""
    out: list[tuple[datetime, Alert]] = []
    i, n = start, len(facts)
    while i < n:
        instant = facts[i].occurred_at
        if on_group is not None:
            on_group(instant, i, state)
        j = i
        arrivals = []
        while j < n and facts[j].occurred_at == instant:
            arrivals.append(state.apply(facts[j], codes))
            j += 1
        for fact, arrival in zip(facts[i:j], arrivals, strict=True):
            if can_trigger(fact.event_type):
                given = RuleInput(fact, state, arrival, codes, subject_id)
                out.extend((instant, a) for a in alerts_for(given))
        i = j
    return out


def evaluate_subject(facts: Iterable[Fact], codes: CodeLists, *, resolved_subject_id: str) -> list[Alert]:
    """The event-triggered alerts implied by the facts of one resolved subject, in order of trigger."""
    ordered = business_order(list(facts))
    return [a for _, a in _run(SubjectState(), ordered, 0, codes, resolved_subject_id)]


def event_annotations(facts: Iterable[Fact], codes: CodeLists) -> dict[str, list[str]]:
    """Anomaly annotations of spec 3.6 these rules own, by event id.

    ``DUPLICATE_SUBJECT_REGISTRATION``: a SubjectRegistered for an envelope subject that already has one
    earlier in business order. ``CONSENT_ID_MISMATCH``: a ConsentWithdrawn with no earlier ConsentGiven for
    its purpose, or whose ``consent_id`` differs from that of the latest earlier ConsentGiven.
    """
    state = SubjectState()
    out: dict[str, list[str]] = {}
    for fact in business_order(list(facts)):
        found = state.apply(fact, codes).annotations
        if found:
            out[fact.event_id] = list(found)
    return out


def _diff(before: Mapping[str, Alert], after: Mapping[str, Alert]) -> list[tuple[Alert, str]]:
    if not before and not after:
        return []  # the usual append: no alert before or after it in the re-judged range
    changes = [(a, RETRACTED) for aid, a in before.items() if aid not in after]
    for aid, alert in after.items():
        old = before.get(aid)
        if old is None:
            changes.append((alert, RAISED))
        elif old != alert:
            changes.append((alert, UPDATED))
    changes.sort(key=lambda c: (c[0].event_occurred_at or "", c[0].trigger_id, c[0].code))
    return changes


class _Detections:
    """First detection instant per alert id, and the change records of one append."""

    def __init__(self) -> None:
        self.first: dict[str, datetime] = {}

    def record(
        self, fact: Fact, before: Mapping[str, Alert], after: Mapping[str, Alert]
    ) -> list[AlertChange]:
        out = []
        for alert, change in _diff(before, after):
            detected = self.first.setdefault(alert.alert_id, fact.recorded_at)
            out.append(AlertChange(fact.seq, fact.recorded_at, alert, change, detected))
        return out


def alert_history(
    facts_in_seq_order: Sequence[Fact], codes: CodeLists, resolved_subject_id: str
) -> list[AlertChange]:
    """The alert history by definition (spec section 2): compare the sets from facts 1..k and 1..k-1.

    Quadratic: the reference that ``IncrementalAlerts`` must equal; use that for long streams.
    """
    detections = _Detections()
    out: list[AlertChange] = []
    before: dict[str, Alert] = {}
    for k in range(1, len(facts_in_seq_order) + 1):
        found = evaluate_subject(facts_in_seq_order[:k], codes, resolved_subject_id=resolved_subject_id)
        after = {a.alert_id: a for a in found}
        out.extend(detections.record(facts_in_seq_order[k - 1], before, after))
        before = after
    return out


class IncrementalAlerts:
    """``alert_history`` computed as facts are appended one by one (in ``seq`` order).

    Keeps the facts in business order, the fold state after every fact (the head), where the last instant
    begins (the tail), a snapshot of the state before every ``snapshot_every``-th instant, and the
    current alerts by trigger instant. A fact later than every other is folded onto the head; one at the
    last instant re-folds that instant from the tail (its state folded again from the latest snapshot);
    a late one re-folds from the latest snapshot at or before its instant. Only triggers from there on
    are re-evaluated, so an in-order append costs one instant and a late one the facts after it (plus at
    most ``snapshot_every`` instants).
    """

    def __init__(self, codes: CodeLists, resolved_subject_id: str, *, snapshot_every: int = 16) -> None:
        if snapshot_every < 1:
            raise ValueError("snapshot_every must be at least 1")
        self._codes = codes
        self._subject_id = resolved_subject_id
        self._every = snapshot_every
        self._facts: list[Fact] = []
        self._keys: list[tuple[datetime, int]] = []
        self._snap_instants: list[datetime] = []
        self._snaps: list[tuple[int, SubjectState]] = []  # (index of the group start, state before it)
        self._head: SubjectState | None = None  # state after every fact
        # The last instant, the index of its first fact and the cadence there; the state before it is
        # folded again from a snapshot when needed (rarely: a fact tied with the last instant), not
        # copied on every append.
        self._tail: tuple[datetime, int, int] | None = None
        self._seen = 0  # instants folded since the latest snapshot
        self._instants: list[datetime] = []  # trigger instants that have alerts, ascending
        self._alerts: dict[datetime, dict[str, Alert]] = {}
        self._detections = _Detections()
        self._last_seq = 0

    @property
    def alerts(self) -> list[Alert]:
        """The current alert set, in business order of trigger (as ``evaluate_subject`` returns it)."""
        return [a for instant in self._instants for a in self._alerts[instant].values()]

    def append(self, fact: Fact) -> list[AlertChange]:
        """Add the next stored fact (``seq`` must grow) and return the changes it causes."""
        if fact.seq <= self._last_seq:
            raise ValueError(f"fact seq {fact.seq} is not after {self._last_seq}")
        self._last_seq = fact.seq
        resume = self._resume_point(fact.occurred_at)
        position = bisect_right(self._keys, fact.order_key)
        self._facts.insert(position, fact)
        self._keys.insert(position, fact.order_key)
        before = self._pop_alerts(resume.instant)
        after: dict[str, Alert] = {}
        self._seen = resume.seen
        state = resume.state
        for instant, alert in _run(
            state, self._facts, resume.index, self._codes, self._subject_id, self._on_group
        ):
            group = self._alerts.get(instant)
            if group is None:
                group = self._alerts[instant] = {}
                self._instants.append(instant)
            group[alert.alert_id] = alert
            after[alert.alert_id] = alert
        self._head = state
        return self._detections.record(fact, before, after)

    def _resume_point(self, instant: datetime) -> _Resume:
        """Where to resume the fold for a fact at ``instant`` (computed before it is inserted)."""
        last = self._keys[-1][0] if self._keys else None
        if self._head is not None and last is not None and instant > last:
            return _Resume(instant, len(self._facts), self._head, self._seen)
        if self._tail is not None and instant == self._tail[0]:
            return self._tail_resume(*self._tail)
        # Snapshots taken before a later instant have folded without this fact: drop them.
        keep = bisect_right(self._snap_instants, instant)
        del self._snap_instants[keep:], self._snaps[keep:]
        if not self._snaps:
            return _Resume(None, 0, SubjectState(), 0)
        index, base = self._snaps[-1]
        return _Resume(self._snap_instants[-1], index, base.copy(), 0)

    def _tail_resume(self, instant: datetime, index: int, seen: int) -> _Resume:
        """The state before the group at ``index``, folded from the latest snapshot at or before it."""
        keep = bisect_right(self._snap_instants, instant)
        if keep:
            start, base = self._snaps[keep - 1]
            state = base.copy()
        else:
            start, state = 0, SubjectState()
        for fact in self._facts[start:index]:
            state.apply(fact, self._codes)
        return _Resume(instant, index, state, seen)

    def _pop_alerts(self, since: datetime | None) -> dict[str, Alert]:
        cut = 0 if since is None else bisect_left(self._instants, since)
        popped: dict[str, Alert] = {}
        for instant in self._instants[cut:]:
            popped.update(self._alerts.pop(instant))
        del self._instants[cut:]
        return popped

    def _on_group(self, instant: datetime, index: int, state: SubjectState) -> None:
        if self._seen >= self._every and (not self._snap_instants or instant > self._snap_instants[-1]):
            self._snap_instants.append(instant)
            self._snaps.append((index, state.copy()))
            self._seen = 0
        if self._facts[-1].occurred_at == instant:
            self._tail = (instant, index, self._seen)
        self._seen += 1


@dataclass(frozen=True)
class _Resume:
    """A point to resume the fold: before the instant's group at ``index``, with ``state`` and cadence."""

    instant: datetime | None
    index: int
    state: SubjectState
    seen: int
