"""Spec 6.4 and 6.11: a portability request's row lists ``eligible_items``, the eligible, non-erased
(category, field) pairs at its receipt; other request types carry no such column. Both backends."""

from __future__ import annotations

import json
from typing import Any

from ledger.bootstrap import Ledger
from ledger.domain.timeutil import canonical_timestamp
from ledger.store.messages import Message
from ledger.testing import collected, event, new_id
from projections.service import Projections

S1 = "00000000-0000-4000-8000-0000000000a1"


def _ingest(ledger: Ledger, events: list[dict[str, Any]]) -> None:
    messages = [Message("test", 0, i, event=e, raw=json.dumps(e).encode()) for i, e in enumerate(events)]
    assert ledger.ingest_messages(messages).dead_letters == []


def _request(request_type: str, at: str) -> tuple[str, dict[str, Any]]:
    request_id = new_id()
    payload = {
        "request_id": request_id,
        "request_type": request_type,
        "channel": "email",
        "via_third_party": False,
    }
    return request_id, event("RightsRequestReceived", S1, payload, occurred_at=at)


def _rows(ledger: Ledger, as_of: str) -> dict[str, dict[str, Any]]:
    projections = Projections(ledger.store, ledger.keys, ledger.codes)
    projections.catch_up()
    rows = projections.query("requests", as_of=canonical_timestamp(as_of), include_closed=True)
    return {r["request_id"]: r for r in rows}


def test_a_portability_request_lists_the_items_eligible_at_its_receipt(ledger: Ledger):
    portable, received = _request("portability", "2026-10-05T09:00:00Z")
    access, access_received = _request("access", "2026-10-05T09:00:00Z")
    third_party = {
        "data_items": [{"category": "credit_history", "field": "score", "value": "band-B"}],
        "source": {"type": "third_party", "name": "credit_reference_agency"},
        "purposes": [{"purpose": "agreement_performance", "lawful_basis": "contract"}],
        "processing_means": "automated",
    }
    _ingest(
        ledger,
        [
            collected(
                S1,
                [
                    ("job_title", "title", "Fictional Analyst"),
                    ("contact_details", "email", "pia.port@example.com"),
                ],
                occurred_at="2026-10-01T09:00:00Z",
            ),
            event("DataCollected", S1, third_party, occurred_at="2026-10-02T09:00:00Z"),
            received,
            access_received,
            # Collected after the receipt: not part of what the request covers.
            collected(
                S1, [("postal_address", "line1", "9 Fictional Road")], occurred_at="2026-10-06T09:00:00Z"
            ),
        ],
    )
    rows = _rows(ledger, "2026-10-10T00:00:00Z")
    assert rows[portable]["eligible_items"] == [
        {"category": "contact_details", "field": "email"},
        {"category": "job_title", "field": "title"},
    ]
    assert list(rows[portable])[-1] == "eligible_items"
    assert "eligible_items" not in rows[access]
    assert "pia.port@example.com" not in json.dumps(rows)
    # Non-erased: erasure is never undone by an earlier instant, so an erased item leaves the list.
    assert ledger.erase(S1, ["contact_details"]).dead_letters == []
    after = _rows(ledger, "2026-10-10T00:00:00Z")
    assert after[portable]["eligible_items"] == [{"category": "job_title", "field": "title"}]
