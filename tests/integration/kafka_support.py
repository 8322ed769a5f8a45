"""Helpers for the consumer tests: topics, publishing, consumer processes and store inspection."""

from __future__ import annotations

import base64
import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import services_required

REPO = Path(__file__).resolve().parents[2]


def bootstrap() -> str:
    """The test broker (deploy/local/kafka.sh start)."""
    return os.environ.get("LEDGER_KAFKA_BOOTSTRAP", "127.0.0.1:19092")


def broker_problem() -> str | None:
    """Why the broker cannot be used, or None."""
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap(), bootstrap_timeout_ms=3000)
        admin.list_topics()
        admin.close()
    except (KafkaError, OSError) as exc:
        return type(exc).__name__
    return None


def require_broker() -> None:
    """Skip the test without a reachable broker; fail it instead under LEDGER_REQUIRE_SERVICES=1."""
    problem = broker_problem()
    if problem is not None:
        message = f"Kafka broker not reachable ({problem}); run deploy/local/kafka.sh start"
        if services_required():
            pytest.fail(message)
        pytest.skip(message)


def create_topics(partitions: int = 6) -> tuple[str, str]:
    """A fresh event topic with ``partitions`` partitions and its DLQ topic."""
    from kafka.admin import KafkaAdminClient

    topic = f"test.events.{uuid.uuid4().hex[:10]}"
    dlq = f"{topic}.dlq"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap())
    admin.create_topics(
        {
            topic: {"num_partitions": partitions, "replication_factor": 1},
            dlq: {"num_partitions": 1, "replication_factor": 1},
        },
        wait_for_metadata=True,
    )
    admin.close()
    return topic, dlq


def publish(topic: str, events: list[dict[str, Any]]) -> None:
    """Send valid events with the producer SDK and wait for every acknowledgement."""
    from consumers.producer import LedgerProducer

    with LedgerProducer(bootstrap(), topic) as producer:
        report = producer.send_many(events)
        producer.flush()
    assert not report.rejected, report.rejected


def publish_raw(topic: str, items: list[tuple[bytes, bytes]]) -> None:
    """Send (key, value) pairs as they are, bypassing validation (bad messages, duplicates)."""
    from kafka import KafkaProducer

    producer = KafkaProducer(bootstrap_servers=bootstrap(), acks="all", enable_idempotence=True)
    for key, value in items:
        producer.send(topic, key=key, value=value)
    producer.flush()
    producer.close()


@dataclass
class PgLedger:
    """A fresh schema on the real PostgreSQL server, and a master key, for consumer processes."""

    base_url: str
    tmp: Path
    schema: str = field(default_factory=lambda: f"c_{uuid.uuid4().hex[:12]}")

    def __post_init__(self) -> None:
        self.key_file = self.tmp / "master.key"
        self.key_file.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
        self.key_file.chmod(0o600)  # the ledger refuses a key file open to others

    @property
    def url(self) -> str:
        return f"{self.base_url}?schema={self.schema}"

    def env(self, topic: str, dlq: str, group: str, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
        env.update(
            {
                "LEDGER_DATABASE_URL": self.url,
                "LEDGER_MASTER_KEY_FILE": str(self.key_file),
                "LEDGER_KAFKA_BOOTSTRAP": bootstrap(),
                "LEDGER_KAFKA_TOPIC": topic,
                "LEDGER_KAFKA_DLQ_TOPIC": dlq,
                "LEDGER_KAFKA_GROUP": group,
                "LEDGER_KAFKA_SESSION_TIMEOUT_MS": "6000",
                "LEDGER_LOG_LEVEL": "INFO",
                "LEDGER_BATCH_SIZE": "200",
                # The signing key and checkpoint copy of this test's ledger, not the repository's var/.
                "LEDGER_VAR_DIR": str(self.tmp / "var"),
            }
        )
        env.update(extra)
        return env

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.base_url) as conn:
            conn.execute(f'SET search_path TO "{self.schema}"')
            return list(conn.execute(sql).fetchall())

    def stored_event_ids(self) -> list[str]:
        """Event ids in chain (seq) order; empty before the consumer created its tables."""
        try:
            return [r[0] for r in self.query("SELECT event_id FROM ledger_chain ORDER BY seq")]
        except psycopg.errors.UndefinedTable:
            return []

    def counters(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.query("SELECT name, value FROM ledger_counters")}

    def drop(self) -> None:
        with psycopg.connect(self.base_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')


class ConsumerProcess:
    """``privacy-ledger consume`` as a separate OS process (so it can be SIGKILLed)."""

    def __init__(self, env: dict[str, str], log: Path, *, idle_exit: float | None = None) -> None:
        args = [sys.executable, "-m", "ledger.cli", "consume"]
        if idle_exit is not None:
            args += ["--idle-exit", str(idle_exit)]
        self.log_path = log
        self._log = log.open("ab")
        self.proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        """SIGKILL: no cleanup, no commit; the open transaction dies with the connection."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self._log.close()

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM and wait: the consumer finishes or abandons its batch atomically."""
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        self._log.close()
        return code

    def wait(self, timeout: float) -> int:
        code = self.proc.wait(timeout)
        self._log.close()
        return code

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_until(condition: Callable[[], bool], timeout: float, what: str, poll: float = 0.2) -> None:
    """Poll ``condition`` until true; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def subject_orders(events: list[dict[str, Any]]) -> Iterator[tuple[str, list[str]]]:
    """For each subject, the event ids of its events in publish order."""
    by_subject: dict[str, list[str]] = {}
    for e in events:
        by_subject.setdefault(e["subject_id"], []).append(e["event_id"])
    yield from by_subject.items()
