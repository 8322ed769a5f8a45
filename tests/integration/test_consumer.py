"""Issue 3 acceptance: the consumer group against the real Kafka broker and the real PostgreSQL server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kafka_support import (
    REPO,
    ConsumerProcess,
    PgLedger,
    create_topics,
    publish,
    publish_raw,
    require_broker,
    subject_orders,
    wait_until,
)

from consumers.consumer import ConsumerConfig, LedgerConsumer
from consumers.metrics import ConsumerMetrics
from ledger.avro import AvroCodec
from ledger.bootstrap import Ledger
from ledger.config import Settings
from ledger.ops import exposition_registry
from ledger.sample import generate_events
from ledger.testing import collected, event, new_id

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


@pytest.fixture(scope="module")
def broker() -> None:
    require_broker()


@pytest.fixture
def pg_ledger(pg_url: str, tmp_path: Path) -> Iterator[PgLedger]:
    ledger = PgLedger(pg_url, tmp_path)
    yield ledger
    ledger.drop()


@pytest.fixture
def topics(broker: None) -> tuple[str, str]:
    return create_topics(6)


def _consumer(
    ledger: Ledger,
    topic: str,
    dlq: str,
    *,
    metrics: ConsumerMetrics | None = None,
    batch_size: int = 300,
    decode_workers: int = 1,
) -> LedgerConsumer:
    return LedgerConsumer(
        ledger,
        ConsumerConfig(
            bootstrap=os.environ.get("LEDGER_KAFKA_BOOTSTRAP", "127.0.0.1:19092"),
            topic=topic,
            group=f"g-{uuid.uuid4().hex[:8]}",
            dlq_topic=dlq,
            batch_size=batch_size,
            session_timeout_ms=6000,
            decode_workers=decode_workers,
        ),
        metrics=metrics,
    )


def _consume_in_process(
    pg: PgLedger,
    topic: str,
    dlq: str,
    *,
    metrics: ConsumerMetrics | None = None,
    idle: float = 4.0,
    decode_workers: int = 1,
) -> Ledger:
    ledger = Ledger.open(Settings(database_url=pg.url, master_key_file=pg.key_file, var_dir=pg.tmp / "var"))
    consumer = _consumer(ledger, topic, dlq, metrics=metrics, decode_workers=decode_workers)
    try:
        consumer.run(threading.Event(), idle_exit_s=idle)
    finally:
        consumer.close()
    return ledger


def _assert_exactly_once(pg: PgLedger, events: list[dict[str, Any]]) -> None:
    stored = pg.stored_event_ids()
    assert len(stored) == len(set(stored)), "an event was stored twice"
    published = {e["event_id"] for e in events}
    missing = published - set(stored)
    assert not missing, f"{len(missing)} events were lost"
    counters = pg.counters()
    parked = int(pg.query("SELECT COUNT(*) FROM ledger_parked")[0][0])
    assert counters["stored"] == len(published)
    assert counters["consumed"] == (
        counters["stored"] + counters.get("duplicates", 0) + counters.get("dead_lettered", 0) + parked
    )


def _assert_subject_order(pg: PgLedger, events: list[dict[str, Any]]) -> None:
    position = {eid: i for i, eid in enumerate(pg.stored_event_ids())}
    for subject, ids in subject_orders(events):
        seqs = [position[i] for i in ids]
        assert seqs == sorted(seqs), f"events of subject {subject} were stored out of order"


def _sample(n: int, seed: int) -> list[dict[str, Any]]:
    events = generate_events(seed=seed, subjects=n // 14 + 50)
    assert len(events) >= n
    return events[:n]  # a time-ordered prefix: every reference still points backwards


def test_10000_events_over_6_partitions_are_stored_exactly_once_in_subject_order(
    topics: tuple[str, str], pg_ledger: PgLedger
):
    topic, dlq = topics
    events = _sample(10_000, seed=21)
    publish(topic, events)
    ledger = _consume_in_process(pg_ledger, topic, dlq)
    try:
        assert ledger.verify().valid
    finally:
        ledger.close()
    _assert_exactly_once(pg_ledger, events)
    _assert_subject_order(pg_ledger, events)
    offsets = dict(pg_ledger.query("SELECT partition, next_offset FROM ledger_offsets"))
    assert sorted(offsets) == list(range(6)) and sum(offsets.values()) == len(events)


def test_sigkill_mid_batch_then_restart_stores_every_event_exactly_once(
    topics: tuple[str, str], pg_ledger: PgLedger, tmp_path: Path
):
    topic, dlq = topics
    events = _sample(6_000, seed=22)
    publish(topic, events)
    env = pg_ledger.env(topic, dlq, f"g-{uuid.uuid4().hex[:8]}", LEDGER_BATCH_SIZE="150")
    for kill_after in (150, 1_700, 3_900):
        proc = ConsumerProcess(env, tmp_path / "consumer.log")
        wait_until(lambda k=kill_after: len(pg_ledger.stored_event_ids()) >= k, 120, f"{kill_after} stored")
        proc.kill()
    final = ConsumerProcess(env, tmp_path / "consumer.log", idle_exit=6)
    assert final.wait(300) == 0, final.output()[-2000:]
    _assert_exactly_once(pg_ledger, events)
    _assert_subject_order(pg_ledger, events)


def _last_assignment(log: str, topic: str) -> list[int]:
    lines = [line for line in log.splitlines() if "assigned partitions:" in line and "revoked" not in line]
    if not lines:
        return []
    names = lines[-1].split("assigned partitions:", 1)[1].strip()
    return sorted(int(n.split("[")[1].rstrip("]")) for n in names.split(",") if n.startswith(topic))


def test_two_consumers_split_partitions_and_the_survivor_takes_over(
    topics: tuple[str, str], pg_ledger: PgLedger, tmp_path: Path
):
    topic, dlq = topics
    events = _sample(6_000, seed=23)
    first_half, second_half = events[:3_000], events[3_000:]
    publish(topic, first_half)
    env = pg_ledger.env(topic, dlq, f"g-{uuid.uuid4().hex[:8]}", LEDGER_BATCH_SIZE="100")
    a = ConsumerProcess(env, tmp_path / "a.log")
    b = ConsumerProcess(env, tmp_path / "b.log")
    try:
        wait_until(
            lambda: (
                len(_last_assignment(a.output(), topic)) == 3
                and len(_last_assignment(b.output(), topic)) == 3
            ),
            90,
            "both consumers to hold 3 partitions each",
        )
        split = _last_assignment(a.output(), topic) + _last_assignment(b.output(), topic)
        assert sorted(split) == list(range(6)), "the two consumers do not split the partitions"
        wait_until(lambda: len(pg_ledger.stored_event_ids()) >= 1_000, 120, "some events stored")
        a.kill()
        publish(topic, second_half)
        wait_until(lambda: len(pg_ledger.stored_event_ids()) >= len(events), 180, "every event stored")
        wait_until(lambda: _last_assignment(b.output(), topic) == list(range(6)), 60, "b to own all 6")
    finally:
        if b.proc.poll() is None:
            assert b.terminate() == 0
        if a.proc.poll() is None:
            a.kill()
    _assert_exactly_once(pg_ledger, events)
    _assert_subject_order(pg_ledger, events)


def test_redelivered_event_is_stored_once_and_changed_content_is_a_conflict(
    topics: tuple[str, str], pg_ledger: PgLedger
):
    topic, dlq = topics
    codec = AvroCodec()
    subject = new_id()
    original = collected(subject, [("contact_details", "email", "twice.sent@example.com")])
    changed = collected(
        subject, [("contact_details", "email", "changed.sent@example.com")], event_id=original["event_id"]
    )
    key = subject.encode()
    publish_raw(
        topic, [(key, codec.encode(original)), (key, codec.encode(original)), (key, codec.encode(changed))]
    )
    ledger = _consume_in_process(pg_ledger, topic, dlq)
    try:
        assert [e["payload"]["data_items"][0]["value"] for e in ledger.subject_events(subject)] == [
            "twice.sent@example.com"
        ]
        letters = ledger.dead_letters()
    finally:
        ledger.close()
    counters = pg_ledger.counters()
    assert (counters["stored"], counters["duplicates"], counters["dead_lettered"]) == (1, 1, 1)
    assert [(d["error_code"], d["offset"]) for d in letters] == [("DUPLICATE_EVENT_ID_CONFLICT", 2)]
    notices = _dlq_notices(dlq, 1)
    assert notices[0]["headers"]["error_code"] == "DUPLICATE_EVENT_ID_CONFLICT"
    assert "changed.sent" not in json.dumps(notices)


def _dlq_notices(dlq: str, expected: int) -> list[dict[str, Any]]:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        dlq,
        bootstrap_servers=os.environ.get("LEDGER_KAFKA_BOOTSTRAP", "127.0.0.1:19092"),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=5000,
    )
    out = []
    for record in consumer:
        out.append(
            {
                "value": json.loads(record.value),
                "headers": {k: v.decode() for k, v in record.headers},
                "key": record.key.decode(),
            }
        )
        if len(out) >= expected:
            break
    consumer.close()
    return out


@pytest.mark.parametrize("decode_workers", [1, 0], ids=["helper-process", "in-process"])
def test_mixed_batch_stores_valid_events_and_dead_letters_every_bad_kind(
    topics: tuple[str, str], pg_ledger: PgLedger, decode_workers: int
):
    topic, dlq = topics
    codec = AvroCodec()
    subject = new_id()
    valid = [collected(subject, [("job_title", "title", f"Fictional Role {i}")]) for i in range(5)]
    good = codec.encode(valid[0])
    unknown_fingerprint = good[:2] + bytes(8) + good[10:]
    bad_uuid = dict(valid[0], event_id="not-a-uuid")
    unknown_code = json.loads(json.dumps(valid[1]))
    unknown_code["event_id"] = new_id()
    unknown_code["payload"]["data_items"][0]["category"] = "shoe_size"
    future = dict(
        valid[2],
        event_id=new_id(),
        occurred_at=(datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
    key = subject.encode()
    publish_raw(
        topic,
        [(key, codec.encode(e)) for e in valid]
        + [
            (key, b"\x00garbage bytes that are not avro"),
            (key, unknown_fingerprint),
            (key, codec.encode(bad_uuid)),
            (key, codec.encode(unknown_code)),
            (key, codec.encode(future)),
        ],
    )
    ledger = _consume_in_process(pg_ledger, topic, dlq, decode_workers=decode_workers)
    try:
        letters = sorted((d["offset"], d["error_code"], d["error_path"]) for d in ledger.dead_letters())
    finally:
        ledger.close()
    assert letters == [
        (5, "UNKNOWN_SCHEMA", ""),
        (6, "UNKNOWN_SCHEMA", ""),
        (7, "INVALID_UUID", "/event_id"),
        (8, "UNKNOWN_CODE", "/payload/data_items/0/category"),
        (9, "FUTURE_TIMESTAMP", "/occurred_at"),
    ]
    counters = pg_ledger.counters()
    assert (counters["consumed"], counters["stored"], counters["dead_lettered"]) == (10, 5, 5)
    notices = _dlq_notices(dlq, 5)
    assert sorted(int(n["headers"]["offset"]) for n in notices) == [5, 6, 7, 8, 9]
    assert "shoe_size" not in json.dumps(notices) and "Fictional Role" not in json.dumps(notices)


def test_conservation_is_exported_as_prometheus_metrics(topics: tuple[str, str], pg_ledger: PgLedger):
    topic, dlq = topics
    codec = AvroCodec()
    subject, request = new_id(), new_id()
    waiting = event("IdentityVerificationRequested", subject, {"request_id": request, "kind": "identity"})
    stored = collected(subject, [("job_title", "title", "Fictional Analyst")])
    key = subject.encode()
    publish_raw(
        topic,
        [
            (key, codec.encode(waiting)),
            (key, codec.encode(stored)),
            (key, codec.encode(stored)),
            (key, b"garbage"),
        ],
    )
    metrics = ConsumerMetrics()
    ledger = _consume_in_process(pg_ledger, topic, dlq, metrics=metrics)
    # What `consume` serves on /metrics: its own metrics and the ledger's, read from the database.
    registry = exposition_registry(ledger, metrics.registry)

    def sample(name: str, **labels: str) -> float:
        value = registry.get_sample_value(name, labels)
        assert value is not None, name
        return value

    try:
        total = {
            k: sample("ledger_ingest_messages_total", kind=k)
            for k in ("consumed", "stored_producer_events", "duplicates", "dead_lettered")
        }
        parked = sample("ledger_parked_messages")
        gap = sample("ledger_ingest_conservation_gap_messages")
    finally:
        ledger.close()
    assert total == {"consumed": 4, "stored_producer_events": 1, "duplicates": 1, "dead_lettered": 1}
    assert parked == 1 and gap == 0
    assert (
        total["consumed"]
        == total["stored_producer_events"] + total["duplicates"] + total["dead_lettered"] + parked
    )
    assert sample("ledger_consumer_consumed_total") == 4
    assert sample("ledger_consumer_batch_duration_seconds_count") >= 1
    lag = [
        s for m in metrics.registry.collect() if m.name == "ledger_consumer_lag_messages" for s in m.samples
    ]
    assert lag and all(s.value == 0 for s in lag)


def test_event_written_with_an_older_released_schema_is_stored(topics: tuple[str, str], pg_ledger: PgLedger):
    topic, dlq = topics
    codec = AvroCodec()
    versions = sorted(r.version for r in codec.releases)
    assert len(versions) >= 2, "the schema evolution release (v2) is missing"
    subject = new_id()
    notice = {"notice_version": "2026-01", "article": "art13", "topics": ["general"], "channel": "email"}
    old = event("PrivacyNoticeProvided", subject, notice)
    new = event("PrivacyNoticeProvided", subject, {**notice, "language": "en-GB"})
    key = subject.encode()
    publish_raw(topic, [(key, codec.encode(old, version=versions[0])), (key, codec.encode(new))])
    ledger = _consume_in_process(pg_ledger, topic, dlq)
    try:
        stored = ledger.subject_events(subject)
    finally:
        ledger.close()
    assert [e["event_id"] for e in stored] == [old["event_id"], new["event_id"]]
    assert "language" not in stored[0]["payload"]
    assert stored[1]["payload"]["language"] == "en-GB"


def _service(script: str, action: str) -> None:
    subprocess.run(
        [str(REPO / "deploy" / "local" / script), action], check=True, timeout=180, stdout=subprocess.DEVNULL
    )


def test_consumer_survives_broker_and_postgres_restarts(
    topics: tuple[str, str], pg_ledger: PgLedger, tmp_path: Path
):
    topic, dlq = topics
    events = _sample(4_500, seed=24)
    bursts = [events[:1_500], events[1_500:3_000], events[3_000:]]
    env = pg_ledger.env(topic, dlq, f"g-{uuid.uuid4().hex[:8]}", LEDGER_BATCH_SIZE="100")
    proc = ConsumerProcess(env, tmp_path / "consumer.log")
    try:
        publish(topic, bursts[0])
        wait_until(lambda: len(pg_ledger.stored_event_ids()) >= 200, 120, "first events stored")
        _service("kafka.sh", "restart")  # while the first burst is still being consumed
        publish(topic, bursts[1])
        wait_until(lambda: len(pg_ledger.stored_event_ids()) >= 3_000, 180, "events after the broker restart")
        _service("postgres.sh", "stop")
        publish(topic, bursts[2])
        # The consumer polls the third burst and cannot append it: it must retry, not die or skip.
        wait_until(
            lambda: "retrying" in proc.output(), 60, "the consumer to retry against the stopped database"
        )
        _service("postgres.sh", "start")
        wait_until(lambda: len(pg_ledger.stored_event_ids()) >= len(events), 240, "every event stored")
        assert proc.proc.poll() is None, "the consumer died: " + proc.output()[-2000:]
    finally:
        if proc.proc.poll() is None:
            proc.terminate()
    _assert_exactly_once(pg_ledger, events)
    log = proc.output()
    assert "@example.com" not in log, "personal data in the consumer's log"


def _helper_pids(pid: int) -> list[int]:
    """Child processes of ``pid`` (the consumer's decoding helper), from /proc."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        children.extend(int(c) for c in text)
    return children


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_killed_decoding_helper_loses_nothing(topics: tuple[str, str], pg_ledger: PgLedger):
    """Design, exactly-once ingestion: the helper dying mid-run falls back to decoding in-process."""
    topic, dlq = topics
    events = _sample(4_000, seed=26)
    publish(topic, events)
    ledger = Ledger.open(
        Settings(
            database_url=pg_ledger.url, master_key_file=pg_ledger.key_file, var_dir=pg_ledger.tmp / "var"
        )
    )
    consumer = _consumer(ledger, topic, dlq, batch_size=100, decode_workers=1)
    killed: list[int] = []

    def kill_helper_once_started() -> None:
        wait_until(lambda: len(pg_ledger.stored_event_ids()) >= 300, 120, "300 events stored")
        pool = consumer.preparer._pool
        helpers = list(pool._processes or {}) if pool is not None else []
        assert helpers, "the consumer started no decoding helper"
        for pid in helpers:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    killer = threading.Thread(target=kill_helper_once_started)
    killer.start()
    try:
        consumer.run(threading.Event(), idle_exit_s=4)
    finally:
        killer.join()
        consumer.close()
        ledger.close()
    assert killed and not any(_alive(pid) for pid in killed)
    _assert_exactly_once(pg_ledger, events)
    _assert_subject_order(pg_ledger, events)


def test_the_decoding_helper_does_not_outlive_a_killed_consumer(
    topics: tuple[str, str], pg_ledger: PgLedger, tmp_path: Path
):
    """A SIGKILLed consumer leaves no orphan helper process behind (it watches its parent)."""
    topic, dlq = topics
    publish(topic, _sample(1_500, seed=27))
    env = pg_ledger.env(topic, dlq, f"g-{uuid.uuid4().hex[:8]}", LEDGER_BATCH_SIZE="100")
    env["LEDGER_DECODE_WORKERS"] = "1"
    proc = ConsumerProcess(env, tmp_path / "consumer.log")
    wait_until(lambda: len(pg_ledger.stored_event_ids()) >= 200, 120, "200 events stored")
    helpers = _helper_pids(proc.proc.pid)
    assert helpers, "the consumer process started no decoding helper"
    proc.kill()
    wait_until(lambda: not any(_alive(pid) for pid in helpers), 15, "the helper to exit")


def test_a_subject_whose_key_cannot_be_opened_is_dead_lettered_and_the_partition_moves_on(
    topics: tuple[str, str], pg_ledger: PgLedger
):
    """A corrupt key row of one subject rejects its events KEY_UNAVAILABLE; the others are stored."""
    import secrets

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from ledger.store.messages import Message

    topic, dlq = topics
    broken, other = new_id(), new_id()
    setup = Ledger.open(
        Settings(
            database_url=pg_ledger.url, master_key_file=pg_ledger.key_file, var_dir=pg_ledger.tmp / "var"
        )
    )
    try:
        first = collected(broken, [("contact_details", "email", "old.key@example.com")])
        setup.ingest_messages([Message("setup", None, None, event=first)])
        nonce = secrets.token_bytes(12)
        foreign = nonce + AESGCM(AESGCM.generate_key(bit_length=256)).encrypt(nonce, bytes(32), b"other")
        with setup.store.write() as cur:
            cur.execute(
                "UPDATE {t:ledger_keys} SET wrapped = ? "
                "WHERE subject_id = ? AND category = 'contact_details'",
                (foreign, broken),
            )
    finally:
        setup.close()
    codec = AvroCodec()
    blocked = collected(broken, [("contact_details", "email", "blocked.key@example.com")])
    fine = [collected(other, [("contact_details", "email", f"fine.{i}@example.com")]) for i in range(3)]
    publish_raw(
        topic,
        [(other.encode(), codec.encode(fine[0])), (broken.encode(), codec.encode(blocked))]
        + [(other.encode(), codec.encode(e)) for e in fine[1:]],
    )
    ledger = _consume_in_process(pg_ledger, topic, dlq)
    try:
        letters = [(d["event_id"], d["error_code"], d["error_path"]) for d in ledger.dead_letters()]
    finally:
        ledger.close()
    assert letters == [(blocked["event_id"], "KEY_UNAVAILABLE", "/subject_id")]
    counters = pg_ledger.counters()
    assert (counters["consumed"], counters["stored"], counters["dead_lettered"]) == (5, 4, 1)
    assert set(pg_ledger.stored_event_ids()) == {first["event_id"], *(e["event_id"] for e in fine)}
    [notice] = _dlq_notices(dlq, 1)
    assert notice["headers"]["error_code"] == "KEY_UNAVAILABLE"
    assert "blocked.key" not in json.dumps(notice)
