"""``/healthz``, ``/readyz`` and ``/metrics`` of the real processes over real HTTP: ``consume`` (with the
real broker, and with a broker address nobody answers on), ``project`` (not ready while a view is behind
its bound) and ``serve`` (probes on the API's port, metrics only on the operations port)."""

from __future__ import annotations

import base64
import json
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import env_without_ledger_settings, pg_base_url, run_cli
from kafka_support import REPO, ConsumerProcess, PgLedger, create_topics, publish, require_broker, wait_until
from serve_support import free_port, http, serving

from ledger.sample import generate_events


def _get(url: str) -> tuple[int, Any]:
    """(status, body) of a GET, JSON decoded; (0, None) while nothing listens there yet."""
    try:
        status, headers, body = http(url)
    except OSError:
        return 0, None
    kind = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    return status, json.loads(body) if "json" in kind and isinstance(body, str) else body


def _wait_for(
    url: str, accept: Callable[[int, Any], bool], what: str, timeout: float = 90
) -> tuple[int, Any]:
    seen: list[tuple[int, Any]] = []

    def ok() -> bool:
        seen.append(_get(url))
        return accept(*seen[-1])

    wait_until(ok, timeout, f"{what} (last answer: {seen[-1] if seen else None})", poll=0.5)
    return seen[-1]


def _backend_env(backend: dict[str, Any], tmp: Path, **extra: str) -> dict[str, str]:
    key = tmp / "master.key"
    if not key.exists():
        key.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
        key.chmod(0o600)
    return env_without_ledger_settings(
        {
            "LEDGER_DATABASE_URL": backend["url"],
            "LEDGER_MASTER_KEY_FILE": str(key),
            "LEDGER_VAR_DIR": str(tmp / "var"),
            **extra,
        }
    )


class _Command:
    """``privacy-ledger ARGS`` as a separate process, its output in a log file; stopped by SIGTERM."""

    def __init__(self, env: dict[str, str], log: Path, *args: str) -> None:
        self.log_path = log
        self._log = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ledger.cli", *args],
            cwd=REPO,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def terminate(self, timeout: float = 60) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self._log.close()
        return code

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def kafka_pg(tmp_path: Path) -> Iterator[PgLedger]:
    require_broker()
    ledger = PgLedger(pg_base_url(), tmp_path)
    yield ledger
    ledger.drop()


@pytest.mark.kafka
@pytest.mark.postgres
def test_consume_is_alive_ready_and_exports_its_metrics_over_http(kafka_pg: PgLedger, tmp_path: Path):
    topic, dlq = create_topics(partitions=2)
    events = generate_events(seed=21, subjects=3)
    publish(topic, events)
    port = free_port()
    env = kafka_pg.env(topic, dlq, f"g-{uuid.uuid4().hex[:8]}", LEDGER_METRICS_PORT=str(port))
    consumer = ConsumerProcess(env, tmp_path / "consume.log")
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{base}/healthz", lambda s, b: s == 200, "consume's /healthz")
        wait_until(lambda: kafka_pg.counters().get("consumed") == len(events), 120, "every event consumed")
        status, body = _get(f"{base}/readyz")
        assert (status, body) == (200, {"status": "ready", "checks": {"database": "ok", "broker": "ok"}})
        _, text = _wait_for(
            f"{base}/metrics",
            lambda s, b: s == 200 and f"ledger_consumer_consumed_total {float(len(events))}" in b,
            "the consumer's counters on /metrics",
        )
        assert f'ledger_ingest_messages_total{{kind="consumed"}} {float(len(events))}' in text
        assert 'ledger_consumer_lag_messages{partition="0"' in text
        assert "ledger_keystore_operations_total" in text and "ledger_database_up 1.0" in text
        assert not any(e["subject_id"] in text for e in events if e["subject_id"])
        assert _get(f"{base}/nowhere")[0] == 404
    finally:
        code = consumer.terminate()
    assert code == 0, consumer.output()


def test_consume_is_alive_but_not_ready_while_its_broker_does_not_answer(
    backend: dict[str, Any], tmp_path: Path
):
    port = free_port()
    env = _backend_env(
        backend,
        tmp_path,
        LEDGER_KAFKA_BOOTSTRAP=f"127.0.0.1:{free_port()}",  # nothing listens there
        LEDGER_METRICS_PORT=str(port),
    )
    consumer = ConsumerProcess(env, tmp_path / "consume.log")
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{base}/healthz", lambda s, b: s == 200, "consume's /healthz")
        status, body = _get(f"{base}/readyz")
        assert status == 503, body
        assert body["status"] == "not ready"
        assert body["checks"]["database"] == "ok"
        assert body["checks"]["broker"].startswith("the Kafka broker does not answer (")
        status, text = _get(f"{base}/metrics")
        assert status == 200 and "ledger_database_up 1.0" in text
    finally:
        code = consumer.terminate(timeout=90)
    assert code == 0, consumer.output()
    assert "Traceback" not in consumer.output()


@pytest.mark.postgres
def test_project_is_not_ready_while_a_view_is_behind_its_bound(pg_url: str, tmp_path: Path):
    schema = f"o_{uuid.uuid4().hex[:10]}"
    backend = {"url": f"{pg_url}?schema={schema}"}
    port = free_port()
    env = _backend_env(backend, tmp_path, LEDGER_METRICS_PORT=str(port), LEDGER_READY_MAX_LAG_SECONDS="2")
    first, later = tmp_path / "first.jsonl", tmp_path / "later.jsonl"
    first.write_text("".join(json.dumps(e) + "\n" for e in generate_events(seed=22, subjects=2)))
    later.write_text("".join(json.dumps(e) + "\n" for e in generate_events(seed=23, subjects=2)))
    base = f"http://127.0.0.1:{port}"
    try:
        assert run_cli(None, env, "ingest", str(first)).returncode == 0
        project = _Command(env, tmp_path / "project.log", "project")
        try:
            _wait_for(f"{base}/readyz", lambda s, b: s == 200, "project caught up")
            with psycopg.connect(pg_url) as blocker:
                # Hold the views' positions: `project` can read but not advance them.
                blocker.execute(f'LOCK TABLE "{schema}".view_tracking IN EXCLUSIVE MODE')
                assert run_cli(None, env, "ingest", str(later)).returncode == 0
                _, body = _wait_for(f"{base}/readyz", lambda s, b: s == 503, "project not ready")
                assert body["checks"]["database"] == "ok"
                assert body["checks"]["views"].startswith("views behind by more than 2 s: ")
                blocker.rollback()
            _wait_for(f"{base}/readyz", lambda s, b: s == 200, "project caught up again")
            assert _get(f"{base}/healthz") == (200, {"status": "alive"})
            _, text = _get(f"{base}/metrics")
            assert 'ledger_projection_lag_events{view="requests"} 0.0' in text
            assert "ledger_projection_batch_duration_seconds_count" in text
        finally:
            code = project.terminate()
        assert code == 0, project.output()
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_serve_answers_probes_on_its_port_and_metrics_only_on_the_operations_port(
    backend: dict[str, Any], tmp_path: Path
):
    ops = free_port()
    env = _backend_env(backend, tmp_path)
    assert run_cli(None, env, "users", "list").returncode == 0  # creates the ledger
    subject = str(uuid.uuid4())
    with serving(env, "--metrics-port", str(ops)) as served:
        assert http(f"{served.base}/healthz")[::2] == (200, {"status": "alive"})
        assert http(f"{served.base}/readyz")[::2] == (200, {"status": "ready", "checks": {"database": "ok"}})
        assert http(f"{served.base}/api/v1/subjects/{subject}/inventory")[0] == 401
        assert http(f"{served.base}/metrics")[0] == 404  # not on the API's port
        status, text = _get(f"http://127.0.0.1:{ops}/metrics")
        assert status == 200
        assert 'ledger_api_requests_total{route="readyz",status="200"} 1.0' in text
        assert 'ledger_api_requests_total{route="subject_inventory",status="401"} 1.0' in text
        assert 'ledger_api_request_duration_seconds_count{route="healthz"}' in text
        assert "ledger_database_up 1.0" in text
        assert subject not in text
        assert _get(f"http://127.0.0.1:{ops}/readyz")[0] == 200
    assert served.returncode == 0, served.stderr


def test_an_operations_port_in_use_is_a_configuration_error(tmp_path: Path):
    env = _backend_env({"url": f"sqlite:///{tmp_path / 'l.db'}"}, tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        done = run_cli(None, {**env, "LEDGER_METRICS_PORT": str(port)}, "project", timeout=60)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith(
        f"privacy-ledger: cannot serve /healthz, /readyz and /metrics on 127.0.0.1:{port}"
    )
    assert "Traceback" not in done.stderr
    assert time.monotonic() - started < 60
