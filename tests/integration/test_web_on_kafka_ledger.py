"""The staff service in production shape: upstream events arrive on Kafka, ``consume`` stores them in
PostgreSQL, ``project`` builds the views, and ``serve`` answers staff from that same database: the same
answers as ``privacy-ledger query`` and ``health``, with every plaintext read on the record."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from conftest import pg_base_url, run_cli
from kafka_support import ConsumerProcess, PgLedger, create_topics, publish, require_broker
from serve_support import http, serving

from ledger.sample import generate_events


@pytest.fixture
def pg_ledger(tmp_path: Path) -> Any:
    require_broker()
    ledger = PgLedger(pg_base_url(), tmp_path)
    yield ledger
    ledger.drop()


def _json(proc: subprocess.CompletedProcess[str]) -> Any:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_serve_answers_from_the_ledger_that_consume_and_project_feed(
    pg_ledger: PgLedger, tmp_path: Path
) -> None:
    topic, dlq = create_topics(partitions=3)
    env = pg_ledger.env(topic, dlq, f"g-{uuid.uuid4().hex[:8]}")
    events = generate_events(seed=5, subjects=10)
    publish(topic, events)
    consumer = ConsumerProcess(env, tmp_path / "consume.log", idle_exit=3)
    assert consumer.wait(180) == 0, consumer.output()
    assert len(pg_ledger.stored_event_ids()) == len(events)
    assert run_cli(None, env, "project", "--once").returncode == 0

    _json(run_cli(None, env, "users", "add", "dpo-kafka", "--role", "dpo"))
    token = _json(run_cli(None, env, "tokens", "create", "--user", "dpo-kafka"))["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    subject = next(e["subject_id"] for e in events if e["event_type"] == "RightsRequestReceived")
    as_of = "2026-12-01T12:00:00Z"

    with serving({**env, "LEDGER_WEB_ALLOW_HTTP": "1"}) as served:
        status, _, page = http(
            f"{served.base}/api/v1/requests?include_closed=true&limit=500&as_of={as_of}", headers=bearer
        )
        assert status == 200 and page["next_cursor"] is None
        status, _, inventory = http(
            f"{served.base}/api/v1/subjects/{subject}/inventory?as_of={as_of}", headers=bearer
        )
        assert status == 200
        status, _, health = http(f"{served.base}/api/v1/health", headers=bearer)
        assert status == 200
        status, _, shown = http(
            f"{served.base}/api/v1/subjects/{subject}/inventory/plaintext?reason=rights_request",
            headers=bearer,
        )
        assert status == 200 and shown["subject_id"] == subject
    assert served.returncode == 0, served.stderr

    viewed = pg_ledger.query("SELECT subject_id FROM ledger_chain WHERE event_type = 'PersonalDataViewed'")
    assert [str(row[0]) for row in viewed] == [subject]  # the plaintext read, on the record

    # The same answers as the CLI gives over the same database.
    queue = _json(run_cli(None, env, "query", "requests", "--include-closed", "--as-of", as_of))
    assert page["items"] == queue and queue
    cli_inventory = _json(
        run_cli(None, env, "query", "inventory", "--subject", subject, "--reason", "rights_request")
    )
    assert shown["items"] == cli_inventory["items"] and any(i["value"] is not None for i in shown["items"])
    assert all(item["value"] is None for item in inventory["items"])  # the redacted view: no value
    same = ("category", "field", "value_state", "sources", "purposes", "first_collected_at")
    assert [{k: i[k] for k in same} for i in inventory["items"]] == [
        {k: i[k] for k in same} for i in shown["items"]
    ]
    assert health["conserved"] and health["counters"]["stored_producer_events"] == len(events)
