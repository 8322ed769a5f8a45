"""Disclosure register (spec 6.2) as a projection: rows, transfer classes, Art 19 pending, as-of, merges."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from conftest import on_both_backends

from ledger.bootstrap import Ledger
from ledger.calendars import load_calendar
from ledger.domain.timeutil import canonical_timestamp
from ledger.sample import generate_events
from ledger.store.messages import Message
from ledger.testing import event
from projections.alerts import AlertsView
from projections.base import View
from projections.context import ProjectionContext
from projections.disclosures import DisclosuresView, list_disclosures
from projections.reading import ReadContext
from projections.runner import ProjectionRunner

_NS = uuid.UUID("6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b")


def _id(name: str) -> str:
    """A fixed fictional UUID per name (the same ids on every run and backend)."""
    return str(uuid.uuid5(_NS, name))


SUBJECT, OTHER, MERGED = _id("subject"), _id("other-subject"), _id("merged-subject")


def _at(text: str) -> datetime:
    return canonical_timestamp(text)


def _share(
    name: str,
    subject: str,
    recipient: str,
    country: str,
    at: str,
    *,
    categories: tuple[str, ...] = ("contact_details",),
    mechanism: str | None = None,
    event_type: str = "DataShared",
    **flags: Any,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "recipient": {
            "recipient_id": recipient,
            "name": f"Fictional {recipient} Ltd",
            "category": "supplier_processor",
            "role": "processor",
            "country": country,
            **flags,
        },
        "categories": list(categories),
        "purpose": "agreement_performance",
        "lawful_basis": "contract",
    }
    if mechanism is not None:
        payload["transfer_mechanism"] = mechanism
    return event(event_type, subject, payload, occurred_at=at, event_id=_id(name))


def _rectified(name: str, subject: str, at: str, category: str = "contact_details") -> dict[str, Any]:
    items = [{"category": category, "field": "email", "new_value": "rectified.person@example.com"}]
    return event(
        "DataRectified",
        subject,
        {"items": items, "reason": "data_quality"},
        occurred_at=at,
        event_id=_id(name),
    )


def _restricted(name: str, subject: str, at: str, categories: list[str]) -> dict[str, Any]:
    payload = {"restriction_id": _id(name + "-id"), "categories": categories, "ground": "accuracy_contested"}
    return event("ProcessingRestricted", subject, payload, occurred_at=at, event_id=_id(name))


def _erased(name: str, subject: str, at: str, categories: list[str]) -> dict[str, Any]:
    payload = {"categories": categories, "reason": "erasure_request"}
    return event("DataErased", subject, payload, occurred_at=at, event_id=_id(name))


def _notified(subject: str, recipient: str, kind: str, ref: str, at: str) -> dict[str, Any]:
    payload = {
        "recipient_id": recipient,
        "notification_type": kind,
        "ref_event_id": _id(ref),
        "outcome": "sent",
    }
    return event(
        "RecipientNotified", subject, payload, occurred_at=at, event_id=_id(f"notice-{recipient}-{ref}")
    )


def _ingest(ledger: Ledger, events: list[dict[str, Any]]) -> None:
    result = ledger.ingest_messages(
        [Message("test", 0, i, event=e, raw=json.dumps(e).encode()) for i, e in enumerate(events)]
    )
    assert result.dead_letters == []


def _runner(ledger: Ledger, *views: View) -> ProjectionRunner:
    ctx = ProjectionContext(ledger.store, ledger.codes, load_calendar())
    runner = ProjectionRunner(ledger.store, list(views) or [AlertsView(), DisclosuresView()], ctx)
    runner.catch_up()
    return runner


def _query(ledger: Ledger, runner: ProjectionRunner, as_of: str, **filters: Any) -> list[dict[str, Any]]:
    with ledger.store.read() as cur:
        rctx = ReadContext(store=ledger.store, keys=ledger.keys, ctx=runner.ctx, as_of=_at(as_of), cur=cur)
        return list_disclosures(cur, rctx, **filters)


def _pending(rows: list[dict[str, Any]]) -> dict[str, list[tuple[str, str]]]:
    """Art 19 pending per disclosure id, as (type, ref id)."""
    return {
        r["disclosure_event_id"]: [(p["notification_type"], p["ref_event_id"]) for p in r["art19_pending"]]
        for r in rows
    }


# -- rows and classification ---------------------------------------------------------------------

_BRANCHES: list[tuple[str, str, str, str | None, dict[str, Any], str]] = [
    # (name, recipient, country, mechanism, flags, expected classification)
    ("gb", "GB-PAYROLL", "GB", None, {}, "domestic"),
    ("intra", "CT-IN", "IN", None, {"same_legal_entity": True}, "intra_entity"),
    ("fr", "EU-HOSTING-FR", "FR", None, {}, "adequacy"),
    ("jp-scoped", "JP-SCOPED", "JP", None, {"adequacy_scope_confirmed": True}, "adequacy"),
    ("us-dpf", "US-DPF", "US", None, {"dpf_certified": True}, "adequacy_us_dpf"),
    ("in-idta", "IN-SUPPORT", "IN", "idta", {}, "art46_safeguard"),
    ("br-art49", "BR-AGENT", "BR", "art49_contract", {}, "art49_derogation"),
    ("us-none", "US-NODPF", "US", None, {"dpf_certified": False}, "no_safeguard"),
    ("jp-unscoped", "JP-UNSCOPED", "JP", None, {}, "no_safeguard"),
]


def _branch_events() -> list[dict[str, Any]]:
    out = []
    for i, (name, recipient, country, mechanism, flags, _) in enumerate(_BRANCHES):
        kind = "TransferredInternationally" if name == "fr" else "DataShared"
        at = f"2026-10-01T09:0{i}:00Z"
        out.append(
            _share(name, SUBJECT, recipient, country, at, mechanism=mechanism, event_type=kind, **flags)
        )
    return out


def test_each_transfer_classification_branch_and_its_alert(ledger: Ledger) -> None:
    _ingest(ledger, _branch_events())
    runner = _runner(ledger)
    rows = _query(ledger, runner, "2026-10-31T00:00:00Z")
    assert [(r["disclosure_event_id"], r["transfer_classification"]) for r in rows] == [
        (_id(name), expected) for name, *_, expected in _BRANCHES
    ]
    assert {r["disclosure_event_id"]: r["alert_codes"] for r in rows} == {
        _id(name): (["TRANSFER_WITHOUT_SAFEGUARD"] if expected == "no_safeguard" else [])
        for name, *_, expected in _BRANCHES
    }
    assert rows[2] == {
        "disclosure_event_id": _id("fr"),
        "event_type": "TransferredInternationally",
        "subject_id": SUBJECT,
        "shared_at": "2026-10-01T09:02:00.000000Z",
        "recipient_id": "EU-HOSTING-FR",
        "recipient_name": "Fictional EU-HOSTING-FR Ltd",
        "recipient_category": "supplier_processor",
        "recipient_role": "processor",
        "recipient_country": "FR",
        "transfer_classification": "adequacy",
        "transfer_mechanism": None,
        "categories": ["contact_details"],
        "purpose": "agreement_performance",
        "lawful_basis": "contract",
        "alert_codes": [],
        "art19_pending": [],
    }
    assert rows[5]["transfer_mechanism"] == "idta"
    only = _query(ledger, runner, "2026-10-31T00:00:00Z", classification="no_safeguard")
    assert [r["disclosure_event_id"] for r in only] == [_id("us-none"), _id("jp-unscoped")]
    assert [
        r["recipient_id"] for r in _query(ledger, runner, "2026-10-31T00:00:00Z", recipient="BR-AGENT")
    ] == ["BR-AGENT"]


def test_rows_follow_as_of_and_the_register_works_without_the_alerts_view(ledger: Ledger) -> None:
    _ingest(ledger, _branch_events())
    runner = _runner(ledger, DisclosuresView())
    assert _query(ledger, runner, "2026-10-01T08:59:59Z") == []
    rows = _query(ledger, runner, "2026-10-01T09:01:00Z")  # an event at exactly as_of counts
    assert [r["disclosure_event_id"] for r in rows] == [_id("gb"), _id("intra")]
    assert all(r["alert_codes"] == [] for r in _query(ledger, runner, "2026-10-31T00:00:00Z"))


def test_the_view_keeps_no_ciphertext(ledger: Ledger) -> None:
    _ingest(ledger, [*_branch_events(), _rectified("rect", SUBJECT, "2026-10-02T09:00:00Z")])
    _runner(ledger, DisclosuresView())
    with ledger.store.read() as cur:
        for table in DisclosuresView.tables:
            for row in cur.execute(f"SELECT * FROM {{t:{table}}}").all():
                text = json.dumps(row, default=str)
                assert '"enc"' not in text and "example.com" not in text


# -- Art 19 ----------------------------------------------------------------------------------------


def _art19_events() -> list[dict[str, Any]]:
    return [
        _rectified("rect-before", SUBJECT, "2026-10-01T09:00:00Z"),
        _share("s1", SUBJECT, "R-ONE", "GB", "2026-10-02T09:00:00Z", categories=("contact_details", "name")),
        _share("s2", SUBJECT, "R-TWO", "GB", "2026-10-02T09:00:00Z", categories=("financial_details",)),
        _share("other", OTHER, "R-ONE", "GB", "2026-10-02T09:00:00Z", categories=("contact_details",)),
        _rectified("rect", SUBJECT, "2026-10-03T09:00:00Z"),
        _restricted("restr", SUBJECT, "2026-10-04T09:00:00Z", ["*"]),
        _share("s3", SUBJECT, "R-ONE", "GB", "2026-10-05T09:00:00Z", categories=("postal_address",)),
        _erased("erase", SUBJECT, "2026-10-06T09:00:00Z", ["financial_details"]),
        _notified(SUBJECT, "R-ONE", "rectification", "rect", "2026-10-07T09:00:00Z"),
        _notified(SUBJECT, "R-TWO", "restriction", "restr", "2026-10-07T10:00:00Z"),
        # A notice to the wrong recipient clears nothing.
        _notified(SUBJECT, "R-TWO", "erasure", "rect", "2026-10-07T11:00:00Z"),
    ]


def test_art19_pending_appears_after_later_changes_per_recipient_and_clears_on_notice(ledger: Ledger) -> None:
    _ingest(ledger, _art19_events())
    runner = _runner(ledger)
    rect, restr, erase = (_id("rect"), _id("restr"), _id("erase"))
    s1, s2, s3, other = (_id("s1"), _id("s2"), _id("s3"), _id("other"))

    # The earlier rectification never counts; the later one touches R-ONE's categories only.
    assert _pending(_query(ledger, runner, "2026-10-03T10:00:00Z")) == {
        s1: [("rectification", rect)],
        s2: [],
        other: [],
    }
    # Every row of a recipient shares its pending set (s3 came after both changes).
    assert _pending(_query(ledger, runner, "2026-10-05T12:00:00Z")) == {
        s1: [("rectification", rect), ("restriction", restr)],
        s2: [("restriction", restr)],
        other: [],
        s3: [("rectification", rect), ("restriction", restr)],
    }
    assert _pending(_query(ledger, runner, "2026-10-06T12:00:00Z")) == {
        s1: [("rectification", rect), ("restriction", restr)],
        s2: [("restriction", restr), ("erasure", erase)],
        other: [],
        s3: [("rectification", rect), ("restriction", restr)],
    }
    # Notices clear only their own recipient's item.
    assert _pending(_query(ledger, runner, "2026-10-08T00:00:00Z")) == {
        s1: [("restriction", restr)],
        s2: [("erasure", erase)],
        other: [],
        s3: [("restriction", restr)],
    }
    # The shared set holds under filters too (it is computed before filtering rows out).
    assert _pending(_query(ledger, runner, "2026-10-08T00:00:00Z", subject=SUBJECT, recipient="R-ONE")) == {
        s1: [("restriction", restr)],
        s3: [("restriction", restr)],
    }


def test_art19_pending_is_shared_across_classifications_of_one_recipient(ledger: Ledger) -> None:
    events = [
        _share(
            "idta", SUBJECT, "IN-DESK", "IN", "2026-10-01T09:00:00Z", categories=("name",), mechanism="idta"
        ),
        _share("bare", SUBJECT, "IN-DESK", "IN", "2026-10-01T10:00:00Z", categories=("contact_details",)),
        _rectified("rect", SUBJECT, "2026-10-02T09:00:00Z"),
    ]
    _ingest(ledger, events)
    runner = _runner(ledger, DisclosuresView())
    [row] = _query(ledger, runner, "2026-10-03T00:00:00Z", classification="art46_safeguard")
    assert row["disclosure_event_id"] == _id("idta")
    assert row["art19_pending"] == [{"notification_type": "rectification", "ref_event_id": _id("rect")}]


def test_merged_subjects_resolve_and_share_art19_triggers(ledger: Ledger) -> None:
    events = [
        _share("merged-share", MERGED, "R-ONE", "GB", "2026-10-01T09:00:00Z"),
        _share("survivor-share", SUBJECT, "R-ONE", "GB", "2026-10-01T10:00:00Z", categories=("name",)),
        event(
            "SubjectsMerged",
            SUBJECT,
            {"surviving_subject_id": SUBJECT, "merged_subject_id": MERGED, "reason": "duplicate_record"},
            occurred_at="2026-10-02T09:00:00Z",
            event_id=_id("merge"),
        ),
        _erased("erase", SUBJECT, "2026-10-03T09:00:00Z", ["*"]),
    ]
    _ingest(ledger, events)
    runner = _runner(ledger, DisclosuresView())
    expected = [("erasure", _id("erase"))]
    for who in (MERGED, SUBJECT):
        rows = _query(ledger, runner, "2026-10-04T00:00:00Z", subject=who)
        assert [(r["disclosure_event_id"], r["subject_id"]) for r in rows] == [
            (_id("merged-share"), SUBJECT),
            (_id("survivor-share"), SUBJECT),
        ]
        assert _pending(rows) == {_id("merged-share"): expected, _id("survivor-share"): expected}
    # Before the erasure's occurred_at nothing is pending.
    assert _pending(_query(ledger, runner, "2026-10-03T08:59:59Z")) == {
        _id("merged-share"): [],
        _id("survivor-share"): [],
    }


def _dump(ledger: Ledger, runner: ProjectionRunner, instants: list[str]) -> str:
    return json.dumps([_query(ledger, runner, at) for at in instants], sort_keys=True)


def test_rebuild_from_zero_gives_identical_output(ledger: Ledger) -> None:
    _ingest(ledger, [*_branch_events(), *_art19_events()])
    runner = _runner(ledger)
    instants = ["2026-10-01T09:03:00Z", "2026-10-05T12:00:00Z", "2026-10-31T00:00:00Z"]
    before = _dump(ledger, runner, instants)
    runner.rebuild()
    assert _dump(ledger, runner, instants) == before
    # A second runner built from nothing (fresh context) agrees too.
    assert _dump(ledger, _runner(ledger), instants) == before


# -- sample data on both backends ----------------------------------------------------------------


def _sample_output(ledger: Ledger, events: list[dict[str, Any]]) -> str:
    _ingest(ledger, events)
    runner = _runner(ledger)
    # The second instant falls between a rectification and the recipient's notice in this sample.
    instants = [
        "2026-03-31T23:00:00Z",
        "2026-04-29T12:00:00Z",
        "2026-07-01T00:00:00Z",
        "2026-11-01T00:00:00Z",
    ]
    first = _dump(ledger, runner, instants)
    runner.rebuild()
    assert _dump(ledger, runner, instants) == first
    return first


def test_sample_data_gives_the_same_register_on_sqlite_and_postgres(pg_url: str, tmp_path: Path) -> None:
    events = generate_events(seed=3, subjects=60)
    on_sqlite, on_postgres = on_both_backends(pg_url, tmp_path, lambda ledger: _sample_output(ledger, events))
    assert on_sqlite == on_postgres
    outputs = json.loads(on_sqlite)
    assert any(r["art19_pending"] for r in outputs[1])
    last = outputs[-1]
    assert len(last) == sum(e["event_type"] in ("DataShared", "TransferredInternationally") for e in events)
    unsafe = [r for r in last if r["transfer_classification"] == "no_safeguard"]
    assert unsafe and all("TRANSFER_WITHOUT_SAFEGUARD" in r["alert_codes"] for r in unsafe)
