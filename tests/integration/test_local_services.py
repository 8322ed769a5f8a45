"""Prove the services started by deploy/local/*.sh are the real thing.

- PostgreSQL: ``deploy/local/postgres.sh start``; URL from ``LEDGER_TEST_DATABASE_URL``.
- Kafka: ``deploy/local/kafka.sh start``; bootstrap from ``LEDGER_KAFKA_BOOTSTRAP``.

A test skips when its service is unreachable, unless ``LEDGER_REQUIRE_SERVICES=1`` (the CI test
command sets it), in which case it fails: CI must never go green by skipping the real services.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections import Counter
from typing import NoReturn

import psycopg
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import KafkaError
from kafka.serializer import Deserializer, Serializer

DEFAULT_TEST_DATABASE_URL = "postgresql://ledger:ledger-local-only@127.0.0.1:5432/ledger_test"
DEFAULT_KAFKA_BOOTSTRAP = "127.0.0.1:19092"

MESSAGES = 30
PARTITIONS = 3
CONSUME_BUDGET_S = 30.0


class _Utf8(Serializer, Deserializer):  # type: ignore[misc]  # kafka-python has no type hints
    """kafka-python 3 deprecates plain callables as (de)serializers (DeprecationWarning)."""

    def serialize(self, topic: str, headers: list[tuple[str, bytes]], data: str) -> bytes:
        return data.encode()

    def deserialize(self, topic: str, headers: list[tuple[str, bytes]], data: bytes) -> str:
        return data.decode()


def _unavailable(service: str, how_to_start: str, error: BaseException) -> NoReturn:
    message = f"{service} is unreachable ({type(error).__name__}: {error})"
    if os.environ.get("LEDGER_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message}; LEDGER_REQUIRE_SERVICES=1 forbids skipping", pytrace=False)
    pytest.skip(f"{message}; start it with `{how_to_start}`")


@pytest.mark.postgres
def test_postgresql_15_is_reachable_with_password() -> None:
    url = os.environ.get("LEDGER_TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL)
    try:
        conn = psycopg.connect(url, connect_timeout=5)
    except psycopg.OperationalError as exc:
        _unavailable("PostgreSQL", "deploy/local/postgres.sh start", exc)
    with conn:
        row = conn.execute("select version(), current_user, current_database()").fetchone()
    assert row is not None
    version, user, database = row
    assert version.startswith("PostgreSQL 15."), version
    if "LEDGER_TEST_DATABASE_URL" not in os.environ:
        assert (user, database) == ("ledger", "ledger_test")


@pytest.mark.kafka
def test_kafka_round_trip_through_a_consumer_group() -> None:
    bootstrap = os.environ.get("LEDGER_KAFKA_BOOTSTRAP", DEFAULT_KAFKA_BOOTSTRAP)
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap, bootstrap_timeout_ms=5000, client_id="test-local-services"
        )
    except KafkaError as exc:  # kafka-python 3: KafkaTimeoutError when nothing answers
        _unavailable(f"Kafka at {bootstrap}", "deploy/local/kafka.sh start", exc)

    topic = f"test-local-services-{uuid.uuid4().hex[:12]}"
    group = f"{topic}-group"
    try:
        admin.create_topics([NewTopic(topic, PARTITIONS, 1)], wait_for_metadata=True)

        sent = {f"message-{i:02d}": f"subject-{i % 10}" for i in range(MESSAGES)}
        producer = KafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            # Explicit: a conflicting setting then raises instead of silently downgrading.
            enable_idempotence=True,
            key_serializer=_Utf8(),
            value_serializer=_Utf8(),
            client_id="test-local-services",
        )
        try:
            futures = [producer.send(topic, key=k, value=v) for v, k in sent.items()]
            producer.flush(timeout=30)
            metadata = [f.get(timeout=10) for f in futures]
            # The broker handed out a producer id, i.e. idempotence is really on (private
            # attribute, checked only while kafka-python keeps it).
            manager = getattr(producer, "_transaction_manager", None)
            if manager is not None:
                assert manager.producer_id_and_epoch.is_valid
        finally:
            producer.close(timeout=10)
        partitions_written = {m.partition for m in metadata}
        assert len(partitions_written) > 1, "keys should spread over the partitions"

        consumer = KafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=group,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            key_deserializer=_Utf8(),
            value_deserializer=_Utf8(),
            client_id="test-local-services",
        )
        received: list[tuple[str, str, int]] = []
        try:
            deadline = time.monotonic() + CONSUME_BUDGET_S
            while len(received) < MESSAGES and time.monotonic() < deadline:
                for records in consumer.poll(timeout_ms=500).values():
                    received.extend((r.value, r.key, r.partition) for r in records)
            # One more poll: anything beyond MESSAGES would be a duplicate.
            for records in consumer.poll(timeout_ms=1000).values():
                received.extend((r.value, r.key, r.partition) for r in records)
            consumer.commit()
            assigned = {TopicPartition(topic, p) for p in range(PARTITIONS)}
            assert consumer.assignment() == assigned
            end_offsets = consumer.end_offsets(list(assigned))
            committed = {tp: consumer.committed(tp) for tp in assigned}
        finally:
            consumer.close()

        counts = Counter(value for value, _, _ in received)
        assert set(counts) == set(sent), f"missing: {sorted(set(sent) - set(counts))}"
        assert all(n == 1 for n in counts.values()), f"duplicates: {counts.most_common(3)}"
        assert {value: key for value, key, _ in received} == sent
        # Same key, same partition: per-subject ordering is what the ledger relies on.
        partition_of_key: dict[str, set[int]] = {}
        for _, key, partition in received:
            partition_of_key.setdefault(key, set()).add(partition)
        assert all(len(ps) == 1 for ps in partition_of_key.values())
        # The group coordinator stored our offsets at the end of every partition.
        assert committed == end_offsets
    finally:
        with contextlib.suppress(KafkaError):
            admin.delete_topics([topic])
        admin.close()
