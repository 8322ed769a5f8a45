"""Issue 4 acceptance through the command line: events in with ``privacy-ledger ingest``, views out with
``privacy-ledger query``, on the embedded SQLite default and on the real PostgreSQL server.

The two backends must give identical JSON; a rebuild from zero must give byte-identical output
(alert ids, statuses and ``detected_at`` included); after an erasure no query output and no view table
holds a readable personal value of the erased subject.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import run_cli

from ledger.testing import event, new_id

REPO = Path(__file__).resolve().parents[2]
AS_OF = "2026-05-01T12:00:00Z"

# Fictional subjects and ids, fixed so both backends see the very same events.
A, B, C, D = (str(uuid.UUID(int=i, version=4)) for i in (0xA1, 0xB2, 0xC3, 0xD4))
REQUEST = str(uuid.UUID(int=0x5E, version=4))
CONSENT = str(uuid.UUID(int=0xC0, version=4))


def _ids(n: int) -> list[str]:
    return [str(uuid.UUID(int=0x1000 + i, version=4)) for i in range(n)]


def _scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Two ingest runs: the second carries a late ConsentGiven that retracts an alert of the first."""
    ids = iter(_ids(40))
    first = [
        # A: an access request received on Sat 31 Jan 2026 (before Art 12A), extended in time.
        event(
            "RightsRequestReceived",
            A,
            {
                "request_id": REQUEST,
                "request_type": "access",
                "channel": "email",
                "via_third_party": False,
                "requester_contact": "alex.request@example.com",
            },
            occurred_at="2026-01-31T10:00:00Z",
            event_id=next(ids),
        ),
        event(
            "RequestExtended",
            A,
            {
                "request_id": REQUEST,
                "reason": "complexity",
                "notice_sent_at": "2026-02-20T09:00:00Z",
                "reasons_stated": True,
            },
            occurred_at="2026-02-20T09:00:00Z",
            event_id=next(ids),
        ),
        # B: consent given, withdrawn, then marketing email on consent anyway.
        event(
            "SubjectRegistered",
            B,
            {"roles": ["client_contact"], "display_name": "Blair Example"},
            occurred_at="2026-02-01T09:00:00Z",
            event_id=next(ids),
        ),
        event(
            "DataCollected",
            B,
            {
                "data_items": [
                    {"category": "contact_details", "field": "email", "value": "blair.example@example.com"}
                ],
                "source": {"type": "data_subject", "channel": "online"},
                "purposes": [{"purpose": "b2b_marketing", "lawful_basis": "consent"}],
                "processing_means": "automated",
            },
            occurred_at="2026-02-01T09:05:00Z",
            event_id=next(ids),
        ),
        event(
            "ConsentGiven",
            B,
            {
                "consent_id": CONSENT,
                "purpose": "b2b_marketing",
                "method": "web_form",
                "notice_version": "2026-01",
                "explicit": True,
            },
            occurred_at="2026-02-01T09:06:00Z",
            event_id=next(ids),
        ),
        event(
            "ConsentWithdrawn",
            B,
            {"purpose": "b2b_marketing", "consent_id": CONSENT, "method": "email"},
            occurred_at="2026-03-01T09:00:00Z",
            event_id=next(ids),
        ),
        event(
            "DataUsed",
            B,
            {
                "purpose": "b2b_marketing",
                "lawful_basis": "consent",
                "categories": ["contact_details"],
                "channel": "email",
            },
            occurred_at="2026-03-05T09:00:00Z",
            event_id=next(ids),
        ),
        # C: a share to a US processor with no safeguard.
        event(
            "DataShared",
            C,
            {
                "recipient": {
                    "recipient_id": "US-ANALYTICS-1",
                    "name": "Fictional Analytics Inc",
                    "category": "supplier_processor",
                    "role": "processor",
                    "country": "US",
                },
                "categories": ["product_service_usage"],
                "purpose": "usage_demographics",
                "lawful_basis": "legitimate_interests",
                "li_ref": "LI-4",
            },
            occurred_at="2026-03-02T09:00:00Z",
            event_id=next(ids),
        ),
        # D: marketing on consent with no consent yet (the consent arrives late, in the second run).
        event(
            "DataUsed",
            D,
            {
                "purpose": "b2b_marketing",
                "lawful_basis": "consent",
                "categories": ["contact_details"],
                "channel": "email",
            },
            occurred_at="2026-03-10T09:00:00Z",
            event_id=next(ids),
        ),
    ]
    second = [
        event(
            "ConsentGiven",
            D,
            {
                "consent_id": new_id(),
                "purpose": "b2b_marketing",
                "method": "web_form",
                "notice_version": "2026-01",
                "explicit": True,
            },
            occurred_at="2026-03-01T09:00:00Z",
            event_id=next(ids),
        ),
    ]
    return first, second


def _env(tmp: Path, url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    key = tmp / "master.key"
    if not key.exists():
        key.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
        key.chmod(0o600)  # the ledger refuses a key file open to others
    env.update(
        {
            "LEDGER_DATABASE_URL": url,
            "LEDGER_MASTER_KEY_FILE": str(key),
            "LEDGER_ALLOW_CLOCK_OVERRIDE": "1",
        }
    )
    return env


def _cli(env: dict[str, str], *args: str) -> Any:
    proc = run_cli(REPO, env, *args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def _write(tmp: Path, name: str, events: list[dict[str, Any]]) -> str:
    path = tmp / name
    path.write_text("\n".join(json.dumps(e) for e in events) + "\n")
    return str(path)


QUERIES = [
    ("requests", "--include-closed"),
    ("alerts",),
    ("disclosures",),
    ("ropa",),
    ("notices",),
    ("retention",),
    ("complaints",),
    ("inventory", "--subject", B, "--reason", "rights_request"),
    ("consent", "--subject", B),
    ("portability", "--subject", B),
]

INVENTORY = f"inventory --subject {B} --reason rights_request"  # a plaintext read (recorded, spec 8)


def _all_views(env: dict[str, str], *, postgres: bool) -> dict[str, Any]:
    if postgres:
        _cli(env, "project", "--once")
    return {" ".join(q): _cli(env, "query", *q, "--as-of", AS_OF) for q in QUERIES}


def _run(tmp: Path, url: str, *, postgres: bool) -> dict[str, Any]:
    env = _env(tmp, url)
    first, second = _scenario()
    _cli(env, "ingest", _write(tmp, "first.jsonl", first), "--clock", "2026-03-20T12:00:00Z")
    before_late = _all_views(env, postgres=postgres)
    _cli(env, "ingest", _write(tmp, "second.jsonl", second), "--clock", "2026-03-21T12:00:00Z")
    after_late = _all_views(env, postgres=postgres)
    _cli(env, "project", "--rebuild", "all")
    rebuilt = _all_views(env, postgres=postgres)
    return {"before_late": before_late, "after_late": after_late, "rebuilt": rebuilt, "env": env}


@pytest.fixture(scope="module")
def both(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    sqlite_tmp = tmp_path_factory.mktemp("sqlite")
    pg_tmp = tmp_path_factory.mktemp("pg")
    schema = f"v_{uuid.uuid4().hex[:10]}"
    out = {
        "sqlite": _run(sqlite_tmp, f"sqlite:///{sqlite_tmp}/ledger.db", postgres=False),
        "postgres": _run(pg_tmp, f"{pg_url}?schema={schema}", postgres=True),
    }
    out["postgres"]["schema"] = schema
    out["postgres"]["base"] = pg_url
    out["sqlite"]["db"] = sqlite_tmp / "ledger.db"
    yield out
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.mark.postgres
def test_sqlite_and_postgres_give_identical_json_for_every_view(both: dict[str, dict[str, Any]]):
    for stage in ("before_late", "after_late", "rebuilt"):
        for query, output in both["sqlite"][stage].items():
            assert output == both["postgres"][stage][query], f"{stage}: {query} differs between backends"


@pytest.mark.postgres
@pytest.mark.parametrize("backend_name", ["sqlite", "postgres"])
def test_rebuild_from_zero_is_byte_identical_including_alert_ids_and_detected_at(
    both: dict[str, dict[str, Any]], backend_name: str
):
    run = both[backend_name]
    assert json.dumps(run["rebuilt"], sort_keys=True) == json.dumps(run["after_late"], sort_keys=True)


@pytest.mark.postgres
def test_request_clock_through_the_cli(both: dict[str, dict[str, Any]]):
    [row] = both["sqlite"]["after_late"]["requests --include-closed"]
    assert row["request_id"] == REQUEST
    assert row["rules_basis"] == "ico_guidance_pre_art12a"  # received before 5 Feb 2026
    assert row["received_date"] == "2026-01-31"
    assert row["extension"] == {"notice_date": "2026-02-20", "reason": "complexity", "valid": True}
    # Extended deadline = add_months(31 Jan, 3) = 30 Apr (not initial due + 2 months).
    assert (row["status"], row["period_end_date"], row["due_date"]) == (
        "EXTENDED",
        "2026-04-30",
        "2026-04-30",
    )
    assert (row["overdue"], row["overdue_by_days"]) == (True, 1)


@pytest.mark.postgres
def test_alerts_through_the_cli_with_retraction_of_a_late_consent(both: dict[str, dict[str, Any]]):
    before = {(a["code"], a["subject_id"]): a for a in both["sqlite"]["before_late"]["alerts"]}
    after = {(a["code"], a["subject_id"]): a for a in both["sqlite"]["after_late"]["alerts"]}
    assert before[("NO_VALID_CONSENT", D)]["status"] == "OPEN"
    retracted = after[("NO_VALID_CONSENT", D)]
    assert retracted["status"] == "RETRACTED", "a late consent must retract the alert, never delete it"
    assert retracted["alert_id"] == before[("NO_VALID_CONSENT", D)]["alert_id"]
    assert retracted["detected_at"] == "2026-03-20T12:00:00.000000Z"
    assert after[("NO_VALID_CONSENT", B)]["status"] == "OPEN"
    assert after[("MARKETING_AFTER_OPT_OUT", B)]["severity"] == "critical"
    assert after[("TRANSFER_WITHOUT_SAFEGUARD", C)]["status"] == "OPEN"
    assert after[("REQUEST_OVERDUE", A)]["detected_at"] is None  # an as-of alert
    for alert in after.values():
        assert "@example.com" not in alert["message"]


def _view_tables_text(run: dict[str, Any], backend_name: str) -> str:
    """The text of every row of every view table."""
    chunks: list[str] = []
    if backend_name == "sqlite":
        import sqlite3

        conn = sqlite3.connect(run["db"])
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for name in names:
            if name.startswith("view_"):
                chunks.extend(repr(row) for row in conn.execute(f"SELECT * FROM {name}"))
        conn.close()
    else:
        with psycopg.connect(run["base"]) as conn:
            names = [
                r[0]
                for r in conn.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                    (run["schema"],),
                )
            ]
            for name in names:
                if name.startswith("view_"):
                    chunks.extend(
                        repr(row) for row in conn.execute(f'SELECT * FROM "{run["schema"]}"."{name}"')
                    )
    assert chunks, "no view rows found"
    return "\n".join(chunks)


@pytest.mark.postgres
@pytest.mark.parametrize("backend_name", ["sqlite", "postgres"])
def test_after_erasure_no_view_output_or_view_table_holds_the_personal_values(
    both: dict[str, dict[str, Any]], backend_name: str
):
    run = both[backend_name]
    env = run["env"]
    inventory = run["after_late"][INVENTORY]
    assert "blair.example@example.com" in json.dumps(inventory), "before erasure the value is readable"
    _cli(env, "erase", B, "--clock", "2026-04-01T12:00:00Z")
    outputs = _all_views(env, postgres=backend_name == "postgres")
    # Also at an earlier as_of: erasure is never undone by looking back.
    earlier = _cli(env, "query", *INVENTORY.split(), "--as-of", "2026-02-15T00:00:00Z")
    text = json.dumps([outputs, earlier])
    for secret in ("blair.example@example.com", "Blair Example"):
        assert secret not in text
        assert secret not in _view_tables_text(run, backend_name)
    items = outputs[INVENTORY]["items"]
    assert [(i["value"], i["value_state"]) for i in items] == [(None, "erased")]
