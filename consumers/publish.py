"""Publishing a file of events to Kafka: ``publish_file`` and the ``privacy-ledger publish`` command."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from consumers.errors import ConsumerError
from consumers.producer import LedgerProducer, PublishReport
from ledger import exit_codes
from ledger.config import Settings
from ledger.errors import EventRejected
from ledger.store.ingest import check_input_files, read_messages

__all__ = ["add_publish_command", "cmd_publish", "publish_file", "report_as_dict"]


def publish_file(path: Path, producer: LedgerProducer) -> PublishReport:
    """Send the valid events of a JSON-lines (or ``.avro``) file; report bad ones by line number and code."""
    return producer.send_numbered(_numbered(path))


def _numbered(path: Path) -> Iterator[tuple[int, dict[str, Any] | EventRejected]]:
    try:
        for message in read_messages(path):
            if message.error is not None:
                yield int(message.offset or 0), message.error
            elif message.event is not None:
                yield int(message.offset or 0), message.event
    except OSError as exc:
        raise ConsumerError(f"cannot read {path.name} ({type(exc).__name__})") from exc


def report_as_dict(report: PublishReport) -> dict[str, Any]:
    """The JSON the ``publish`` command prints: the count sent and each refused line's code and path."""
    return {
        "sent": report.sent,
        "rejected": [{"line": r.number, "code": r.code, "path": r.path} for r in report.rejected],
    }


def cmd_publish(args: argparse.Namespace) -> int:
    """Publish a file's events; print the report; exit 0 if every event was sent, 3 if some were refused."""
    check_input_files([Path(args.file)])  # before connecting to the broker
    settings = Settings.from_env()
    bootstrap = args.bootstrap or settings.kafka_bootstrap
    topic = args.topic or settings.kafka_topic
    with LedgerProducer(bootstrap, topic) as producer:
        report = publish_file(Path(args.file), producer)
    json.dump(report_as_dict(report), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return exit_codes.DEAD_LETTERED if report.rejected else exit_codes.OK


def add_publish_command(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``publish FILE [--bootstrap B] [--topic T]`` on the ``privacy-ledger`` parser."""
    s = subparsers.add_parser("publish", help="validate events of a JSON-lines file and send them to Kafka")
    s.add_argument("file", help="a JSON-lines file (one event a line) or .avro file")
    s.add_argument("--bootstrap", help="Kafka bootstrap servers (default: LEDGER_KAFKA_BOOTSTRAP)")
    s.add_argument("--topic", help="topic (default: LEDGER_KAFKA_TOPIC)")
    s.set_defaults(func=cmd_publish)
