"""``privacy-ledger project`` and ``privacy-ledger query``: thin entry points over the projections."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from datetime import datetime
from typing import Any

from ledger.bootstrap import Ledger
from ledger.config import Settings
from ledger.errors import LedgerError
from projections.base import ProjectionError
from projections.service import QUERY_NAMES, VIEW_NAMES, Projections

__all__ = ["add_project_command", "add_query_command", "parse_instant"]


def parse_instant(text: str) -> datetime:
    """An RFC 3339 instant with an explicit offset (``Z`` accepted)."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise LedgerError("--as-of needs an explicit offset, e.g. 2026-11-01T12:00:00Z")
    return value


def cmd_project(args: argparse.Namespace) -> int:
    """Keep every view current until stopped, or rebuild views, or catch up once."""
    settings = Settings.from_env()
    ledger = Ledger.open(settings)
    try:
        projections = Projections(ledger.store, ledger.keys, ledger.codes)
        if args.rebuild:
            applied = projections.rebuild(args.rebuild)
            _print({"rebuilt": args.rebuild, "events": applied, "lag": projections.runner.lag()})
            return 0
        if args.once:
            applied = projections.catch_up()
            _print({"applied": applied, "lag": projections.runner.lag()})
            return 0
        if settings.metrics_port:
            from prometheus_client import start_http_server

            start_http_server(settings.metrics_port, addr="127.0.0.1", registry=projections.runner.registry)
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        projections.runner.run_forever(stop)
        return 0
    finally:
        ledger.close()


def cmd_query(args: argparse.Namespace) -> int:
    """Print one view as JSON at ``--as-of`` (default now)."""
    settings = Settings.from_env()
    ledger = Ledger.open(settings)
    try:
        projections = Projections(ledger.store, ledger.keys, ledger.codes)
        if not ledger.store.dialect.is_postgres:
            projections.catch_up()  # the embedded default has no projection service
        as_of = parse_instant(args.as_of) if args.as_of else ledger.clock()
        filters: dict[str, Any] = {
            k: v
            for k, v in (
                ("status", args.status),
                ("code", args.code),
                ("severity", args.severity),
                ("include_closed", args.include_closed),
            )
            if v
        }
        result = projections.query(args.view, as_of=as_of, subject=args.subject, **filters)
    except ProjectionError as exc:
        print(f"privacy-ledger: {exc}", file=sys.stderr)
        return 2
    finally:
        ledger.close()
    if args.limit is not None and isinstance(result, list):
        result = result[: args.limit]
    _print(result)
    return 0


def _print(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def add_project_command(sub: Any) -> None:
    """Register ``project``."""
    s = sub.add_parser("project", help="keep the compliance views current (or rebuild them)")
    s.add_argument("--rebuild", choices=[*VIEW_NAMES, "all"], help="rebuild a view from the first event")
    s.add_argument("--once", action="store_true", help="catch up once and exit")
    s.set_defaults(func=cmd_project)


def add_query_command(sub: Any) -> None:
    """Register ``query``."""
    s = sub.add_parser("query", help="print a compliance view as JSON")
    s.add_argument("view", choices=QUERY_NAMES)
    s.add_argument("--subject", help="a subject id (merged subjects resolve to their survivor)")
    s.add_argument("--as-of", help="an instant with offset (default: now)")
    s.add_argument("--status", help="filter: status (alerts, notices, retention)")
    s.add_argument("--code", help="filter: alert code")
    s.add_argument("--severity", help="filter: alert severity")
    s.add_argument("--include-closed", action="store_true", help="requests: include closed ones")
    s.add_argument("--limit", type=int, help="at most this many rows")
    s.set_defaults(func=cmd_query)
