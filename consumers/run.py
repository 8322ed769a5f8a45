"""``privacy-ledger consume``: run the consumer group until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from typing import Any

from consumers.consumer import ConsumerConfig, LedgerConsumer
from consumers.metrics import ConsumerMetrics
from ledger.bootstrap import Ledger
from ledger.config import Settings
from ledger.ops import Check, database_check, exposition_registry, start_ops_server
from ledger.options import port_number, positive_int

__all__ = ["add_consume_command", "broker_check", "ensure_topics"]

log = logging.getLogger(__name__)


def ensure_topics(bootstrap: str, topics: dict[str, int]) -> list[str]:
    """Create the topics that do not exist yet (name -> partitions); returns those created."""
    from kafka.admin import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="privacy-ledger-admin")
    try:
        existing = set(admin.list_topics())
        missing = {name: n for name, n in topics.items() if name not in existing}
        if missing:
            admin.create_topics(
                {name: {"num_partitions": n, "replication_factor": 1} for name, n in missing.items()},
                wait_for_metadata=True,
            )
        return sorted(missing)
    finally:
        admin.close()


def broker_check(bootstrap: str, timeout_ms: int = 2000) -> Check:
    """A readiness check: a Kafka broker of ``bootstrap`` answers (a metadata request)."""

    def check() -> str | None:
        from kafka.admin import KafkaAdminClient
        from kafka.errors import KafkaError

        try:
            admin = KafkaAdminClient(
                bootstrap_servers=bootstrap,
                client_id="privacy-ledger-readyz",
                bootstrap_timeout_ms=timeout_ms,
                request_timeout_ms=timeout_ms,
            )
            try:
                admin.list_topics()
            finally:
                admin.close()
        except (KafkaError, OSError) as exc:
            return f"the Kafka broker does not answer ({type(exc).__name__})"
        return None

    return check


def _connect(
    ledger: Ledger, config: ConsumerConfig, metrics: ConsumerMetrics, stop: threading.Event
) -> LedgerConsumer | None:
    """The consumer, once the broker answers (retried with backoff until ``stop``; then None)."""
    from kafka.errors import KafkaError

    backoff = 1.0
    while not stop.is_set():
        try:
            return LedgerConsumer(ledger, config, metrics=metrics)
        except KafkaError as exc:
            metrics.retries.labels(cause="kafka").inc()
            log.warning(
                "Kafka at %s does not answer (%s); retrying in %.0fs",
                config.bootstrap,
                type(exc).__name__,
                backoff,
            )
            stop.wait(backoff)
            backoff = min(backoff * 2, 30.0)
    return None


def cmd_consume(args: argparse.Namespace) -> int:
    """Consume until stopped; SIGTERM/SIGINT finish (or abandon) the current batch atomically."""
    settings = Settings.from_env()
    config = ConsumerConfig(
        bootstrap=args.bootstrap or settings.kafka_bootstrap,
        topic=args.topic or settings.kafka_topic,
        group=args.group or settings.kafka_group,
        dlq_topic=settings.kafka_dlq_topic,
        batch_size=args.batch_size or settings.batch_size,
        session_timeout_ms=settings.kafka_session_timeout_ms,
        decode_workers=settings.decode_workers,
    )
    if args.create_topics:
        ensure_topics(config.bootstrap, {config.topic: args.partitions, config.dlq_topic: 1})
    metrics = ConsumerMetrics()
    port = args.metrics_port if args.metrics_port is not None else settings.metrics_port
    stop = threading.Event()

    def _stop(signum: int, _: Any) -> None:
        log.warning("signal %d: finishing the current batch, then stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    ledger = Ledger.open(settings)
    if settings.signing_key_file is not None:
        try:
            ledger.signing_key(create=False)  # a bad key file stops here, not at the first checkpoint
        except BaseException:
            ledger.close()
            raise
    try:
        # Up before the broker is reached: while it does not answer, /readyz says so (503).
        ops = start_ops_server(
            settings.metrics_host,
            port,
            exposition_registry(ledger, metrics.registry),
            {"database": database_check(ledger.store), "broker": broker_check(config.bootstrap)},
        )
    except BaseException:
        ledger.close()
        raise
    consumer = None
    try:
        consumer = _connect(ledger, config, metrics, stop)
        if consumer is not None:
            consumer.run(stop, idle_exit_s=args.idle_exit)
    finally:
        if consumer is not None:
            consumer.close()
        if ops is not None:
            ops.close()
        counters = ledger.counts()["counters"]
        ledger.close()
    json.dump({"stopped": True, "ledger_counters": counters}, sys.stdout)
    sys.stdout.write("\n")
    return 0


def add_consume_command(sub: Any) -> None:
    """Register ``consume`` on the CLI's subparsers."""
    s = sub.add_parser("consume", help="consume privacy events from Kafka into the ledger")
    s.add_argument("--bootstrap", help="Kafka bootstrap servers (default LEDGER_KAFKA_BOOTSTRAP)")
    s.add_argument("--topic", help="topic (default LEDGER_KAFKA_TOPIC)")
    s.add_argument("--group", help="consumer group (default LEDGER_KAFKA_GROUP)")
    s.add_argument("--batch-size", type=positive_int, help="records per poll and transaction")
    s.add_argument(
        "--metrics-port",
        type=port_number,
        help="serve /healthz, /readyz and /metrics on LEDGER_METRICS_HOST:PORT (default LEDGER_METRICS_PORT)",
    )
    s.add_argument("--create-topics", action="store_true", help="create the topics if missing")
    s.add_argument("--partitions", type=positive_int, default=6, help="partitions when creating the topic")
    s.add_argument("--idle-exit", type=float, help="exit after this many seconds without records")
    s.set_defaults(func=cmd_consume)
