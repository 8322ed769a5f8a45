"""``privacy-ledger project`` and ``privacy-ledger query``: thin entry points over the projections."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ledger import exit_codes
from ledger.bootstrap import Ledger
from ledger.config import Settings
from ledger.errors import LedgerError
from ledger.options import parse_instant_option, port_number, positive_int
from ledger.store.database import sqlite_path
from ledger.store.files import read_only_location
from projections.base import ProjectionError
from projections.query_options import (
    QUERY_OPTIONS,
    QueryUsageError,
    UnknownSubjectError,
    check_actor_ref,
    check_query_options,
    check_subject_id,
)
from projections.runner import read_lag
from projections.service import QUERY_NAMES, VIEW_NAMES, Projections

__all__ = ["add_project_command", "add_query_command", "parse_instant"]


def parse_instant(text: str) -> datetime:
    """An ``--as-of`` value: an RFC 3339 instant with an explicit offset; ``LedgerError`` otherwise."""
    return parse_instant_option("--as-of", text)


def cmd_project(args: argparse.Namespace) -> int:
    """Keep every view current until stopped, or rebuild views, or catch up once."""
    settings = Settings.from_env()
    ledger = Ledger.open(settings)
    try:
        # Every pass first expires parked events past their grace, even when nothing new arrived.
        projections = Projections(ledger.store, ledger.keys, ledger.codes, maintenance=ledger.expire_due)
        if args.rebuild or args.once:
            from ledger.progress import Progress

            label = f"project --rebuild {args.rebuild}" if args.rebuild else "project"
            shown = Progress(label, total=projections.runner.head() if args.rebuild else None)
            try:
                if args.rebuild:
                    applied = projections.rebuild(args.rebuild, progress=shown.update)
                else:
                    applied = projections.catch_up(progress=shown.update)
            finally:
                shown.close()
            key = {"rebuilt": args.rebuild, "events": applied} if args.rebuild else {"applied": applied}
            _print({**key, "lag": projections.runner.lag()})
            return 0
        from ledger.ops import caught_up_check, database_check, exposition_registry, start_ops_server

        ops = start_ops_server(
            settings.metrics_host,
            settings.metrics_port if args.metrics_port is None else args.metrics_port,
            exposition_registry(ledger, projections.runner.registry),
            {
                "database": database_check(ledger.store),
                "views": caught_up_check(ledger, settings.ready_max_lag_seconds),
            },
        )
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        # PostgreSQL: several `project` processes may run; one leads (applies, expires, signs), the
        # others stand by (alive and ready: they take over when the leader's connection goes).
        from projections.leader import Leadership

        leadership = Leadership(ledger.store) if ledger.store.dialect.is_postgres else None
        try:
            projections.runner.run_forever(
                stop,
                checkpoint=ledger.checkpoint_if_grown,
                checkpoint_every_s=settings.checkpoint_interval_seconds,
                leadership=leadership,
                standby_poll_seconds=settings.project_standby_poll_seconds,
            )
        finally:
            if ops is not None:
                ops.close()
        return 0
    finally:
        ledger.close()


def cmd_query(args: argparse.Namespace) -> int:
    """Print one view as JSON at ``--as-of`` (default now).

    Exit 2 for an option the view does not take or a value outside its list (checked before the
    ledger is opened), 1 for a ``--subject`` the ledger holds no event for. A view that shows
    decrypted values (``inventory``) needs ``--reason`` and records the read before printing it
    (spec 8); if the record cannot be stored nothing is printed (exit 1).
    """
    from ledger.read_audit import (
        QUERY_VIEWS,
        ReadNotRecorded,
        open_to_read_plaintext,
        record_cli_read,
        required_reason,
    )

    given = {
        "subject": args.subject,
        "actor": args.actor,
        "status": args.status,
        "code": args.code,
        "severity": args.severity,
        "include_closed": args.include_closed,
        "limit": args.limit,
        "cursor": args.cursor,
        "all": args.all,
        "reason": args.reason,
    }
    checked = check_query_options(args.view, given)
    paging = _page_options(args.view, checked)
    if checked.get("subject") is not None:
        checked["subject"] = check_subject_id(checked["subject"])
    if checked.get("actor") is not None:
        checked["actor"] = check_actor_ref(checked["actor"])
    subject = checked.pop("subject", None)
    plaintext = QUERY_VIEWS.get(args.view)
    reason = checked.pop("reason", None)
    if plaintext is not None:
        reason = required_reason(reason, f"query {args.view}")
    as_of_given = parse_instant(args.as_of) if args.as_of else None
    after = None
    if paging is not None and paging.cursor is not None:
        from projections.paging import decode_cursor

        at, after = decode_cursor(paging.cursor, args.view, paging.digest(subject, checked))
        if as_of_given is not None and as_of_given != at:
            raise QueryUsageError("--as-of differs from the instant of --cursor (leave --as-of out)")
        as_of_given = at
    settings = Settings.from_env()
    # The embedded default (SQLite) has no projection service: the views are brought up to date here,
    # unless the database file or its folder is read-only; then (as always on PostgreSQL, where
    # `project` runs as a service) the query reads the views as they are and writes nothing.
    db_file = sqlite_path(settings.database_url) if settings.database_url.startswith("sqlite:") else None
    if plaintext is not None:
        # The read is recorded in the ledger: it needs write access (a read-only ledger exits 2).
        ledger = open_to_read_plaintext(settings)
        catch_up = db_file is not None
    else:
        catch_up = db_file is not None and Path(db_file).is_file() and not read_only_location(Path(db_file))
        ledger = Ledger.open(settings, read_only=not catch_up)
    try:
        projections = Projections(ledger.store, ledger.keys, ledger.codes)
        if catch_up:
            projections.catch_up()
        elif args.view in VIEW_NAMES:
            _check_views(ledger, args.view, embedded=db_file is not None)
        as_of = as_of_given or ledger.clock()
        following = None
        if paging is None or paging.every:
            result = projections.query(args.view, as_of=as_of, subject=subject, **checked)
        else:
            page = projections.page(
                args.view, as_of=as_of, limit=paging.limit, after=after, subject=subject, **checked
            )
            result = page.rows
            if page.after is not None:
                from projections.paging import encode_cursor

                following = encode_cursor(args.view, paging.digest(subject, checked), as_of, page.after)
        if plaintext is not None and subject is not None and reason is not None:
            record_cli_read(ledger, subject, plaintext, reason)
    except ReadNotRecorded as exc:
        print(f"privacy-ledger: {exc}", file=sys.stderr)
        return exit_codes.FAILURE
    except UnknownSubjectError as exc:
        print(f"privacy-ledger: {exc}", file=sys.stderr)
        return exit_codes.FAILURE
    except ProjectionError as exc:
        print(f"privacy-ledger: {exc}", file=sys.stderr)
        return exit_codes.USAGE
    finally:
        ledger.close()
    _print(result)
    if following is not None:
        # stdout stays the JSON list of the page; where the next one starts goes to stderr.
        print(
            f"privacy-ledger: {len(result)} rows shown, more follow: the next page with --cursor {following} "
            "(or --all for every row)",
            file=sys.stderr,
        )
    return exit_codes.OK


@dataclass(frozen=True)
class _Paging:
    """Which page of a list view ``query`` prints."""

    limit: int
    cursor: str | None
    every: bool

    def digest(self, subject: str | None, filters: dict[str, Any]) -> str:
        """The question a cursor continues: the filters (not the page options)."""
        from projections.paging import filters_digest

        return filters_digest("cli", {"subject": subject, **filters})


def _page_options(view: str, checked: dict[str, Any]) -> _Paging | None:
    """The page options taken out of ``checked`` (None for a view that is not a list of rows)."""
    from projections.paging import DEFAULT_PAGE_SIZE
    from projections.query_options import PAGE_OPTIONS

    given = {name: checked.pop(name) for name in PAGE_OPTIONS if name in checked}
    if "limit" not in QUERY_OPTIONS[view]:
        return None
    if given.get("all") and ("limit" in given or "cursor" in given):
        raise QueryUsageError("--all prints every row: it takes neither --limit nor --cursor")
    return _Paging(int(given.get("limit", DEFAULT_PAGE_SIZE)), given.get("cursor"), bool(given.get("all")))


def _check_views(ledger: Ledger, view: str, *, embedded: bool) -> None:
    """Views read as they are: refuse if never built; on a read-only SQLite file say how far behind."""
    if not ledger.store.has_table("view_tracking"):
        raise LedgerError(
            f"the compliance views of the ledger at {ledger.store.location} have not been built yet: "
            "run `privacy-ledger project --once` (it needs write access)"
        )
    if embedded:
        lag = read_lag(ledger.store, [view])[view]
        print(
            f"privacy-ledger: the database is read-only: the {view} view is as last projected "
            f"({lag} events behind); nothing was written",
            file=sys.stderr,
        )


def _print(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def add_project_command(sub: Any) -> None:
    """Register ``project``."""
    s = sub.add_parser(
        "project",
        help="keep the compliance views current (or rebuild them)",
        description="Keep the compliance views current until SIGTERM/SIGINT, or catch up once, or rebuild. "
        "Every pass also expires parked events past LEDGER_PARK_GRACE_SECONDS.",
    )
    s.add_argument(
        "--rebuild",
        choices=[*VIEW_NAMES, "all"],
        help="rebuild a view (or all) from the first event: " + ", ".join([*VIEW_NAMES, "all"]),
    )
    s.add_argument("--once", action="store_true", help="catch up once and exit")
    s.add_argument(
        "--metrics-port",
        type=port_number,
        help="serve /healthz, /readyz and /metrics on LEDGER_METRICS_HOST:PORT (default LEDGER_METRICS_PORT)",
    )
    s.set_defaults(func=cmd_project)


_SEVERITIES = ("critical", "high", "medium", "low", "info")


def add_query_command(sub: Any) -> None:
    """Register ``query``."""
    s = sub.add_parser("query", help="print a compliance view as JSON")
    from ledger.domain.alert_model import SEVERITY

    s.add_argument("view", choices=QUERY_NAMES, help="the view: " + ", ".join(QUERY_NAMES))
    s.add_argument(
        "--subject",
        help="a subject id (merged subjects resolve to their survivor); needed by inventory, consent, "
        "portability",
    )
    s.add_argument(
        "--actor",
        help="reads: only the reads of this actor_ref, as recorded (a staff user's id, or cli:uid:N)",
    )
    s.add_argument("--as-of", help="an instant with offset, e.g. 2026-11-01T12:00:00Z (default: now)")
    s.add_argument(
        "--status",
        help="filter by status. alerts: OPEN, ACKNOWLEDGED, RESOLVED, RETRACTED; notices: EXEMPT, "
        "SATISFIED, SATISFIED_LATE, OVERDUE, PENDING; retention: ERASED, HELD, DEFERRED, DUE, RETAIN",
    )
    s.add_argument("--code", help="filter alerts by code. One of: " + ", ".join(sorted(SEVERITY)))
    s.add_argument(
        "--severity",
        help="filter alerts by severity. One of: "
        + ", ".join(sorted(set(SEVERITY.values()), key=list(_SEVERITIES).index)),
    )
    s.add_argument("--include-closed", action="store_true", help="requests: include closed ones")
    s.add_argument(
        "--limit",
        type=positive_int,
        help="lists: rows per page (a positive integer, default 100); when more follow, stderr says so and "
        "prints the --cursor of the next page",
    )
    s.add_argument(
        "--cursor",
        help="lists: the next page, continuing the query that printed this cursor (same view, filters and "
        "instant)",
    )
    s.add_argument("--all", action="store_true", help="lists: every row, in one answer (for scripts)")
    from ledger.read_audit import add_reason_argument

    add_reason_argument(s, applies=" by inventory (it shows values decrypted)")
    s.set_defaults(func=cmd_query)
