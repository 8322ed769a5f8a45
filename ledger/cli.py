"""The ``privacy-ledger`` command line: thin entry points over :class:`ledger.bootstrap.Ledger`."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from ledger.bootstrap import Ledger
from ledger.config import Settings
from ledger.errors import LedgerError

__all__ = ["main"]

log = logging.getLogger("ledger")


def _print(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def _clock(settings: Settings, text: str | None) -> Callable[[], datetime] | None:
    if text is None:
        return None
    if not settings.allow_clock_override:
        raise LedgerError("--clock is refused unless LEDGER_ALLOW_CLOCK_OVERRIDE=1 (tests only)")
    fixed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if fixed.tzinfo is None:
        raise LedgerError("--clock needs an explicit offset, e.g. 2026-11-01T12:00:00Z")
    return lambda: fixed


def _open(args: argparse.Namespace) -> Ledger:
    settings = Settings.from_env()
    return Ledger.open(settings, clock=_clock(settings, getattr(args, "clock", None)))


def _project_embedded(ledger: Ledger) -> None:
    """The embedded default (SQLite) has no projection service: bring the views up to date here."""
    if ledger.store.dialect.is_postgres:
        return
    from projections.service import Projections

    Projections(ledger.store, ledger.keys, ledger.codes).catch_up()


def cmd_ingest(args: argparse.Namespace) -> int:
    """Append the events of files; print stored/duplicate/rejected counts."""
    ledger = _open(args)
    try:
        result = ledger.ingest_files([Path(p) for p in args.files])
        _project_embedded(ledger)
    finally:
        ledger.close()
    _print(result.summary())
    return 0


def cmd_subject(args: argparse.Namespace) -> int:
    """Print a subject's events in order, decrypted or redacted."""
    ledger = _open(args)
    try:
        _print(ledger.subject_events(args.subject_id))
    finally:
        ledger.close()
    return 0


def cmd_erase(args: argparse.Namespace) -> int:
    """Erase a subject (all categories, or the given ones) by destroying keys."""
    ledger = _open(args)
    try:
        result = ledger.erase(args.subject_id, args.category or ["*"], reason=args.reason)
        _project_embedded(ledger)
        _print({**result.summary(), "dead_letters": [d.__dict__ for d in result.dead_letters]})
    finally:
        ledger.close()
    return 0 if not result.dead_letters else 1


def cmd_verify(args: argparse.Namespace) -> int:
    """Verify the integrity chain; exit 1 when it is broken."""
    ledger = _open(args)
    try:
        report = ledger.verify()
    finally:
        ledger.close()
    _print(report.as_dict())
    return 0 if report.valid else 1


def cmd_sample(args: argparse.Namespace) -> int:
    """Write fictional sample events (JSON lines), deterministic by seed."""
    from ledger.sample import generate_events, write_jsonl

    events = generate_events(seed=args.seed, subjects=args.subjects)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_jsonl(Path(args.out), events)
    _print({"written": len(events), "out": args.out, "seed": args.seed})
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Generate the sample data, ingest it, print a summary and verify the chain."""
    from ledger.sample import generate_events, write_jsonl

    settings = Settings.from_env()
    out = settings.var_dir / f"sample-seed{args.seed}.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_jsonl(out, generate_events(seed=args.seed, subjects=args.subjects))
    from projections.service import Projections

    ledger = Ledger.open(settings, clock=_clock(settings, args.clock))
    try:
        result = ledger.ingest_files([out])
        counts = ledger.counts()
        report = ledger.verify()
        projections = Projections(ledger.store, ledger.keys, ledger.codes)
        projections.catch_up()
        now = ledger.clock()
        outstanding = projections.query("requests", as_of=now)
        open_alerts = projections.query("alerts", as_of=now, status="OPEN")
    finally:
        ledger.close()
    _print(
        {
            "database": settings.database_url,
            "sample_file": str(out),
            "this_run": result.summary(),
            "ledger": counts,
            "verify": report.as_dict(),
            "outstanding_requests": {
                "count": len(outstanding),
                "overdue": sum(1 for r in outstanding if r["overdue"]),
                "first": [
                    {k: r[k] for k in ("request_id", "request_type", "status", "due_date", "overdue")}
                    for r in outstanding[:5]
                ],
            },
            "open_alerts": {
                "count": len(open_alerts),
                "by_code": _count_by(open_alerts, "code"),
                "first": [
                    {k: a[k] for k in ("code", "severity", "subject_id", "message")} for a in open_alerts[:5]
                ],
            },
            "next": "privacy-ledger query requests | alerts | inventory --subject ID | ropa | ...",
        }
    )
    return 0 if report.valid else 1


def _count_by(rows: list[dict[str, Any]], key: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[str(row[key])] = counts.get(str(row[key]), 0) + 1
    return dict(sorted(counts.items()))


def cmd_dead_letters(args: argparse.Namespace) -> int:
    """List dead letters (codes, paths and ids; never values)."""
    ledger = _open(args)
    try:
        _print(ledger.dead_letters(args.limit))
    finally:
        ledger.close()
    return 0


def cmd_settings(_: argparse.Namespace) -> int:
    """List every setting with its environment variable, default and meaning."""
    _print([{"env": e, "default": d, "description": doc} for e, d, doc in Settings.describe()])
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    p = argparse.ArgumentParser(
        prog="privacy-ledger",
        description="Event-sourced privacy ledger. Database: LEDGER_DATABASE_URL "
        "(default sqlite:///./var/ledger.db); see `privacy-ledger settings`.",
    )
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("ingest", help="append events from JSON-lines or .avro files")
    s.add_argument("files", nargs="+")
    s.add_argument("--clock", help="fixed ledger clock (needs LEDGER_ALLOW_CLOCK_OVERRIDE=1)")
    s.set_defaults(func=cmd_ingest)

    s = sub.add_parser("subject", help="a subject's events, decrypted or redacted")
    s.add_argument("subject_id")
    s.set_defaults(func=cmd_subject)

    s = sub.add_parser("erase", help="erase a subject by destroying its data keys")
    s.add_argument("subject_id")
    s.add_argument("--category", action="append", help="a category code; repeat; default all")
    s.add_argument("--reason", default="erasure_request")
    s.add_argument("--clock", help="fixed ledger clock (needs LEDGER_ALLOW_CLOCK_OVERRIDE=1)")
    s.set_defaults(func=cmd_erase)

    s = sub.add_parser("verify", help="verify the integrity chain")
    s.set_defaults(func=cmd_verify)

    s = sub.add_parser("sample", help="write fictional sample events")
    s.add_argument("--seed", type=int, default=7)
    s.add_argument("--subjects", type=int, default=200)
    s.add_argument("--out", default="var/sample.jsonl")
    s.set_defaults(func=cmd_sample)

    s = sub.add_parser("demo", help="sample data -> ingest -> summary -> verify")
    s.add_argument("--seed", type=int, default=7)
    s.add_argument("--subjects", type=int, default=200)
    s.add_argument("--clock", help="fixed ledger clock (needs LEDGER_ALLOW_CLOCK_OVERRIDE=1)")
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("dead-letters", help="list rejected messages")
    s.add_argument("--limit", type=int, default=100)
    s.set_defaults(func=cmd_dead_letters)

    s = sub.add_parser("settings", help="list the settings and their environment variables")
    s.set_defaults(func=cmd_settings)

    # The Kafka edge lives in `consumers`; its commands register themselves here.
    from consumers.publish import add_publish_command
    from consumers.run import add_consume_command

    add_consume_command(sub)
    add_publish_command(sub)

    from projections.cli import add_project_command, add_query_command

    add_project_command(sub)
    add_query_command(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``privacy-ledger``."""
    level = Settings.from_env().log_level.upper()
    logging.basicConfig(
        level=getattr(logging, level, logging.WARNING), format="%(levelname)s %(name)s: %(message)s"
    )
    # kafka-python is chatty at INFO; its messages carry no event content but drown ours.
    logging.getLogger("kafka").setLevel(max(logging.WARNING, logging.getLogger().level))
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except LedgerError as exc:
        print(f"privacy-ledger: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
