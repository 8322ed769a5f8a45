"""Art 13/14 notice obligations (spec 6.9) for the whole fleet at any ``as_of``, without a store replay.

The view keeps, per envelope subject, the non-personal skeleton of exactly the facts
``evaluate_notices`` reads: Art 14 collections (source ``public_source``/``third_party``), communications
(``DataUsed`` with a channel), disclosures and ``PrivacyNoticeProvided``. Merges are resolved when a
query runs (they can change after a row was written), and the pure rule then runs once per resolved
subject on the rebuilt facts, so the answer is the rule's answer on the full history.

The mechanism (shared with the retention view) is ``projections.subject_facts.SubjectFactsView``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ledger.domain.facts import Fact
from ledger.domain.obligations import ART14_SOURCE_TYPES, NoticeRow, evaluate_notices
from ledger.store.dialect import SqlCursor
from projections.base import skeleton
from projections.reading import ReadContext
from projections.subject_facts import SubjectFactsView

__all__ = ["NoticesView", "list_notices"]

_DISCLOSURES = frozenset({"DataShared", "TransferredInternationally"})
# The payload fields ``keep`` reads, by event type (the events it keeps).
_READ: dict[str, tuple[str, ...]] = {
    "DataCollected": ("source", "art14_exemption"),
    "DataUsed": ("channel",),
    "PrivacyNoticeProvided": ("article", "notice_version"),
    **{kind: () for kind in _DISCLOSURES},
}


class NoticesView(SubjectFactsView):
    """Art 14 collections (the anchors), communications, disclosures and notices, per envelope subject."""

    name: ClassVar[str] = "notices"

    def keep(self, fact: Fact) -> tuple[bool, dict[str, Any]] | None:
        """The facts ``evaluate_notices`` reads, trimmed to the fields it reads."""
        kind = fact.event_type
        read = _READ.get(kind)
        if read is None:
            return None
        payload = fact.payload
        if "enc" in payload and "kid" in payload:
            p = skeleton(payload)  # (never so: a payload is not an envelope; kept exact all the same)
        else:
            # Only the fields read, copied without envelopes (skeleton works field by field).
            p = skeleton({k: payload[k] for k in read if k in payload})
        if kind == "DataCollected":
            source = p.get("source")
            source_type = source.get("type") if isinstance(source, dict) else None
            if source_type not in ART14_SOURCE_TYPES:
                return None
            kept: dict[str, Any] = {"source": {"type": source_type}}
            if p.get("art14_exemption") is not None:
                kept["art14_exemption"] = p["art14_exemption"]
            return True, kept
        if kind == "DataUsed":
            return None if p.get("channel") is None else (False, {"channel": p["channel"]})
        if kind in _DISCLOSURES:
            return False, {}
        if kind == "PrivacyNoticeProvided":
            return False, {k: p[k] for k in ("article", "notice_version") if k in p}
        return None


def list_notices(
    cur: SqlCursor, rctx: ReadContext, *, subject: str | None = None, status: str | None = None
) -> list[NoticeRow]:
    """The 6.9 rows at ``rctx.as_of``, by resolved subject then collection (business order).

    ``subject`` (any id of a resolution set) limits the rows to that set; ``status`` to one status.
    """
    rows: list[NoticeRow] = []
    for survivor, facts in NoticesView().facts_by_subject(cur, rctx, subject).items():
        rows += evaluate_notices(facts, rctx.as_of, subject_id=survivor)
    return [r for r in rows if status is None or r.status == status]
