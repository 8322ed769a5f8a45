"""The consumer expires parked events past their grace on every poll, an empty one too (spec 3.5 point 4),
and announces those dead letters on the DLQ topic like any other; real Kafka and real PostgreSQL."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import Clock
from kafka_support import PgLedger, create_topics, require_broker

from consumers.consumer import ConsumerConfig, LedgerConsumer
from ledger.bootstrap import Ledger
from ledger.config import Settings
from ledger.store.messages import Message
from ledger.testing import event, new_id

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


@pytest.fixture
def pg_ledger(pg_url: str, tmp_path: Path) -> Iterator[PgLedger]:
    require_broker()
    ledger = PgLedger(pg_url, tmp_path)
    yield ledger
    ledger.drop()


def _dlq_notices(dlq: str) -> list[dict[str, str]]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        dlq,
        bootstrap_servers=os.environ.get("LEDGER_KAFKA_BOOTSTRAP", "127.0.0.1:19092"),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=5000,
    )
    try:
        return [{k: v.decode() for k, v in record.headers} for record in consumer]
    finally:
        consumer.close()


def _open_letters(ledger: Ledger) -> list[tuple[Any, Any]]:
    return [(d["event_id"], d["error_code"]) for d in ledger.dead_letters() if d["status"] == "OPEN"]


def test_an_empty_poll_expires_parked_events_past_the_grace_and_announces_them(
    pg_ledger: PgLedger, clock: Clock
):
    topic, dlq = create_topics(1)
    ledger = Ledger.open(
        Settings(
            database_url=pg_ledger.url, master_key_file=pg_ledger.key_file, var_dir=pg_ledger.tmp / "var"
        ),
        clock=clock,
    )
    consumer = LedgerConsumer(
        ledger,
        ConsumerConfig(
            bootstrap=os.environ.get("LEDGER_KAFKA_BOOTSTRAP", "127.0.0.1:19092"),
            topic=topic,
            group=f"g-{uuid.uuid4().hex[:8]}",
            dlq_topic=dlq,
            poll_timeout_ms=200,
            session_timeout_ms=6000,
            decode_workers=0,
        ),
    )
    try:
        waiting = event(
            "IdentityVerificationRequested",
            new_id(),
            {"request_id": new_id(), "kind": "identity"},
            occurred_at="2026-10-01T10:00:00Z",
        )
        raw = json.dumps(waiting).encode()
        assert ledger.ingest_messages([Message("file:in", None, 1, event=waiting, raw=raw)]).parked == 1
        deadline = time.monotonic() + 60
        while not consumer._consumer.assignment():  # empty polls until the group assigns the partition
            assert consumer.step() is None
            assert time.monotonic() < deadline, "no partition assigned"
        assert _open_letters(ledger) == []
        clock.now += timedelta(hours=25)
        assert consumer.step() is None  # the topic is empty: one empty poll
        assert _open_letters(ledger) == [(waiting["event_id"], "UNKNOWN_REFERENCE")]
        assert ledger.health()["parked"]["count"] == 0
    finally:
        consumer.close()
        ledger.close()
    notices = _dlq_notices(dlq)
    assert [(n["event_id"], n["error_code"]) for n in notices] == [(waiting["event_id"], "UNKNOWN_REFERENCE")]
