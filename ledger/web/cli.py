"""``privacy-ledger serve``, ``users`` and ``tokens``: the staff service and its administration.

Registering these commands imports neither FastAPI nor uvicorn: ``serve`` imports them when it runs.
A password or token is printed once, when made, and never stored or shown again.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
from collections.abc import Iterator
from typing import Any

from ledger import exit_codes
from ledger.errors import LedgerError
from ledger.options import parse_instant_option
from ledger.web.roles import Role

__all__ = ["add_web_commands"]


def _print(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def _open() -> Any:
    from ledger.bootstrap import Ledger
    from ledger.config import Settings

    return Ledger.open(Settings.from_env())


def _directory(ledger: Any) -> Any:
    from ledger.web.identity import Directory

    settings = ledger.settings
    directory = Directory(
        ledger.store,
        ledger.clock,
        token_max_days=settings.web_token_max_days,
        break_glass_hours=settings.web_break_glass_hours,
    )
    directory.ensure_tables()
    return directory


@contextlib.contextmanager
def _staff_directory() -> Iterator[Any]:
    """The staff directory of the ledger, opened for one command and closed after it."""
    ledger = _open()
    try:
        yield _directory(ledger)
    finally:
        ledger.close()


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the staff service until SIGTERM/SIGINT."""
    from ledger.bootstrap import Ledger
    from ledger.config import Settings

    settings = Settings.from_env()
    host = args.host or settings.web_host
    port = settings.web_port if args.port is None else args.port
    import uvicorn

    from ledger.ops import database_check, exposition_registry, start_ops_server
    from ledger.web.app import create_app

    ledger = Ledger.open(settings)
    ops = None
    try:
        app = create_app(ledger, settings)
        # /metrics on the operations port (loopback by default), never on the API's: Prometheus holds no
        # session, and the API's port faces the HTTPS proxy. /healthz and /readyz answer on both.
        ops = start_ops_server(
            settings.metrics_host,
            settings.metrics_port if args.metrics_port is None else args.metrics_port,
            exposition_registry(ledger),
            {"database": database_check(ledger.store)},
        )
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            proxy_headers=True,
            forwarded_allow_ips=settings.web_forwarded_allow_ips,
            access_log=False,  # uvicorn's line has the raw path and query; ledger.web.access logs the route
            server_header=False,
            log_level=settings.log_level.lower(),
            lifespan="on",
        )
        server = uvicorn.Server(config)
        # uvicorn stops on SIGTERM and then raises it again: that second one must not kill the process
        # (a stop by SIGTERM is a normal end, exit 0, as for `consume` and `project`).
        signal.signal(signal.SIGTERM, lambda *_: None)
        print(
            f"privacy-ledger: serving the staff API on http://{host}:{port} (OpenAPI at /openapi.json); "
            "put an HTTPS proxy in front",
            file=sys.stderr,
            flush=True,
        )
        try:
            server.run()
        except SystemExit:  # uvicorn exits 3 when it cannot start (a port in use): a configuration error
            raise LedgerError(f"serve could not start on {host}:{port} (is the port in use?)") from None
        return exit_codes.OK if server.started else exit_codes.USAGE
    finally:
        if ops is not None:
            ops.close()
        ledger.close()


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port from 1 to 65535, got {text!r}")
    return value


def cmd_users_add(args: argparse.Namespace) -> int:
    """Create a user and print its one-time password."""
    from ledger.web.identity import Scope

    expires = parse_instant_option("--expires", args.expires) if args.expires else None
    scope = Scope.of(
        {"subjects": args.subject or (), "requests": args.request or (), "complaints": args.complaint or ()}
    )
    with _staff_directory() as directory:
        user, password = directory.add_user(args.username, Role(args.role), expires_at=expires, scope=scope)
    _print(
        {**user.as_dict(), "password": password, "note": "the password is shown once: pass it on securely"}
    )
    return exit_codes.OK


def cmd_users_list(args: argparse.Namespace) -> int:
    """Print every user (no secret)."""
    with _staff_directory() as directory:
        users = directory.list_users()
    _print([u.as_dict() for u in users])
    return exit_codes.OK


def cmd_users_disable(args: argparse.Namespace) -> int:
    """Disable a user: its sessions end and its tokens stop working."""
    with _staff_directory() as directory:
        user = directory.disable_user(args.username)
    _print(user.as_dict())
    return exit_codes.OK


def cmd_tokens_create(args: argparse.Namespace) -> int:
    """Create an API token and print it once."""
    with _staff_directory() as directory:
        token, info = directory.create_token(
            args.user, role=Role(args.role) if args.role else None, days=args.days
        )
    _print(
        {
            **info.as_dict(),
            "token": token,
            "note": "the token is shown once: send it as Authorization: Bearer",
        }
    )
    return exit_codes.OK


def cmd_tokens_list(args: argparse.Namespace) -> int:
    """Print every token (no secret)."""
    with _staff_directory() as directory:
        tokens = directory.list_tokens()
    _print([t.as_dict() for t in tokens])
    return exit_codes.OK


def cmd_tokens_revoke(args: argparse.Namespace) -> int:
    """Revoke a token now."""
    with _staff_directory() as directory:
        info = directory.revoke_token(args.token_id)
    _print(info.as_dict())
    return exit_codes.OK


def _positive(text: str) -> int:
    from ledger.options import positive_int

    return positive_int(text)


def add_web_commands(sub: Any) -> None:
    """Register ``serve``, ``users`` and ``tokens``."""
    roles = [str(r) for r in Role]
    s = sub.add_parser(
        "serve",
        help="run the staff HTTP API (roles, read audit)",
        description="Runs the staff service: the compliance views, per-subject queries, exports, health and "
        "dead letters over HTTP (OpenAPI 3.1 at /openapi.json), for users with roles (`privacy-ledger users "
        "add`). Every plaintext read is recorded in the ledger. Put an HTTPS proxy in front: sessions need "
        "HTTPS unless LEDGER_WEB_ALLOW_HTTP is on (development). Runs until SIGTERM/SIGINT.",
    )
    s.add_argument("--host", help="address to listen on (default LEDGER_WEB_HOST, 127.0.0.1)")
    s.add_argument("--port", type=_port, help="port to listen on (default LEDGER_WEB_PORT, 8000)")
    s.add_argument(
        "--metrics-port",
        type=_port,
        help="serve /healthz, /readyz and /metrics on LEDGER_METRICS_HOST:PORT (default LEDGER_METRICS_PORT)",
    )
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser("users", help="staff users of `serve`: add, list, disable")
    users = s.add_subparsers(dest="users_command", required=True, help="the user operation")
    s = users.add_parser(
        "add",
        help="add a user; prints its one-time password",
        description="Adds a staff user and prints its password once. Roles: viewer (views without "
        "plaintext), officer (plaintext reads with a reason), dpo (exports), break_glass (raw dead letters; "
        "needs --expires within LEDGER_WEB_BREAK_GLASS_HOURS), admin (users and tokens only), regulator "
        "(exports of the cases named with --subject/--request/--complaint; needs --expires).",
    )
    s.add_argument(
        "username", help="an opaque staff reference: 3-64 of a-z 0-9 . _ -, starting with a letter"
    )
    s.add_argument("--role", required=True, choices=roles, help="one of: " + ", ".join(roles))
    s.add_argument(
        "--expires", help="when the user stops working: an instant with offset, e.g. 2026-12-31T18:00:00Z"
    )
    for option, what in (
        ("--subject", "subject"),
        ("--request", "rights request"),
        ("--complaint", "complaint"),
    ):
        s.add_argument(
            option, action="append", metavar="ID", help=f"regulator: a {what} id granted (repeat for more)"
        )
    s.set_defaults(func=cmd_users_add)
    s = users.add_parser("list", help="list users (no secret)")
    s.set_defaults(func=cmd_users_list)
    s = users.add_parser("disable", help="disable a user: sessions end, tokens stop working")
    s.add_argument("username", help="the user's name")
    s.set_defaults(func=cmd_users_disable)

    s = sub.add_parser("tokens", help="API tokens of `serve`: create, list, revoke")
    tokens = s.add_subparsers(dest="tokens_command", required=True, help="the token operation")
    s = tokens.add_parser(
        "create",
        help="create an API token; prints it once",
        description="Creates an API token for a user and prints it once (send it as Authorization: Bearer). "
        "It acts with the user's role or a lesser one of viewer < officer < dpo, and expires after --days "
        "(at most LEDGER_WEB_TOKEN_MAX_DAYS, and never after its user).",
    )
    s.add_argument("--user", required=True, help="the user the token acts for")
    s.add_argument("--role", choices=roles, help="the role it acts with (default: the user's)")
    s.add_argument("--days", type=_positive, help="days until it expires (default LEDGER_WEB_TOKEN_MAX_DAYS)")
    s.set_defaults(func=cmd_tokens_create)
    s = tokens.add_parser("list", help="list tokens (no secret)")
    s.set_defaults(func=cmd_tokens_list)
    s = tokens.add_parser("revoke", help="revoke a token now")
    s.add_argument("token_id", help="the token's id (the 16 hex digits after plt_)")
    s.set_defaults(func=cmd_tokens_revoke)
