"""The spec 8 read audit of the command line: the commands that show decrypted personal values.

Spec 8: "every read of plaintext personal data is itself logged as a non-personal audit record (who,
when, which subject, which projection)". The staff service records its reads in its gate; the commands
of :data:`PLAINTEXT_COMMANDS` record theirs here, through the same ``Ledger.record_read``: one
``PersonalDataViewed`` per subject shown, stored before anything is printed or written. If it cannot
be stored nothing is shown (:class:`ReadNotRecorded`, exit 1). Each takes ``--reason``, a
``read_reason`` code (never free text: a typed reason could name the person), and needs it.

Who: a command has no staff login. It runs on the ledger's host with the ledger's master key, so it is
recorded with the role ``host_operator`` and the actor ``cli:uid:<uid>``, the numeric id of the
operating-system account that ran it: an opaque reference the host's administrator resolves, as the
staff directory resolves a web user's id. Not the account's name: that may be a person's name or, with
directory logins, an e-mail address, which the record must not hold (and ``@`` is refused in it).

Standard library and the ledger only (no FastAPI), like ``ledger.web.roles``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Final

from ledger.bootstrap import Ledger
from ledger.config import Settings
from ledger.errors import LedgerError
from ledger.web.roles import HOST_OPERATOR, Interface, ReadReason, View

__all__ = [
    "EXPORT_VIEWS",
    "PLAINTEXT_COMMANDS",
    "QUERY_VIEWS",
    "READ_REASONS",
    "ReadNotRecorded",
    "add_reason_argument",
    "cli_actor_ref",
    "open_to_read_plaintext",
    "record_cli_read",
    "required_reason",
]

READ_REASONS: Final = tuple(r.value for r in ReadReason)

# The `query` views that show decrypted values (the others show codes, ids and dates only).
QUERY_VIEWS: Final[Mapping[str, View]] = {"inventory": View.INVENTORY}
# What each kind of `export` reads (as the staff service's export routes record it).
EXPORT_VIEWS: Final[Mapping[str, View]] = {
    "subject": View.SUBJECT_EXPORT,
    "request": View.REQUEST_EXPORT,
    "complaint": View.COMPLAINT_EXPORT,
    "access_pack": View.ACCESS_PACK,
}
# Every command that prints or writes decrypted personal values, named as typed (a `query` view after
# the word `query`), with the views its reads record. Every other command and view shows none; the
# test of this table walks the parser, so a new command must be declared one way or the other.
PLAINTEXT_COMMANDS: Final[Mapping[str, tuple[View, ...]]] = {
    "subject": (View.SUBJECT_EVENTS,),
    **{f"query {name}": (view,) for name, view in QUERY_VIEWS.items()},
    "export": tuple(EXPORT_VIEWS.values()),
}


class ReadNotRecorded(LedgerError):
    """The audit record of a plaintext read could not be stored: nothing was shown (exit 1)."""


def add_reason_argument(parser: argparse.ArgumentParser, *, applies: str = "") -> None:
    """Add ``--reason`` (a ``read_reason`` code) to a plaintext command's parser."""
    parser.add_argument(
        "--reason",
        choices=READ_REASONS,
        metavar="REASON",
        help=f"required{applies}: why you read the plaintext, recorded in the ledger with the read "
        "(spec 8) before anything is shown. One of: " + ", ".join(READ_REASONS),
    )


def required_reason(reason: str | None, command: str) -> str:
    """The ``--reason`` given, or a usage error naming the reasons (checked before the ledger opens)."""
    if reason is None:
        raise LedgerError(
            f"{command} shows personal data in plaintext and records the read with its reason: "
            f"give --reason, one of: {', '.join(READ_REASONS)}"
        )
    return reason


def cli_actor_ref() -> str:
    """The read audit's ``actor_ref`` for this process: ``cli:uid:<numeric id of the OS account>``."""
    return f"cli:uid:{os.getuid()}"


def open_to_read_plaintext(settings: Settings, clock: Callable[[], datetime] | None = None) -> Ledger:
    """Open an existing ledger for a plaintext read, which appends its audit record.

    Where there is no ledger (or the master key is not its own) this refuses as the read-only commands
    do, creating nothing; a read-only SQLite ledger is refused too (the read could not be recorded).
    Both are usage errors (exit 2): nothing was read.
    """
    Ledger.open(settings, clock=clock, read_only=True).close()
    if settings.database_url.startswith("sqlite:"):
        from ledger.store.database import sqlite_path
        from ledger.store.files import read_only_location

        path = Path(sqlite_path(settings.database_url))
        if read_only_location(path):
            raise LedgerError(
                f"the ledger at {path} is read-only: a plaintext read is recorded in the ledger before "
                "anything is shown (spec 8), so it needs write access; nothing was shown"
            )
    return Ledger.open(settings, clock=clock)


def record_cli_read(
    ledger: Ledger, subject_id: str, view: View, reason: str, *, case_id: str | None = None
) -> None:
    """Record one plaintext read by this command (``PersonalDataViewed``, interface ``cli``).

    Raises :class:`ReadNotRecorded` (naming only the kind of failure, never a value) if it cannot be
    stored; the command must then show nothing.
    """
    try:
        ledger.record_read(
            subject_id,
            actor_ref=cli_actor_ref(),
            role=HOST_OPERATOR,
            view=str(view),
            reason=reason,
            interface=str(Interface.CLI),
            case_id=case_id,
        )
    except Exception as exc:  # whatever stopped the write (database, lock, key): show nothing
        raise ReadNotRecorded(
            f"the read could not be recorded in the ledger ({type(exc).__name__}); nothing was shown"
        ) from None
