"""The read trail through the staff API (spec 8): ``/api/v1/reads`` and ``/api/v1/reads.csv``.

Every plaintext read the API answered is a row (the user's id and name, role, view, reason, case,
interface ``api``), newest first, filtered by ``subject`` or ``actor`` as ``privacy-ledger query reads``
is; the trail is for officers and the DPO, not for every viewer.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from web_support import PLAINTEXT_MARKERS, Sample, Staff, app_for, client, fill, staff


@pytest.fixture
def service(open_ledger: Any) -> tuple[Any, Any, Sample, Staff]:
    ledger = open_ledger()
    sample = fill(ledger)
    app = app_for(ledger)
    return ledger, app, sample, staff(app, sample)


def test_the_reads_answered_by_the_api_are_the_trail_for_officers_and_the_dpo(
    service: tuple[Any, Any, Sample, Staff],
) -> None:
    ledger, app, sample, staff_ = service
    officer, dpo = staff_.users["officer"], staff_.users["dpo"]
    with client(app) as c:
        for label, reason in (("officer", "rights_request"), ("dpo", "internal_audit")):
            answer = c.get(
                f"/api/v1/subjects/{sample.subject}/inventory/plaintext",
                params={"reason": reason, "case_id": sample.request},
                headers=staff_.auth(label),
            )
            assert answer.status_code == 200
        # What the projection service would have done by now on PostgreSQL (serve reads the views there).
        from projections.service import Projections

        Projections(ledger.store, ledger.keys, ledger.codes).catch_up()
        trail = c.get("/api/v1/reads", params={"subject": sample.subject}, headers=staff_.auth("dpo"))
        mine = c.get("/api/v1/reads", params={"actor": officer.user_id}, headers=staff_.auth("officer"))
        paged = c.get("/api/v1/reads", params={"limit": 1}, headers=staff_.auth("officer"))
        rest = c.get(
            "/api/v1/reads", params={"cursor": paged.json()["next_cursor"]}, headers=staff_.auth("officer")
        )
        other = c.get("/api/v1/reads", params={"subject": sample.other_subject}, headers=staff_.auth("dpo"))
        table = c.get("/api/v1/reads.csv", params={"actor": dpo.user_id}, headers=staff_.auth("dpo"))
        viewer = c.get("/api/v1/reads", headers=staff_.auth("viewer"))
        viewer_csv = c.get("/api/v1/reads.csv", headers=staff_.auth("viewer"))
        bad_actor = c.get("/api/v1/reads", params={"actor": "ann@example.com"}, headers=staff_.auth("dpo"))
    rows = trail.json()["items"]
    assert [(r["username"], r["role"], r["reason"]) for r in rows] == [
        (dpo.username, "dpo", "internal_audit"),
        (officer.username, "officer", "rights_request"),
    ]
    for row in rows:
        assert row["subject_id"] == sample.subject and row["view"] == "inventory"
        assert row["interface"] == "api" and row["case_id"] == sample.request
    assert [r["actor_ref"] for r in rows] == [dpo.user_id, officer.user_id]
    assert mine.json()["items"] == rows[1:]
    assert paged.json()["items"] + rest.json()["items"] == rows
    assert other.status_code == 200 and other.json()["items"] == []
    assert [r["actor_ref"] for r in csv.DictReader(io.StringIO(table.text))] == [dpo.user_id]
    assert not any(m in trail.text + table.text for m in PLAINTEXT_MARKERS)
    assert not any(v in trail.text for v in sample.values)
    assert (viewer.status_code, viewer.json()["code"]) == (403, "FORBIDDEN")
    assert viewer_csv.status_code == 403
    assert (bad_actor.status_code, bad_actor.json()["errors"][0]["name"]) == (422, "actor")
    assert "ann@example.com" not in bad_actor.text
