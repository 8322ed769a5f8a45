"""One request stream read in business order: the facts the clock uses and the anomalies of spec 4.4.

The walk decides which events take effect (first closing event, first extension, pauses opened and
closed in turn, identity evidence that follows a request) and annotates the rest; the arithmetic of
section 7.3 lives in ``request_clock``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Final

from ledger.domain.calendar import london_date
from ledger.domain.facts import Fact
from ledger.domain.timeutil import canonical_timestamp

__all__ = [
    "CLOSING_EVENT_TYPES",
    "REQUEST_EVENT_TYPES",
    "EventRef",
    "OpenedPause",
    "RequestHistory",
    "read_history",
]

CLOSING_EVENT_TYPES: Final = frozenset(
    {"RequestFulfilled", "RequestRefused", "RequestWithdrawn", "RequestClosed"}
)
REQUEST_EVENT_TYPES: Final = frozenset(
    {
        "RightsRequestReceived",
        "IdentityVerificationRequested",
        "IdentityEvidenceReceived",
        "IdentityVerified",
        "IdentityVerificationFailed",
        "FeeRequested",
        "FeePaid",
        "ClarificationRequested",
        "ClarificationReceived",
        "RequestExtended",
        *CLOSING_EVENT_TYPES,
    }
)


@dataclass(frozen=True)
class EventRef:
    """A triggering event: its id and business instant (UTC)."""

    event_id: str
    occurred_at: datetime

    @classmethod
    def of(cls, fact: Fact) -> EventRef:
        """The reference to a stored fact."""
        return cls(fact.event_id, fact.occurred_at)


@dataclass
class OpenedPause:
    """A clarification pause as the events opened (and perhaps closed) it."""

    requested: Fact
    received: Fact | None = None


@dataclass
class RequestHistory:
    """The effective events of one request at an instant, and the annotations of the others."""

    receipt: Fact
    annotations: dict[str, str] = field(default_factory=dict)
    pauses: list[OpenedPause] = field(default_factory=list)
    extension: Fact | None = None
    closing: Fact | None = None
    identity_requested: Fact | None = None  # latest IdentityVerificationRequested
    identity_evidence: Fact | None = None  # latest evidence that follows a request
    fee_requested: Fact | None = None  # latest FeeRequested
    fee_paid: Fact | None = None  # latest FeePaid

    @property
    def request_id(self) -> str:
        """The request's id (from the receipt)."""
        return str(self.receipt.payload.get("request_id", ""))

    @property
    def awaiting(self) -> str | None:
        """``AWAITING_IDENTITY`` or ``AWAITING_FEE`` when the clock is stopped for them (spec 7.3)."""
        if self.identity_requested and not _later(self.identity_evidence, self.identity_requested):
            return "AWAITING_IDENTITY"
        if self.fee_requested and not _later(self.fee_paid, self.fee_requested):
            return "AWAITING_FEE"
        return None

    def relevant_date(self, received_date: date) -> date | None:
        """The relevant date R: latest of receipt, identity evidence and fee payment (None if awaiting)."""
        if self.awaiting is not None:
            return None
        dates = [received_date]
        dates += [london_date(f.occurred_at) for f in (self.identity_evidence, self.fee_paid) if f]
        return max(dates)

    @staticmethod
    def notice_sent_at(extension: Fact) -> datetime:
        """``notice_sent_at`` of a ``RequestExtended``, defaulting to its ``occurred_at``."""
        text = extension.payload.get("notice_sent_at")
        return canonical_timestamp(text) if isinstance(text, str) else extension.occurred_at


def _later(fact: Fact | None, than: Fact) -> bool:
    return fact is not None and fact.order_key > than.order_key


def read_history(facts: Sequence[Fact], as_of: datetime) -> RequestHistory | None:
    """Walk one request's facts up to ``as_of`` in business order; None if there is no receipt yet."""
    ordered = sorted(
        (f for f in facts if f.occurred_at <= as_of and f.event_type in REQUEST_EVENT_TYPES),
        key=lambda f: f.order_key,
    )
    receipt = next((f for f in ordered if f.event_type == "RightsRequestReceived"), None)
    if receipt is None:
        return None
    h = RequestHistory(receipt=receipt)
    for f in ordered:
        if f.event_type == "RightsRequestReceived":
            continue  # the receipt itself; a repeated receipt for the same id changes nothing
        if h.closing is not None:
            h.annotations[f.event_id] = "REQUEST_ALREADY_CLOSED"
            continue
        _apply(h, f)
    return h


def _apply(h: RequestHistory, f: Fact) -> None:
    kind = f.event_type
    open_pause = h.pauses[-1] if h.pauses and h.pauses[-1].received is None else None
    if kind in CLOSING_EVENT_TYPES:
        h.closing = f
    elif kind == "IdentityVerificationRequested":
        h.identity_requested = f
    elif kind == "IdentityEvidenceReceived":
        if h.identity_requested is None:
            h.annotations[f.event_id] = "IDENTITY_NOT_REQUESTED"
        else:
            h.identity_evidence = f
    elif kind == "FeeRequested":
        h.fee_requested = f
    elif kind == "FeePaid":
        h.fee_paid = f
    elif kind == "ClarificationRequested":
        if open_pause is not None:
            h.annotations[f.event_id] = "PAUSE_ALREADY_OPEN"
        else:
            h.pauses.append(OpenedPause(requested=f))
    elif kind == "ClarificationReceived":
        if open_pause is None:
            h.annotations[f.event_id] = "CLARIFICATION_NOT_OPEN"
        else:
            open_pause.received = f
    elif kind == "RequestExtended":
        if h.extension is not None:
            h.annotations[f.event_id] = "EXTENSION_ALREADY_APPLIED"
        else:
            h.extension = f
    # IdentityVerified / IdentityVerificationFailed have no clock effect.
