"""What an export reads from the compliance views: derived annotations, alerts, requests, holdings, the
Art 15 access pack (spec 6.12). Every answer comes from the views' own queries (``projections``); this
module only chooses the rows that concern the export's scope and puts the 6.12 keys together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from ledger.domain.alerts import event_annotations
from ledger.domain.codes import CodeLists
from ledger.domain.facts import Fact
from ledger.export.scope import Scope
from ledger.store.dialect import SqlCursor
from projections.reading import ReadContext
from projections.requests import list_requests
from projections.service import Projections

__all__ = ["ScopeViews", "access_pack", "anomalies_by_event"]

RETRACTED = "RETRACTED"
ICO = {
    "authority": "Information Commissioner's Office",
    "country": "GB",
    "website": "https://ico.org.uk/make-a-complaint/",
    "phone": "0303 123 1113",
}


def anomalies_by_event(
    cur: SqlCursor, rctx: ReadContext, scope: Scope, facts: Sequence[Fact], codes: CodeLists
) -> dict[str, list[str]]:
    """The spec 3.6 anomaly codes of each event of the family, by event id (derived, never stored).

    Subject rules (``DUPLICATE_SUBJECT_REGISTRATION``, ``CONSENT_ID_MISMATCH``) over the family's facts in
    business order; request rules (``PAUSE_ALREADY_OPEN`` ...) from each of its requests' histories.
    """
    found = event_annotations(facts, codes)
    rows = list_requests(
        cur,
        rctx.ctx,
        rctx.as_of,
        include_closed=True,
        subject=scope.survivor,
        resolve=rctx.resolve,
        family=rctx.members(scope.survivor),
    )
    for row in rows:
        for event_id, code in row.annotations.items():
            codes_of = found.setdefault(event_id, [])
            if code not in codes_of:
                codes_of.append(code)
    return found


class ScopeViews:
    """The views' answers about the scope's subject, at ``as_of`` (one query each, as ``query`` gives)."""

    def __init__(self, projections: Projections, scope: Scope, as_of: datetime) -> None:
        self.projections = projections
        self.scope = scope
        self.as_of = as_of

    def _query(self, name: str, **filters: Any) -> Any:
        return self.projections.query(name, as_of=self.as_of, subject=self.scope.survivor, **filters)

    def alerts(self, event_ids: Iterable[str]) -> list[dict[str, Any]]:
        """Alerts about the scope, every status (RETRACTED included): a subject's all; a request's or a
        complaint's those raised by its events, or on it (an overdue request, an unacknowledged complaint)."""
        rows: list[dict[str, Any]] = self._query("alerts")
        if self.scope.kind in ("subject", "access_pack"):
            return rows
        wanted = set(event_ids) | {self.scope.id}
        return [a for a in rows if a["triggering_event_id"] in wanted]

    def requests(self, entries: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Request rows (6.4), closed ones too: the subject's, the request's, or (for a complaint) the one
        its ``ComplaintReceived`` among ``entries`` is about."""
        rows: list[dict[str, Any]] = self._query("requests", include_closed=True)
        if self.scope.kind == "request":
            return [r for r in rows if r["request_id"] == self.scope.id]
        if self.scope.kind == "complaint":
            about = {
                (e.get("payload") or {}).get("about_request_id")
                for e in entries
                if e.get("event_type") == "ComplaintReceived"
            }
            return [r for r in rows if r["request_id"] in about]
        return rows

    def complaints(self) -> list[dict[str, Any]]:
        """Complaint rows (6.10): the subject's, or the complaint's."""
        rows: list[dict[str, Any]] = self._query("complaints")
        if self.scope.kind == "complaint":
            return [c for c in rows if c["complaint_id"] == self.scope.id]
        if self.scope.kind == "request":
            return []
        return rows

    def holdings(self) -> dict[str, Any]:
        """What is held on the subject (6.1 inventory)."""
        out: dict[str, Any] = self._query("inventory")
        return out

    def recipients(self) -> list[dict[str, Any]]:
        """Who received the subject's data (6.2 disclosure rows)."""
        out: list[dict[str, Any]] = self._query("disclosures")
        return out

    def retention(self) -> list[dict[str, Any]]:
        """Retention and erasure obligations of the subject (6.7 rows)."""
        out: list[dict[str, Any]] = self._query("retention")
        return out


def access_pack(
    views: ScopeViews,
    holdings: Mapping[str, Any],
    recipients: Sequence[Mapping[str, Any]],
    entries: Sequence[Mapping[str, Any]],
    codes: CodeLists,
    controller: Mapping[str, Any],
) -> dict[str, Any]:
    """The Art 15(1)-(2) supplementary information about a subject (spec 6.12), from the views' rows.

    Each list holds the codes and columns of the view it comes from: purposes, categories and sources
    from the inventory (6.1), recipients and transfers from the disclosure register (6.2), retention
    from 6.7; automated decisions from the subject's ``AutomatedDecisionMade`` events (4.5).
    """
    items = [i for i in holdings.get("items", []) if isinstance(i, Mapping)]
    purposes = {(p["purpose"], p["lawful_basis"]) for i in items for p in i.get("purposes", [])}
    purposes |= {(r["purpose"], r["lawful_basis"]) for r in recipients if r.get("purpose")}
    categories: dict[str, dict[str, Any]] = {}
    for item in items:
        row = categories.setdefault(
            item["category"], {"category": item["category"], "special_category": False, "fields": []}
        )
        row["special_category"] = row["special_category"] or bool(item.get("special_category"))
        row["fields"] = sorted({*row["fields"], item["field"]})
    sources: dict[tuple[str, str], set[str]] = {}
    for item in items:
        for source in item.get("sources", []):
            if source.get("type") != "data_subject":  # Art 15(1)(g): data not collected from the person
                name = next((str(v) for k, v in source.items() if k != "type"), "")
                sources.setdefault((str(source["type"]), name), set()).add(item["category"])
    recipient_rows = {
        r["recipient_id"]: {
            k: r.get(k)
            for k in (
                "recipient_id",
                "recipient_name",
                "recipient_category",
                "recipient_role",
                "recipient_country",
            )
        }
        for r in recipients
    }
    transfers = [
        {
            k: r.get(k)
            for k in (
                "disclosure_event_id",
                "recipient_id",
                "recipient_name",
                "recipient_country",
                "transfer_classification",
                "transfer_mechanism",
                "categories",
            )
        }
        for r in recipients
        if r.get("recipient_country") != "GB"
    ]
    decisions = [
        {"event_id": e["event_id"], "occurred_at": e["occurred_at"], **_decision(e.get("payload"))}
        for e in entries
        if e.get("event_type") == "AutomatedDecisionMade"
    ]
    bases = {basis for _, basis in purposes}
    return {
        "subject_id": views.scope.id,
        "as_of": views.as_of.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "purposes": [{"purpose": p, "lawful_basis": b} for p, b in sorted(purposes)],
        "categories": [categories[c] for c in sorted(categories)],
        "recipients": [recipient_rows[r] for r in sorted(recipient_rows)],
        "recipient_categories": sorted({str(r["recipient_category"]) for r in recipient_rows.values()}),
        "retention": views.retention(),
        "sources": [
            {"type": kind, "name": name, "categories": sorted(cats)}
            for (kind, name), cats in sorted(sources.items())
        ],
        "automated_decisions": decisions,
        "transfers": transfers,
        "rights": _rights(items, bases, decisions, codes, holdings),
        "right_to_complain": {
            **ICO,
            "controller": controller.get("name"),
            "contact": controller.get("contact"),
        },
    }


_DECISION_FIELDS = (
    "decision_id",
    "decision_type",
    "significant",
    "solely_automated",
    "special_category_used",
    "lawful_basis",
    "safeguards_notified",
    "outcome_code",
)


def _decision(payload: Any) -> dict[str, Any]:
    payload = payload if isinstance(payload, Mapping) else {}
    return {k: payload.get(k) for k in _DECISION_FIELDS}


def _rights(
    items: Sequence[Mapping[str, Any]],
    bases: set[str],
    decisions: Sequence[Mapping[str, Any]],
    codes: CodeLists,
    holdings: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """The rights (code list ``right``) and whether each applies to this subject's processing now."""
    consent_given = any(c.get("status") == "GIVEN" for c in holdings.get("consents", []))
    applies = {
        "portability": any(i.get("portability_eligible") for i in items),
        "object": bool(bases & {"legitimate_interests", "public_task", "recognised_legitimate_interest"})
        or any(p in codes.direct_marketing_purposes for i in items for p in _purposes_of(i)),
        "withdraw_consent": "consent" in bases or consent_given,
        "automated_decision_making": any(
            d.get("significant") and d.get("solely_automated") for d in decisions
        ),
    }
    return [{"right": right, "applies": applies.get(right, True)} for right in sorted(codes.codes("right"))]


def _purposes_of(item: Mapping[str, Any]) -> list[str]:
    return [str(p.get("purpose")) for p in item.get("purposes", [])]
