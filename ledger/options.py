"""Checked values of command-line options shared by every ``privacy-ledger`` command.

A bad value is a usage error: ``LedgerError`` (or argparse's ``ArgumentTypeError``), exit 2 with one
line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from ledger.domain.timeutil import canonical_timestamp
from ledger.errors import LedgerError

__all__ = ["EARLIEST_INSTANT", "LATEST_INSTANT", "parse_instant_option", "port_number", "positive_int"]

# The instants --clock and --as-of accept: wide enough for any record, narrow enough that deadline
# arithmetic (months, working days, London dates) never leaves Python's datetime range.
EARLIEST_INSTANT = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_INSTANT = datetime(9000, 1, 1, tzinfo=UTC)


def parse_instant_option(option: str, text: str) -> datetime:
    """The value of ``--clock`` or ``--as-of``: an RFC 3339 instant with explicit offset, in UTC.

    The same parser as ``occurred_at`` (``Z`` or ``±hh:mm``, up to 9 fractional digits). Raises
    ``LedgerError`` for anything else (``yesterday``, month 13, no offset), and for an instant outside
    1900-01-01 .. 9000-01-01 (UTC), which also covers year 9999 with an offset that overflows in UTC.
    """
    try:
        value = canonical_timestamp(text)
    except ValueError:
        raise LedgerError(
            f"{option} must be an RFC 3339 instant with an explicit offset, e.g. 2026-11-01T12:00:00Z, "
            f"got {text!r}"
        ) from None
    if not EARLIEST_INSTANT <= value < LATEST_INSTANT:
        raise LedgerError(f"{option} must lie between 1900-01-01 and 9000-01-01 (UTC), got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An argparse ``type``: a whole number of at least 1 (``--limit``, ``--subjects``)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def port_number(text: str) -> int:
    """An argparse ``type``: a TCP port, 1 to 65535 (``--metrics-port``)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port from 1 to 65535, got {text!r}")
    return value
