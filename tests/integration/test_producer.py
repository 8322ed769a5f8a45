"""The producer SDK against the real Kafka broker of ``deploy/local/kafka.sh`` (design: Wire format).

Tests marked ``kafka`` skip when the broker is unreachable, unless ``LEDGER_REQUIRE_SERVICES=1``
(the CI test command), in which case they fail. Bootstrap from ``LEDGER_KAFKA_BOOTSTRAP``.
Only fictional data (example.com).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError

from consumers.errors import BrokerUnavailable, ConsumerError, ProducerConfigError
from consumers.producer import LedgerProducer, PublishReport, Rejection, build_event
from consumers.publish import add_publish_command, publish_file
from ledger.avro import AvroCodec
from ledger.codelists import load_code_lists
from ledger.domain.catalogue import LEDGER_SUBJECT_ID
from ledger.domain.validation import validate_event
from ledger.errors import EventRejected, LedgerError

DEFAULT_KAFKA_BOOTSTRAP = "127.0.0.1:19092"
PARTITIONS = 6
SUBJECTS = 10
CONSUME_BUDGET_S = 30.0
CLIENT = "test-producer"
SECRET = "alex.secret@example.com"  # a personal value that must never appear in an error text


def _bootstrap() -> str:
    return os.environ.get("LEDGER_KAFKA_BOOTSTRAP", DEFAULT_KAFKA_BOOTSTRAP)


def _unavailable(service: str, how_to_start: str, error: BaseException) -> NoReturn:
    message = f"{service} is unreachable ({type(error).__name__}: {error})"
    if os.environ.get("LEDGER_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message}; LEDGER_REQUIRE_SERVICES=1 forbids skipping", pytrace=False)
    pytest.skip(f"{message}; start it with `{how_to_start}`")


@pytest.fixture(scope="module")
def admin() -> Iterator[KafkaAdminClient]:
    """An admin client on the real broker, or skip/fail."""
    try:
        client = KafkaAdminClient(bootstrap_servers=_bootstrap(), bootstrap_timeout_ms=5000, client_id=CLIENT)
    except KafkaError as exc:  # kafka-python 3: KafkaTimeoutError when nothing answers
        _unavailable(f"Kafka at {_bootstrap()}", "deploy/local/kafka.sh start", exc)
    yield client
    client.close()


@pytest.fixture
def topic(admin: KafkaAdminClient) -> Iterator[str]:
    """A fresh topic with six partitions, deleted afterwards."""
    name = f"test-producer-{uuid.uuid4().hex[:12]}"
    admin.create_topics(
        {name: {"num_partitions": PARTITIONS, "replication_factor": 1}}, wait_for_metadata=True
    )
    yield name
    with contextlib.suppress(KafkaError):
        admin.delete_topics([name])


@pytest.fixture
def producer(topic: str) -> Iterator[LedgerProducer]:
    with LedgerProducer(_bootstrap(), topic, bootstrap_timeout_ms=5000, client_id=CLIENT) as p:
        yield p


def _consume(topic: str, expected: int) -> list[ConsumerRecord]:
    """Every record of the topic (waits for ``expected``, then one more poll to catch extras)."""
    consumer = KafkaConsumer(
        bootstrap_servers=_bootstrap(), enable_auto_commit=False, client_id=CLIENT, group_id=None
    )
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        records: list[ConsumerRecord] = []
        deadline = time.monotonic() + CONSUME_BUDGET_S
        while len(records) < expected and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        for batch in consumer.poll(timeout_ms=1000).values():
            records.extend(batch)
    finally:
        consumer.close()
    return records


# --- fictional events ---


@dataclasses.dataclass(frozen=True)
class PrivacyNotice:
    """A typed payload, as an upstream team might declare it."""

    notice_version: str
    article: str
    topics: tuple[str, ...]
    channel: str
    language: str | None = None


def _payloads(n: int) -> list[tuple[str, Any]]:
    """Six payloads of one subject's journey, in the order they are sent."""
    return [
        ("SubjectRegistered", {"roles": ["website_user"], "display_name": f"Alex Example {n}"}),
        ("PrivacyNoticeProvided", PrivacyNotice("2026-01", "art13", ("general",), "email", "en-GB")),
        (
            "DataCollected",
            {
                "data_items": [
                    {"category": "contact_details", "field": "email", "value": f"alex{n}@example.com"}
                ],
                "source": {"type": "data_subject", "channel": "online"},
                "purposes": [{"purpose": "records_administration", "lawful_basis": "contract"}],
                "processing_means": "automated",
            },
        ),
        (
            "ConsentGiven",
            {
                "consent_id": str(uuid.uuid4()),
                "purpose": "b2b_marketing",
                "method": "web_form",
                "notice_version": "2026-01",
                "explicit": True,
                "evidence": {"form": "newsletter", "ip": "192.0.2.10"},
            },
        ),
        (
            "DataUsed",
            {
                "purpose": "b2b_marketing",
                "lawful_basis": "consent",
                "categories": ["contact_details"],
                "channel": "email",
            },
        ),
        ("MarketingPreferenceChanged", {"channel": "email", "preference": "opt_out"}),
    ]


def _journeys() -> list[dict[str, Any]]:
    """Sixty events for ten subjects, interleaved: step 1 of everyone, then step 2, ..."""
    subjects = [str(uuid.uuid4()) for _ in range(SUBJECTS)]
    steps = [_payloads(n) for n in range(SUBJECTS)]
    return [
        build_event(event_type, subject, payload, producer_system="web-platform", correlation_id=f"j-{n}")
        for step in range(6)
        for n, subject in enumerate(subjects)
        for event_type, payload in [steps[n][step]]
    ]


def _notice_event(**payload: Any) -> dict[str, Any]:
    body = {"notice_version": "2026-01", "article": "art14", "topics": [], "channel": "email", **payload}
    return build_event("PrivacyNoticeProvided", str(uuid.uuid4()), body, producer_system="crm")


# --- building events (no broker) ---


def test_build_event_makes_the_json_form_with_defaults_from_the_clock() -> None:
    fixed = datetime(2026, 3, 2, 9, 15, 0, 250000, tzinfo=UTC)
    event = build_event(
        "PrivacyNoticeProvided",
        "0f6c2d3e-0000-4000-8000-000000000002",
        PrivacyNotice("2026-01", "art13", ("general", "cra_sharing"), "email"),
        producer_system="web-platform",
        producer_instance="web-1",
        clock=lambda: fixed,
    )
    assert event["occurred_at"] == "2026-03-02T09:15:00.250000Z"
    assert event["schema_version"] == 1
    assert event["producer"] == {"system": "web-platform", "instance": "web-1"}
    assert uuid.UUID(event["event_id"]).version == 4
    # None fields of a typed payload are dropped; tuples become JSON lists.
    assert event["payload"] == {
        "notice_version": "2026-01",
        "article": "art13",
        "topics": ["general", "cra_sharing"],
        "channel": "email",
    }
    assert not {"correlation_id", "actor_ref"} & set(event)
    assert validate_event(event, load_code_lists(), fixed) == event


def test_build_event_without_a_subject_leaves_subject_id_out() -> None:
    event = build_event(
        "AlertResolved", None, {"alert_id": str(uuid.uuid4()), "note": "Done."}, producer_system="dpo"
    )
    assert "subject_id" not in event


@pytest.mark.parametrize(
    "setting",
    [
        {"acks": 1},
        {"acks": 0},
        {"acks": "1"},
        {"retries": 0},
        {"max_in_flight_requests_per_connection": 6},
        {"enable_idempotence": False},
        {"value_serializer": str.encode},
        {"no_such_setting": 1},
    ],
)
def test_the_producer_refuses_settings_that_would_silently_disable_idempotence(
    setting: dict[str, Any],
) -> None:
    with pytest.raises(ProducerConfigError) as info:
        LedgerProducer(_bootstrap(), "privacy.events.v1", **setting)
    assert isinstance(info.value, ConsumerError) and isinstance(info.value, LedgerError)
    assert str(next(iter(setting))) in str(info.value)


def test_an_unreachable_broker_is_a_consumer_error_not_a_kafka_one() -> None:
    with pytest.raises(BrokerUnavailable):
        LedgerProducer("127.0.0.1:1", bootstrap_timeout_ms=1000)


# --- against the broker ---


@pytest.mark.kafka
def test_events_come_back_keyed_by_subject_in_one_partition_in_send_order(
    producer: LedgerProducer, topic: str
) -> None:
    events = _journeys()
    report = producer.send_many(events)
    assert report == PublishReport(sent=60, rejected=[])
    # The broker handed out a producer id, i.e. idempotence is really on (private attributes,
    # checked only while kafka-python keeps them).
    kafka = producer._kafka
    assert getattr(kafka, "config", {}).get("acks") == -1
    manager = getattr(kafka, "_transaction_manager", None)
    assert manager is not None and manager.producer_id_and_epoch.is_valid

    records = _consume(topic, len(events))
    codec, codes, now = AvroCodec(), load_code_lists(), datetime.now(UTC)
    by_id = {e["event_id"]: e for e in events}
    received = [codec.decode(r.value) for r in records]
    assert sorted(e["event_id"] for e in received) == sorted(by_id), "every event exactly once"
    for record, event in zip(records, received, strict=True):
        sent = by_id[event["event_id"]]
        assert record.key == sent["subject_id"].encode("utf-8")
        assert event == validate_event(sent, codes, now)
        assert record.value[2:10] == codec.current.fingerprint
    notices = [e for e in received if e["event_type"] == "PrivacyNoticeProvided"]
    assert all(e["payload"]["language"] == "en-GB" for e in notices)

    partitions: dict[str, set[int]] = {}
    order: dict[str, list[tuple[int, str]]] = {}
    for record, event in zip(records, received, strict=True):
        partitions.setdefault(event["subject_id"], set()).add(record.partition)
        order.setdefault(event["subject_id"], []).append((record.offset, event["event_id"]))
    assert all(len(p) == 1 for p in partitions.values())
    assert len(set().union(*partitions.values())) > 1, "ten subjects should spread over partitions"
    for subject, seen in order.items():
        sent_order = [e["event_id"] for e in events if e["subject_id"] == subject]
        assert [event_id for _, event_id in sorted(seen)] == sent_order


@pytest.mark.kafka
def test_an_invalid_event_raises_event_rejected_and_is_not_sent(producer: LedgerProducer, topic: str) -> None:
    bad = _journeys()[SUBJECTS * 2]  # a DataCollected
    bad["payload"]["data_items"][0]["category"] = SECRET
    with pytest.raises(EventRejected) as info:
        producer.send(bad)
    assert (info.value.code, info.value.path) == ("UNKNOWN_CODE", "/payload/data_items/0/category")
    assert SECRET not in str(info.value)
    with pytest.raises(EventRejected) as info:
        producer.send(_notice_event(language="en_GB"))
    assert (info.value.code, info.value.path) == ("INVALID_VALUE", "/payload/language")

    good = _notice_event(language="cy")
    delivered = producer.send(good).get(timeout=30)
    (record,) = _consume(topic, 1)
    assert (record.partition, record.offset) == (delivered.partition, delivered.offset)
    assert AvroCodec().decode(record.value)["event_id"] == good["event_id"] == delivered.event_id


@pytest.mark.kafka
def test_the_ledgers_own_subject_id_is_refused_and_not_sent(producer: LedgerProducer, topic: str) -> None:
    body = {"notice_version": "2026-01", "article": "art14", "topics": [], "channel": "email"}
    reserved = build_event("PrivacyNoticeProvided", LEDGER_SUBJECT_ID, body, producer_system="crm")
    with pytest.raises(EventRejected) as info:
        producer.send(reserved)
    assert (info.value.code, info.value.path) == ("INVALID_VALUE", "/subject_id")
    good = _notice_event()
    producer.send(good).get(timeout=30)
    assert [AvroCodec().decode(r.value)["event_id"] for r in _consume(topic, 1)] == [good["event_id"]]


@pytest.mark.kafka
def test_send_many_reports_invalid_events_by_index_and_sends_the_rest(
    producer: LedgerProducer, topic: str
) -> None:
    events = [_notice_event(), _notice_event(language="english"), _notice_event()]
    events[2]["subject_id"] = SECRET
    report = producer.send_many(events)
    assert report == PublishReport(
        sent=1,
        rejected=[Rejection(1, "INVALID_VALUE", "/payload/language"), (2, "INVALID_UUID", "/subject_id")],
    )
    assert len(_consume(topic, 1)) == 1


@pytest.mark.kafka
def test_a_nanosecond_occurred_at_as_java_writes_it_is_sent_as_written(producer: LedgerProducer) -> None:
    # Instant.now().toString() in Java, time.RFC3339Nano in Go: 9 fractional digits (spec 3.1).
    body = {"notice_version": "2026-01", "article": "art14", "topics": [], "channel": "email"}
    event = build_event(
        "PrivacyNoticeProvided",
        str(uuid.uuid4()),
        body,
        producer_system="crm",
        occurred_at="2026-03-02T09:15:00.123456789Z",
    )
    _, value = producer.encode_only(event)
    assert AvroCodec().decode(value)["occurred_at"] == "2026-03-02T09:15:00.123456789Z"
    event["occurred_at"] = "2026-03-02T09:15:00.1234567891Z"  # 10 digits: refused, not sent
    with pytest.raises(EventRejected) as info:
        producer.encode_only(event)
    assert (info.value.code, info.value.path) == ("INVALID_TIMESTAMP", "/occurred_at")


@pytest.mark.kafka
def test_an_event_without_a_subject_is_keyed_by_its_event_id(producer: LedgerProducer) -> None:
    event = build_event(
        "AlertAcknowledged", None, {"alert_id": str(uuid.uuid4()), "note": "Seen."}, producer_system="dpo"
    )
    key, value = producer.encode_only(event)
    assert key == event["event_id"].encode("utf-8")
    assert AvroCodec().decode(value) == event


@pytest.mark.kafka
def test_publish_file_reports_a_bad_line_with_its_number_and_code(
    producer: LedgerProducer, topic: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unknown_channel = _notice_event()
    unknown_channel["payload"]["channel"] = SECRET
    lines = [
        json.dumps(_notice_event()),
        '{"event_id": "' + SECRET + '", ',  # line 2: not JSON
        "",  # line 3: blank lines are skipped
        json.dumps(unknown_channel),
        json.dumps(_notice_event(language="de-CH")),
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    report = publish_file(path, producer)
    assert report.sent == 2
    assert report.rejected == [(2, "MALFORMED_JSON", ""), (4, "UNKNOWN_CODE", "/payload/channel")]
    assert len(_consume(topic, 2)) == 2

    # The same file through the `publish` command: a JSON report, exit 3 because lines were refused.
    parser = argparse.ArgumentParser()
    add_publish_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["publish", str(path), "--bootstrap", _bootstrap(), "--topic", topic])
    assert args.func(args) == 3
    out = capsys.readouterr().out
    assert json.loads(out) == {
        "sent": 2,
        "rejected": [
            {"line": 2, "code": "MALFORMED_JSON", "path": ""},
            {"line": 4, "code": "UNKNOWN_CODE", "path": "/payload/channel"},
        ],
    }
    assert SECRET not in out
    assert len(_consume(topic, 4)) == 4


@pytest.mark.kafka
def test_publish_exits_0_when_every_line_was_sent(topic: str, tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps(_notice_event()) + "\n", encoding="utf-8")
    parser = argparse.ArgumentParser()
    add_publish_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["publish", str(path), "--bootstrap", _bootstrap(), "--topic", topic])
    assert args.func(args) == 0
    assert len(_consume(topic, 1)) == 1
