"""Spec 4.3 (SubjectsMerged) seen by a long-running reader: ``serve`` and ``project`` are separate
processes, so a merge stored after a reader started must still be used by that reader's next answer
(a subject's inventory under its survivor; the merged subject's requests in the survivor's family)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ledger.bootstrap import Ledger
from ledger.store.messages import Message
from ledger.testing import collected, event
from projections.service import Projections

S1, S2 = "00000000-0000-4000-8000-0000000000a1", "00000000-0000-4000-8000-0000000000a2"
AS_OF = datetime.fromisoformat("2026-10-05T00:00:00+00:00")


def _ingest(ledger: Ledger, events: list[dict[str, Any]], first: int = 0) -> None:
    messages = [
        Message("test", 0, first + i, event=e, raw=json.dumps(e).encode()) for i, e in enumerate(events)
    ]
    assert ledger.ingest_messages(messages).dead_letters == []


def test_a_reader_started_before_a_merge_answers_with_the_merge(ledger: Ledger):
    _ingest(
        ledger,
        [
            collected(
                S1,
                [("contact_details", "email", "ada.before@example.com")],
                occurred_at="2026-10-01T09:00:00Z",
            ),
            collected(
                S2, [("contact_details", "phone", "+44 20 7946 0002")], occurred_at="2026-10-02T09:00:00Z"
            ),
        ],
    )
    reader = Projections(ledger.store, ledger.keys, ledger.codes)  # e.g. the `serve` process
    before = reader.query("inventory", as_of=AS_OF, subject=S1, values=False)
    assert before["resolved_subject_id"] == S1

    merge = {"surviving_subject_id": S2, "merged_subject_id": S1, "reason": "identity_matched"}
    _ingest(ledger, [event("SubjectsMerged", S2, merge, occurred_at="2026-10-03T09:00:00Z")], first=2)
    Projections(ledger.store, ledger.keys, ledger.codes).catch_up()  # the `project` process

    after = reader.query("inventory", as_of=AS_OF, subject=S1, values=False)
    assert (after["resolved_subject_id"], after["merged_subject_ids"]) == (S2, [S1])
    assert sorted(i["field"] for i in after["items"]) == ["email", "phone"]
