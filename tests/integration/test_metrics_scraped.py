"""The monitoring configuration against the real processes: ``consume``, ``project`` and ``serve`` run as
separate processes on one PostgreSQL ledger fed by the real Kafka broker, do their work (consume events and
a malformed message, bring the views up to date, answer staff requests and an erasure), and the union of
what their ``/metrics`` endpoints answer holds every metric the alerting rules and the Grafana dashboard
read. (tests/unit/test_monitoring_config.py checks the same from the registries in-process; this one
catches a metric that only a running process would fail to expose.)"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import pg_base_url, run_cli
from kafka_support import (
    REPO,
    ConsumerProcess,
    PgLedger,
    create_topics,
    publish,
    publish_raw,
    require_broker,
    wait_until,
)
from monitoring_support import used_metrics
from prometheus_client.parser import text_string_to_metric_families
from serve_support import free_port, http, serving

from ledger.sample import generate_events

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


@pytest.fixture
def kafka_pg(tmp_path: Path) -> Iterator[PgLedger]:
    require_broker()
    ledger = PgLedger(pg_base_url(), tmp_path)
    yield ledger
    ledger.drop()


def _scrape(port: int) -> str:
    status, _, text = http(f"http://127.0.0.1:{port}/metrics")
    assert status == 200
    assert isinstance(text, str)
    return text


def _series(text: str) -> set[str]:
    """The sample names of a Prometheus text exposition (``x_total``, ``x_bucket`` ... as scraped)."""
    return {sample.name for family in text_string_to_metric_families(text) for sample in family.samples}


def _value(text: str, name: str, **labels: str) -> float | None:
    """The sum of the samples named ``name`` that carry ``labels``; None if there is none."""
    found = [
        float(sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    ]
    return sum(found) if found else None


def test_every_metric_the_rules_and_the_dashboard_read_is_scraped_from_a_running_process(
    kafka_pg: PgLedger, tmp_path: Path
) -> None:
    topic, dlq = create_topics(partitions=2)
    events = generate_events(seed=31, subjects=6)
    publish(topic, events)
    publish_raw(topic, [(b"malformed", b"not an avro message")])  # a dead letter
    ports = {"consume": free_port(), "project": free_port(), "serve": free_port()}
    env = kafka_pg.env(topic, dlq, f"g-{uuid.uuid4().hex[:8]}", LEDGER_WEB_ALLOW_HTTP="1")
    scraped: dict[str, str] = {}

    expected = len(events) + 1  # the events and the malformed message
    consumer = ConsumerProcess({**env, "LEDGER_METRICS_PORT": str(ports["consume"])}, tmp_path / "c.log")
    try:
        wait_until(
            lambda: _value(_try_scrape(ports["consume"]), "ledger_consumer_consumed_total") == expected,
            180,
            "every message consumed, the malformed one dead-lettered",
        )
        # Ledger-wide figures the rules read: a signed checkpoint and a recorded verification.
        assert run_cli(None, env, "checkpoint").returncode == 0
        verified = run_cli(None, env, "verify", "--record")
        assert verified.returncode == 0, verified.stderr
        project = subprocess.Popen(
            [sys.executable, "-m", "ledger.cli", "project"],
            cwd=REPO,
            env={**env, "LEDGER_METRICS_PORT": str(ports["project"])},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait_until(
                lambda: (
                    _value(_try_scrape(ports["project"]), "ledger_projection_lag_events", view="requests")
                    == 0
                ),
                120,
                "project caught up",
            )
            _staff_work(env, ports["serve"], events, scraped)
            scraped["project"] = _scrape(ports["project"])
        finally:
            project.send_signal(signal.SIGTERM)
            _, err = project.communicate(timeout=60)
        assert project.returncode == 0, err
        scraped["consume"] = _scrape(ports["consume"])
    finally:
        code = consumer.terminate()
    assert code == 0, consumer.output()

    exported = set().union(*(_series(text) for text in scraped.values()))
    missing = {name: sorted(where) for name, where in used_metrics().items() if name not in exported}
    assert not missing, f"read by the rules or the dashboard, exposed by no running process: {missing}"
    # Each process answered its own part, not only the ledger-wide figures they all share.
    assert "ledger_consumer_stored_total" in _series(scraped["consume"])
    assert "ledger_projection_batch_duration_seconds_bucket" in _series(scraped["project"])
    assert "ledger_api_requests_total" in _series(scraped["serve"])
    assert _value(scraped["consume"], "ledger_dead_letters_open") == 1
    texts = "".join(scraped.values())
    assert not any(e["subject_id"] and e["subject_id"] in texts for e in events)  # no personal value


def _try_scrape(port: int) -> str:
    """The exposition, or nothing while the process is not listening yet."""
    try:
        return _scrape(port)
    except (OSError, AssertionError):
        return ""


def _staff_work(env: dict[str, str], metrics_port: int, events: list[dict[str, object]], out: dict[str, str]):
    """``serve`` answers a DPO's reads and an erasure; its metrics are scraped before it stops."""
    assert run_cli(None, env, "users", "add", "dpo-metrics", "--role", "dpo").returncode == 0
    made = run_cli(None, env, "tokens", "create", "--user", "dpo-metrics")
    assert made.returncode == 0, made.stderr
    bearer = {"Authorization": f"Bearer {json.loads(made.stdout)['token']}"}
    subject = next(str(e["subject_id"]) for e in events if e["event_type"] == "DataCollected")
    with serving(env, "--metrics-port", str(metrics_port)) as served:
        assert http(f"{served.base}/api/v1/requests", headers=bearer)[0] == 200
        assert http(f"{served.base}/api/v1/subjects/{subject}/inventory", headers=bearer)[0] == 200
        erased = http(
            f"{served.base}/api/v1/subjects/{subject}/erase",
            headers={**bearer, "Content-Type": "application/json"},
            body=json.dumps({"categories": ["*"], "reason": "erasure_request"}).encode(),
        )
        assert erased[0] == 201, erased[2]
        out["serve"] = _scrape(metrics_port)
    assert served.returncode == 0, served.stderr
