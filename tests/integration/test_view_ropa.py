"""Article 30 summary (spec 6.6) as a projection: bases, roles at as_of, third countries, retention."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from conftest import on_both_backends

from ledger.bootstrap import Ledger
from ledger.calendars import load_calendar
from ledger.controller import ControllerConfigError, load_controller
from ledger.domain.timeutil import canonical_timestamp
from ledger.sample import generate_events
from ledger.store.messages import Message
from ledger.testing import event
from projections.context import ProjectionContext
from projections.reading import ReadContext
from projections.ropa import RopaView, ropa_report
from projections.runner import ProjectionRunner

_NS = uuid.UUID("0c9a7e51-3d2b-4f68-9a1c-7b6e5d4c3b2a")


def _id(name: str) -> str:
    """A fixed fictional UUID per name (the same ids on every run and backend)."""
    return str(uuid.uuid5(_NS, name))


APPLICANT, CLIENT, DUPLICATE = _id("applicant"), _id("client"), _id("duplicate")


def _registered(subject: str, roles: list[str], at: str) -> dict[str, Any]:
    return event("SubjectRegistered", subject, {"roles": roles}, occurred_at=at)


def _role(subject: str, role: str, change: str, at: str) -> dict[str, Any]:
    return event("SubjectRoleChanged", subject, {"role": role, "change": change}, occurred_at=at)


def _used(
    subject: str, purpose: str, basis: str, categories: list[str], at: str, **extra: Any
) -> dict[str, Any]:
    payload = {"purpose": purpose, "lawful_basis": basis, "categories": categories, **extra}
    return event("DataUsed", subject, payload, occurred_at=at)


def _shared(
    recipient: str,
    country: str,
    at: str,
    *,
    mechanism: str | None = None,
    category: str = "supplier_processor",
    event_type: str = "DataShared",
    **flags: Any,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "recipient": {
            "recipient_id": recipient,
            "name": f"Fictional {recipient} Ltd",
            "category": category,
            "role": "processor",
            "country": country,
            **flags,
        },
        "categories": ["name"],
        "purpose": "agreement_performance",
        "lawful_basis": "contract",
    }
    if mechanism is not None:
        payload["transfer_mechanism"] = mechanism
    return event(event_type, CLIENT, payload, occurred_at=at)


def _retention(subject: str, rule_id: str, categories: list[str], at: str) -> dict[str, Any]:
    payload = {
        "categories": categories,
        "rule_id": rule_id,
        "trigger_date": "2026-10-05",
        "retain_until": "2032-10-05",
    }
    return event("RetentionScheduleAssigned", subject, payload, occurred_at=at)


def _events() -> list[dict[str, Any]]:
    collection = event(
        "DataCollected",
        APPLICANT,
        {
            "data_items": [
                {"category": "name", "field": "full_name", "value": "Fictional Applicant"},
                {"category": "contact_details", "field": "email", "value": "applicant.person@example.com"},
                {"category": "health", "field": "adjustments", "value": "fictional adjustment note"},
            ],
            "source": {"type": "data_subject", "channel": "online"},
            "purposes": [
                {"purpose": "agreement_performance", "lawful_basis": "contract"},
                {
                    "purpose": "legal_regulatory_compliance",
                    "lawful_basis": "legal_obligation",
                    "art9_condition": "employment_social_security",
                },
            ],
            "processing_means": "automated",
        },
        occurred_at="2026-10-01T09:00:00Z",
    )
    return [
        _registered(APPLICANT, ["job_applicant"], "2026-10-01T08:00:00Z"),
        collection,
        _role(APPLICANT, "employee", "added", "2026-10-02T09:00:00Z"),
        # Direct marketing under a basis the register does not hold.
        _used(
            APPLICANT,
            "b2b_marketing",
            "contract",
            ["contact_details"],
            "2026-10-03T09:00:00Z",
            channel="email",
        ),
        _registered(CLIENT, ["client_contact"], "2026-10-01T08:00:00Z"),
        _shared("GB-PAYROLL", "GB", "2026-10-04T09:00:00Z"),
        _shared("CT-IN", "IN", "2026-10-04T09:01:00Z", category="group_company", same_legal_entity=True),
        _shared("EU-HOSTING-FR", "FR", "2026-10-04T09:02:00Z", event_type="TransferredInternationally"),
        _shared("US-DPF", "US", "2026-10-04T09:03:00Z", dpf_certified=True),
        _shared("US-NODPF", "US", "2026-10-04T09:04:00Z"),
        _shared("IN-SUPPORT", "IN", "2026-10-04T09:05:00Z", mechanism="idta"),
        _shared("BR-AGENT", "BR", "2026-10-04T09:06:00Z", mechanism="art49_contract"),
        _retention(APPLICANT, "RET-HR-6Y", ["health", "contact_details"], "2026-10-05T09:00:00Z"),
        _retention(CLIENT, "RET-UNRELATED", ["visual_image"], "2026-10-05T09:00:00Z"),
        _role(APPLICANT, "job_applicant", "removed", "2026-10-10T09:00:00Z"),
        # A duplicate record, merged into the client: its roles count for the survivor.
        _registered(DUPLICATE, ["website_user"], "2026-10-06T08:00:00Z"),
        event(
            "SubjectsMerged",
            CLIENT,
            {"surviving_subject_id": CLIENT, "merged_subject_id": DUPLICATE, "reason": "duplicate_record"},
            occurred_at="2026-10-06T09:00:00Z",
        ),
        _used(
            DUPLICATE,
            "market_research_analysis",
            "legitimate_interests",
            ["product_service_usage"],
            "2026-10-07T09:00:00Z",
            li_ref="LI-2",
        ),
    ]


def _ingest(ledger: Ledger, events: list[dict[str, Any]]) -> None:
    result = ledger.ingest_messages(
        [Message("test", 0, i, event=e, raw=json.dumps(e).encode()) for i, e in enumerate(events)]
    )
    assert result.dead_letters == []


def _runner(ledger: Ledger) -> ProjectionRunner:
    ctx = ProjectionContext(ledger.store, ledger.codes, load_calendar())
    runner = ProjectionRunner(ledger.store, [RopaView()], ctx)
    runner.catch_up()
    return runner


def _report(ledger: Ledger, runner: ProjectionRunner, as_of: str) -> dict[str, Any]:
    with ledger.store.read() as cur:
        rctx = ReadContext(
            store=ledger.store, keys=ledger.keys, ctx=runner.ctx, as_of=canonical_timestamp(as_of), cur=cur
        )
        return ropa_report(cur, rctx)


def _rows(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["purpose"]: row for row in report["purposes"]}


def test_one_row_per_purpose_code_with_the_configured_header(ledger: Ledger) -> None:
    runner = _runner(ledger)
    report = _report(ledger, runner, "2026-10-31T00:00:00Z")
    assert report["controller"] == load_controller().as_dict()
    assert report["controller"]["name"] == "ClientTree Group Ltd"
    assert report["controller"]["contact"]["email"] == "contact@clienttree.net"
    assert report["as_of"] == "2026-10-31T00:00:00.000000Z"
    assert [r["purpose"] for r in report["purposes"]] == sorted(ledger.codes.purposes)
    assert _rows(report)["crime_prevention"] == {
        "purpose": "crime_prevention",
        "dpv_purpose": ["dpv:FraudPreventionAndDetection"],
        "registered_bases": ["legal_obligation", "recognised_legitimate_interest"],
        "observed_bases": {},
        "undeclared_bases_observed": [],
        "data_subject_roles_observed": [],
        "data_categories_observed": [],
        "special_category_observed": False,
        "recipient_categories_observed": [],
        "third_countries": [],
        "retention_rules": [],
    }


def test_counts_bases_roles_categories_third_countries_and_retention(ledger: Ledger) -> None:
    _ingest(ledger, _events())
    runner = _runner(ledger)
    rows = _rows(_report(ledger, runner, "2026-10-05T12:00:00Z"))
    assert rows["agreement_performance"] == {
        "purpose": "agreement_performance",
        "dpv_purpose": ["dpv:FulfilmentOfContractualObligation", "dpv:HumanResourceManagement"],
        "registered_bases": ["contract", "legal_obligation"],
        "observed_bases": {"contract": 8},  # one collection entry, seven disclosures
        "undeclared_bases_observed": [],
        "data_subject_roles_observed": ["client_contact", "employee", "job_applicant"],
        "data_categories_observed": ["contact_details", "health", "name"],
        "special_category_observed": True,
        "recipient_categories_observed": ["group_company", "supplier_processor"],
        # GB (domestic) and the same-entity IN office are not third-country transfers.
        "third_countries": [
            {"country": "BR", "mechanisms": ["art49_contract"]},
            {"country": "FR", "mechanisms": ["uk_adequacy"]},
            {"country": "IN", "mechanisms": ["idta"]},
            {"country": "US", "mechanisms": ["none", "uk_adequacy_us_dpf"]},
        ],
        "retention_rules": [{"rule_id": "RET-HR-6Y", "categories": ["contact_details", "health"]}],
    }
    assert rows["legal_regulatory_compliance"] == {
        "purpose": "legal_regulatory_compliance",
        "dpv_purpose": ["dpv:LegalCompliance"],
        "registered_bases": ["legal_obligation"],
        "observed_bases": {"legal_obligation": 1},
        "undeclared_bases_observed": [],
        "data_subject_roles_observed": ["employee", "job_applicant"],
        "data_categories_observed": ["contact_details", "health", "name"],
        "special_category_observed": True,
        "recipient_categories_observed": [],
        "third_countries": [],
        "retention_rules": [{"rule_id": "RET-HR-6Y", "categories": ["contact_details", "health"]}],
    }
    marketing = rows["b2b_marketing"]
    assert marketing["observed_bases"] == {"contract": 1}
    assert marketing["registered_bases"] == ["consent", "legitimate_interests"]
    assert marketing["undeclared_bases_observed"] == ["contract"]
    assert marketing["special_category_observed"] is False
    assert marketing["retention_rules"] == [{"rule_id": "RET-HR-6Y", "categories": ["contact_details"]}]


def test_roles_and_counts_follow_as_of(ledger: Ledger) -> None:
    _ingest(ledger, _events())
    runner = _runner(ledger)
    early = _rows(_report(ledger, runner, "2026-10-01T10:00:00Z"))
    assert early["legal_regulatory_compliance"]["data_subject_roles_observed"] == ["job_applicant"]
    assert early["agreement_performance"]["observed_bases"] == {"contract": 1}
    assert early["agreement_performance"]["retention_rules"] == []
    assert early["b2b_marketing"]["observed_bases"] == {}
    # The applicant role was removed on 10 October: the record at a later as_of no longer shows it.
    late = _rows(_report(ledger, runner, "2026-10-11T00:00:00Z"))
    assert late["legal_regulatory_compliance"]["data_subject_roles_observed"] == ["employee"]
    # The client now also holds the role of the duplicate record merged into it.
    assert late["agreement_performance"]["data_subject_roles_observed"] == [
        "client_contact",
        "employee",
        "website_user",
    ]
    before_all = _report(ledger, runner, "2026-09-30T00:00:00Z")["purposes"]
    assert all(
        (r["observed_bases"], r["data_subject_roles_observed"], r["third_countries"], r["retention_rules"])
        == ({}, [], [], [])
        for r in before_all
    )


def test_merged_subjects_contribute_their_roles_to_the_survivor(ledger: Ledger) -> None:
    _ingest(ledger, _events())
    runner = _runner(ledger)
    research = _rows(_report(ledger, runner, "2026-10-08T00:00:00Z"))["market_research_analysis"]
    assert research["observed_bases"] == {"legitimate_interests": 1}
    assert research["data_subject_roles_observed"] == ["client_contact", "website_user"]
    assert research["data_categories_observed"] == ["product_service_usage"]


def test_rebuild_from_zero_gives_identical_output(ledger: Ledger) -> None:
    _ingest(ledger, _events())
    runner = _runner(ledger)
    instants = ["2026-10-01T10:00:00Z", "2026-10-05T12:00:00Z", "2026-10-31T00:00:00Z"]
    before = json.dumps([_report(ledger, runner, at) for at in instants], sort_keys=True)
    runner.rebuild()
    assert json.dumps([_report(ledger, runner, at) for at in instants], sort_keys=True) == before


def test_the_view_keeps_no_personal_values(ledger: Ledger) -> None:
    _ingest(ledger, _events())
    _runner(ledger)
    with ledger.store.read() as cur:
        for table in RopaView.tables:
            for row in cur.execute(f"SELECT * FROM {{t:{table}}}").all():
                text = json.dumps(row, default=str)
                assert '"enc"' not in text and "example.com" not in text and "Fictional Applicant" not in text


# -- configuration ---------------------------------------------------------------------------------


def test_a_malformed_controller_configuration_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "controller.json"
    path.write_text(json.dumps({"version": "x", "controller": {"name": "", "contact": {}}}))
    with pytest.raises(ControllerConfigError):
        load_controller(path)
    path.write_text(
        json.dumps(
            {"version": "x", "controller": {"name": "Fictional Ltd", "contact": {}}, "security_measures": "x"}
        )
    )
    with pytest.raises(ControllerConfigError, match="contact"):
        load_controller(path)
    with pytest.raises(ControllerConfigError):
        load_controller(tmp_path / "missing.json")


# Security measures the software does not have yet. An Article 30 record must be true: when one of these
# lands, its claim goes into schemas/controller.json and its pattern leaves this list, deliberately.
NOT_BUILT_MEASURES = {
    "transport encryption set up by the ledger": r"\bTLS\b|\bSSL\b",
    "a KMS or HSM holding the master key": r"\bKMS\b|\bHSM\b",
}
# Measures the software has (the staff service's roles, the spec 8 read audit, backups that re-apply key
# destructions): the record must state them.
BUILT_MEASURES = {
    "audit log of plaintext reads": r"\baudit event",
    "role-based access control": r"role-based access control, deny by default",
    "break-glass access to raw rejected messages": r"break-glass",
    "backups that do not bring erased values back": r"re-applies every key destruction",
}


def test_the_article_30_security_measures_claim_only_what_is_built(ledger: Ledger) -> None:
    measures = _report(ledger, _runner(ledger), "2026-10-31T00:00:00Z")["controller"]["security_measures"]
    claimed = [name for name, pattern in NOT_BUILT_MEASURES.items() if re.search(pattern, measures, re.I)]
    assert claimed == [], f"the Article 30 record claims measures that are not built: {claimed}"
    missing = [name for name, pattern in BUILT_MEASURES.items() if not re.search(pattern, measures, re.I)]
    assert missing == [], f"the Article 30 record leaves out measures the software has: {missing}"
    for built in ("AES-256-GCM", "crypto-shredding", "SHA-256 hash chain", "signs", "no personal values"):
        assert built in measures


# -- sample data on both backends ----------------------------------------------------------------


def _sample_output(ledger: Ledger, events: list[dict[str, Any]]) -> str:
    _ingest(ledger, events)
    runner = _runner(ledger)
    instants = ["2026-03-31T23:00:00Z", "2026-07-01T00:00:00Z", "2026-11-01T00:00:00Z"]
    first = json.dumps([_report(ledger, runner, at) for at in instants], sort_keys=True)
    runner.rebuild()
    assert json.dumps([_report(ledger, runner, at) for at in instants], sort_keys=True) == first
    return first


def test_sample_data_gives_the_same_record_on_sqlite_and_postgres(pg_url: str, tmp_path: Path) -> None:
    events = generate_events(seed=3, subjects=60)
    on_sqlite, on_postgres = on_both_backends(pg_url, tmp_path, lambda ledger: _sample_output(ledger, events))
    assert on_sqlite == on_postgres
    last = _rows(json.loads(on_sqlite)[-1])
    counted = sum(
        len(e["payload"]["purposes"]) if e["event_type"] == "DataCollected" else 1
        for e in events
        if e["event_type"] in ("DataCollected", "DataUsed", "DataShared", "TransferredInternationally")
    )
    assert sum(sum(r["observed_bases"].values()) for r in last.values()) == counted
    assert any(r["third_countries"] for r in last.values())
