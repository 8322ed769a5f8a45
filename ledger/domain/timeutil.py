"""Strict parsing of event timestamps (RFC 3339 with explicit offset) and ``YYYY-MM-DD`` dates."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone

__all__ = ["MAX_FRACTION_DIGITS", "canonical_timestamp", "format_instant", "parse_date"]

# RFC 3339 section 5.6 date-time; "T" and "Z" are case-insensitive in its ABNF. At most 9 fractional
# digits (spec 3.1: Java's Instant.toString() and Go's RFC3339Nano write nanoseconds), and the offset is
# mandatory. The instant is computed at microseconds (what Python and PostgreSQL hold), truncated.
MAX_FRACTION_DIGITS = 9
_TIMESTAMP = re.compile(
    rf"(\d{{4}})-(\d{{2}})-(\d{{2}})[Tt](\d{{2}}):(\d{{2}}):(\d{{2}})(?:\.(\d{{1,{MAX_FRACTION_DIGITS}}}))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))",
    re.ASCII,
)
_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)


def canonical_timestamp(text: str) -> datetime:
    """Parse an RFC 3339 timestamp with explicit offset into an aware datetime in UTC.

    Fractional digits past the sixth (nanoseconds) are truncated, never rounded: the instant never
    moves into the next microsecond. Raises ValueError for anything else: no offset, more than 9
    fractional digits, an impossible date or time (2026-02-30, 24:00, a leap second), or an offset
    beyond ±23:59.
    """
    m = _TIMESTAMP.fullmatch(text) if isinstance(text, str) else None
    if m is None:
        raise ValueError("not an RFC 3339 timestamp with offset")
    year, month, day, hour, minute, second = (int(g) for g in m.group(1, 2, 3, 4, 5, 6))
    micro = int((m.group(7) or "")[:6].ljust(6, "0"))
    if m.group(8):
        offset = timedelta(0)
    else:
        off_h, off_m = int(m.group(10)), int(m.group(11))
        if off_h > 23 or off_m > 59:
            raise ValueError("offset out of range")
        offset = timedelta(hours=off_h, minutes=off_m)
        if m.group(9) == "-":
            offset = -offset
    # datetime() rejects impossible dates and times (including second 60: a leap second has no
    # instant here).
    local = datetime(year, month, day, hour, minute, second, micro, tzinfo=timezone(offset))
    try:
        return local.astimezone(UTC)
    except OverflowError as exc:  # e.g. 9999-12-31T23:59:59-01:00 lies past datetime.max in UTC
        raise ValueError("timestamp out of range") from exc


def parse_date(text: str) -> date:
    """Parse a ``YYYY-MM-DD`` calendar date; ValueError if malformed or impossible (2026-02-30)."""
    m = _DATE.fullmatch(text) if isinstance(text, str) else None
    if m is None:
        raise ValueError("not a YYYY-MM-DD date")
    return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))


def format_instant(when: datetime) -> str:
    """RFC 3339 UTC text with microseconds, as the ledger writes ``recorded_at``."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
