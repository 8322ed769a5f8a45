"""The consumer path and the file path build the same Merkle tree from the same events (design: Integrity),
and the consumer signs checkpoints as the log grows.

The same events go once through ``privacy-ledger ingest`` (a JSON-lines file, into SQLite and into
PostgreSQL) and once through Kafka (Avro, one partition, consumed into PostgreSQL). With the ledger clock
fixed and no personal field (ciphertext is random by design), every record is byte for byte the same, so
the trees must have the same root at every size.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from conftest import FIXED_NOW, Clock, env_without_ledger_settings, run_cli
from kafka_support import REPO, create_topics, publish, require_broker

from consumers.consumer import ConsumerConfig, LedgerConsumer
from ledger.bootstrap import Ledger
from ledger.config import Settings
from ledger.domain.catalogue import iter_personal_fields
from ledger.log.checkpoints import issued_checkpoints, tree_size
from ledger.log.storage import DbHashSource
from ledger.log.tree import tree_root
from ledger.sample import generate_events, write_jsonl

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]

CLOCK = "2026-11-01T12:00:00Z"


@pytest.fixture(scope="module")
def broker() -> None:
    require_broker()


@pytest.fixture
def schemas(pg_url: str) -> Iterator[list[str]]:
    made: list[str] = []
    yield made
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for schema in made:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _events() -> list[dict[str, Any]]:
    """Sample events without personal values (their ciphertext would differ by design)."""
    events = [
        e
        for e in generate_events(seed=31, subjects=60)
        if not list(iter_personal_fields(e["event_type"], e["payload"]))
    ]
    assert len(events) > 200
    return events


def _ingest_with_cli(tmp: Path, url: str, key: Path, events_file: Path) -> dict[str, Any]:
    env = env_without_ledger_settings(
        {
            "LEDGER_DATABASE_URL": url,
            "LEDGER_MASTER_KEY_FILE": str(key),
            "LEDGER_VAR_DIR": str(tmp / "var"),
            "LEDGER_ALLOW_CLOCK_OVERRIDE": "1",
            "LEDGER_BATCH_SIZE": "64",
        }
    )
    proc = run_cli(REPO, env, "ingest", str(events_file), "--clock", CLOCK)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary: dict[str, Any] = json.loads(proc.stdout)
    return summary


def _roots(url: str, key: Path, var: Path) -> list[bytes]:
    ledger = Ledger.open(Settings(database_url=url, master_key_file=key, var_dir=var), read_only=True)
    try:
        with ledger.store.read() as cur:
            size = tree_size(cur)
            source = DbHashSource(cur)
            return [tree_root(n, source) for n in range(1, size + 1)]
    finally:
        ledger.close()


def test_the_consumer_and_ingest_build_the_same_tree_from_the_same_events(
    broker: None, pg_url: str, tmp_path: Path, schemas: list[str]
):
    events = _events()
    events_file = tmp_path / "events.jsonl"
    write_jsonl(events_file, events)
    key = tmp_path / "master.key"
    key.write_text(base64.b64encode(secrets.token_bytes(32)).decode())
    key.chmod(0o600)
    file_pg, kafka_pg = (f"c_{uuid.uuid4().hex[:12]}" for _ in range(2))
    schemas.extend([file_pg, kafka_pg])
    sqlite_url = f"sqlite:///{tmp_path / 'file.db'}"

    by_file = _ingest_with_cli(tmp_path / "sqlite", sqlite_url, key, events_file)
    assert by_file["rejected"] == 0 and by_file["stored"] > 0
    assert _ingest_with_cli(tmp_path / "pg", f"{pg_url}?schema={file_pg}", key, events_file) == by_file

    topic, dlq = create_topics(1)  # one partition: Kafka keeps the file's order
    publish(topic, events)
    kafka_url = f"{pg_url}?schema={kafka_pg}"
    settings = Settings(
        database_url=kafka_url,
        master_key_file=key,
        var_dir=tmp_path / "kafka" / "var",
        checkpoint_interval_seconds=1,
    )
    ledger = Ledger.open(settings, clock=Clock(FIXED_NOW))
    consumer = LedgerConsumer(
        ledger,
        ConsumerConfig(
            bootstrap=os.environ.get("LEDGER_KAFKA_BOOTSTRAP", "127.0.0.1:19092"),
            topic=topic,
            group=f"g-{uuid.uuid4().hex[:8]}",
            dlq_topic=dlq,
            batch_size=50,
            session_timeout_ms=6000,
        ),
    )
    try:
        consumer.run(threading.Event(), idle_exit_s=4)
        # The consumer signed checkpoints as it went, the last one covering everything it stored.
        with ledger.store.read() as cur:
            signed = [c.size for c in issued_checkpoints(cur)]
            assert signed and signed[-1] == tree_size(cur)
    finally:
        consumer.close()
        ledger.close()

    from_sqlite = _roots(sqlite_url, key, tmp_path / "sqlite" / "var")
    from_pg = _roots(f"{pg_url}?schema={file_pg}", key, tmp_path / "pg" / "var")
    from_kafka = _roots(kafka_url, key, tmp_path / "kafka" / "var")
    assert len(from_sqlite) == by_file["stored"] + by_file["system_events"]
    assert from_pg == from_sqlite
    assert len(from_kafka) == len(from_sqlite)
    assert from_kafka == from_sqlite
