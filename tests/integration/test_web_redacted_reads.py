"""The staff API's answers without plaintext do no plaintext work: the viewer's inventory opens no data
key (it shows what the plaintext inventory shows, values withheld), a page of the request queue works out
a portability request's eligible items only for the rows it shows, and a subject's requests are read by
its merge family (any id of it, received before or after the merge)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from web_support import Sample, app_for, client, fill, staff

import projections.subject
from ledger.store.keystore import KeyStore
from ledger.store.messages import Message
from ledger.testing import collected, event, new_id
from projections.service import Projections


@pytest.fixture
def service(open_ledger: Any) -> tuple[Any, Any, Sample]:
    ledger = open_ledger()
    sample = fill(ledger)
    return ledger, app_for(ledger), sample


def _subjects(ledger: Any) -> list[str]:
    with ledger.store.read() as cur:
        rows = cur.execute(
            "SELECT DISTINCT subject_id FROM {t:ledger_chain} WHERE subject_id IS NOT NULL"
        ).all()
    return sorted(str(r["subject_id"]) for r in rows)


def _withheld(answer: dict[str, Any]) -> dict[str, Any]:
    """The plaintext inventory as the viewer's route shows it: each value withheld."""
    for item in answer.get("items", []):
        item["value_withheld"] = item["value"] is not None
        item["value"] = None
    return answer


def _no_key_may_open(monkeypatch: pytest.MonkeyPatch, ledger: Any) -> None:
    def opened(*_: Any, **__: Any) -> Any:
        raise AssertionError("a data key was read")

    monkeypatch.setattr(KeyStore, "lookup", opened)
    monkeypatch.setattr(KeyStore, "unwrap", opened)
    monkeypatch.setattr(type(ledger.keys.wrapper), "unwrap", opened)


def test_the_viewer_inventory_opens_no_data_key_and_shows_all_but_the_values(
    service: tuple[Any, Any, Sample], monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger, app, sample = service
    held = Projections(ledger.store, ledger.keys, ledger.codes)
    first = next(
        i["category"] for i in held.query("inventory", as_of=ledger.clock(), subject=sample.subject)["items"]
    )
    ledger.erase(sample.subject, [first])  # some values erased, the others available
    held.catch_up()
    staff_ = staff(app, sample)
    as_of = ledger.clock().isoformat()
    subjects = _subjects(ledger)
    expected = {s: _withheld(held.query("inventory", as_of=ledger.clock(), subject=s)) for s in subjects}
    _no_key_may_open(monkeypatch, ledger)
    with client(app) as c:
        answers = {
            s: c.get(
                f"/api/v1/subjects/{s}/inventory", params={"as_of": as_of}, headers=staff_.auth("viewer")
            )
            for s in subjects
        }
        # The plaintext inventory does open keys: the patch would have caught the viewer's route too.
        plain = c.get(
            f"/api/v1/subjects/{sample.subject}/inventory/plaintext",
            params={"reason": "data_quality"},
            headers=staff_.auth("officer"),
        )
    assert plain.status_code == 500
    for s in subjects:
        assert answers[s].status_code == 200, s
        answer = answers[s].json()
        assert answer.pop("as_of")
        assert answer == expected[s]
    mine = answers[sample.subject].json()
    assert mine["erasure_state"] == "partial"
    states = {i["category"]: (i["value_state"], i["value_withheld"]) for i in mine["items"]}
    assert states[first] == ("erased", False)
    assert ("available", True) in states.values()
    assert all(i["value"] is None for i in mine["items"])


def test_a_page_of_the_request_queue_works_out_eligible_items_for_its_own_rows_only(
    service: tuple[Any, Any, Sample], monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger, app, sample = service
    staff_ = staff(app, sample)
    at = ledger.clock()
    every = Projections(ledger.store, ledger.keys, ledger.codes).query(
        "requests", as_of=at, include_closed=True
    )
    portability = [i for i, r in enumerate(every) if r["request_type"] == "portability"]
    assert len(portability) >= 2
    worked_out: list[Any] = []
    real = projections.subject.eligible_items

    def counted(*args: Any) -> Any:
        worked_out.append(args)
        return real(*args)

    monkeypatch.setattr(projections.subject, "eligible_items", counted)
    params: dict[str, Any] = {"include_closed": "true", "limit": 1, "as_of": at.isoformat()}
    with client(app) as c:
        for offset, row in enumerate(every):
            worked_out.clear()
            answer = c.get("/api/v1/requests", params=params, headers=staff_.auth("viewer")).json()
            assert answer["items"] == [row]
            assert len(worked_out) == (1 if offset in portability else 0)
            params = {"include_closed": "true", "limit": 1, "cursor": answer["next_cursor"]}
        assert answer["next_cursor"] is None


def test_requests_received_under_a_merged_subject_stay_on_its_survivors_inventory_and_queue(
    ledger: Any,
) -> None:
    s1, s2, s3 = new_id(), new_id(), new_id()
    merge = {"surviving_subject_id": s2, "merged_subject_id": s1, "reason": "identity_matched"}
    requests = {s: new_id() for s in (s1, s2, s3)}
    events = [
        collected(s1, [("contact_details", "email", "mo.merged@example.com")]),
        collected(s2, [("contact_details", "phone", "+44 20 7946 0001")], occurred_at="2026-10-02T09:00:00Z"),
        collected(s3, [("contact_details", "email", "someone.else@example.com")]),
        *(
            event(
                "RightsRequestReceived",
                s,
                {"request_id": r, "request_type": "access", "channel": "email", "via_third_party": False},
                occurred_at="2026-10-02T10:00:00Z",
            )
            for s, r in requests.items()
        ),
        event("SubjectsMerged", s2, merge, occurred_at="2026-10-03T09:00:00Z"),
    ]
    result = ledger.ingest_messages([Message("test", None, None, event=e) for e in events])
    assert not result.dead_letters
    held = Projections(ledger.store, ledger.keys, ledger.codes)
    held.catch_up()
    at = datetime(2026, 10, 5, tzinfo=UTC)
    family = sorted([requests[s1], requests[s2]])
    for asked in (s1, s2):
        plain = held.query("inventory", as_of=at, subject=asked)
        assert plain["open_request_ids"] == family
        assert held.query("inventory", as_of=at, subject=asked, values=False) == _withheld(plain)
        queue = held.query("requests", as_of=at, subject=asked)
        assert sorted(r["request_id"] for r in queue) == family
        assert held.query_page("requests", as_of=at, subject=asked, offset=1, limit=5) == (queue[1:], 2)
    assert held.query("inventory", as_of=at, subject=s3)["open_request_ids"] == [requests[s3]]


def test_the_subject_page_with_values_withheld_opens_no_data_key(
    service: tuple[Any, Any, Sample], monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger, app, sample = service
    staff_ = staff(app, sample)
    _no_key_may_open(monkeypatch, ledger)
    with client(app) as c:
        page = c.get(f"/ui/subjects/{sample.subject}", headers=staff_.auth("viewer"))
        # The page with the values shown does open keys: the patch would have caught the withheld page.
        shown = c.get(
            f"/ui/subjects/{sample.subject}/plaintext",
            params={"reason": "data_quality"},
            headers=staff_.auth("officer"),
        )
    assert page.status_code == 200, page.text
    assert "Withheld" in page.text
    assert shown.status_code == 500
