"""What the append path takes in (messages from a file or a Kafka partition) and what it reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ledger.errors import EventRejected

__all__ = ["BatchResult", "DeadLetter", "ErasureOutcome", "Message"]


@dataclass(frozen=True)
class Message:
    """One incoming message: its decoded JSON form (or the decode error) and where it came from."""

    topic: str
    partition: int | None
    offset: int | None
    event: dict[str, Any] | None = None
    error: EventRejected | None = None
    raw: bytes | None = None


@dataclass(frozen=True)
class DeadLetter:
    """A rejected message as the dead-letter table keeps it: codes and ids, never values."""

    dlq_id: str
    topic: str
    partition: int | None
    offset: int | None
    event_id: str | None
    event_type: str | None
    error_code: str
    error_path: str
    error_message: str


@dataclass
class ErasureOutcome:
    """What one ``DataErased`` did, per category (spec 5.1), for ``privacy-ledger erase`` to report.

    ``subjects`` is the erased subject and every subject merged into it: erasure covers them all.
    A category is ``erased`` (key versions destroyed, per subject), ``deferred`` (the legal holds that
    block it; re-run when they are released) or ``nothing_held`` (no live key for it).
    """

    event_id: str
    subject_id: str
    subjects: list[str]
    requested: list[str]
    erased: dict[str, dict[str, list[int]]] = field(default_factory=dict)  # category -> subject -> versions
    deferred: dict[str, list[str]] = field(default_factory=dict)  # category -> hold ids

    def categories(self) -> dict[str, dict[str, Any]]:
        """The outcome of each category, by name (``*`` alone when a full erasure found no key)."""
        names = set(self.erased) | set(self.deferred) | {c for c in self.requested if c != "*"}
        out: dict[str, dict[str, Any]] = {}
        for name in sorted(names):
            if name in self.deferred:
                out[name] = {"outcome": "deferred", "hold_ids": sorted(self.deferred[name])}
            elif name in self.erased:
                out[name] = {"outcome": "erased", "key_versions": dict(sorted(self.erased[name].items()))}
            else:
                out[name] = {"outcome": "nothing_held"}
        return out or {"*": {"outcome": "nothing_held"}}

    def report(self) -> dict[str, Any]:
        """JSON-able form: the subjects covered and each category's outcome."""
        return {
            "subject_id": self.subject_id,
            "merged_subject_ids": [s for s in self.subjects if s != self.subject_id],
            "categories": self.categories(),
        }


@dataclass
class BatchResult:
    """Counts of one appended batch (spec 3.5 point 5 conservation: consumed = the sum of the rest)."""

    consumed: int = 0
    stored: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    system_events: int = 0
    parked: int = 0  # change in the number of parked messages (released or expired ones subtract)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    erasures: list[ErasureOutcome] = field(default_factory=list)
    first_seq: int | None = None
    last_seq: int | None = None

    def add(self, other: BatchResult) -> None:
        """Accumulate another batch's counts into this one."""
        self.consumed += other.consumed
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.dead_lettered += other.dead_lettered
        self.system_events += other.system_events
        self.parked += other.parked
        self.dead_letters.extend(other.dead_letters)
        self.erasures.extend(other.erasures)
        if other.first_seq is not None and self.first_seq is None:
            self.first_seq = other.first_seq
        if other.last_seq is not None:
            self.last_seq = other.last_seq

    def summary(self) -> dict[str, int]:
        """The counts as a JSON-able dict."""
        return {
            "consumed": self.consumed,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "rejected": self.dead_lettered,
            "system_events": self.system_events,
            "parked": self.parked,
        }
