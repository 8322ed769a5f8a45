"""Loading bank-holiday calendars (``schemas/calendars/<name>.json``) into ``HolidayCalendar`` values.

The file format follows one division of the GOV.UK bank-holidays JSON (``division`` and ``events`` with
``date`` and ``title``), plus ``first_year`` and ``last_year``: the years the file lists completely.
Scotland or Northern Ireland are configured by dropping a file of the same format beside the default.
"""

from __future__ import annotations

import json
import re
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from ledger._data import data_path
from ledger.domain.calendar import HolidayCalendar
from ledger.domain.timeutil import parse_date
from ledger.errors import LedgerError

__all__ = ["DEFAULT_CALENDAR", "DEFAULT_CALENDARS_DIR", "CalendarError", "load_calendar"]

DEFAULT_CALENDAR = "england-and-wales"
DEFAULT_CALENDARS_DIR = data_path("schemas", "calendars")
_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}", re.ASCII)


class CalendarError(LedgerError):
    """A holiday-calendar file is missing, unreadable or malformed."""


def load_calendar(name: str = DEFAULT_CALENDAR, path: Path | None = None) -> HolidayCalendar:
    """Read and check a holiday calendar (default ``schemas/calendars/<name>.json``); cached per file."""
    if path is None:
        if not _NAME.fullmatch(name):
            raise CalendarError("calendar name must match [a-z0-9][a-z0-9-]*")
        path = DEFAULT_CALENDARS_DIR / f"{name}.json"
    return _load(name, path.resolve())


@lru_cache(maxsize=8)
def _load(name: str, path: Path) -> HolidayCalendar:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CalendarError(f"cannot read calendar {path}: {type(exc).__name__}") from exc
    try:
        return _from_data(name, data)
    except (ValueError, TypeError, KeyError) as exc:
        raise CalendarError(f"calendar {path}: {exc}") from exc


def _from_data(name: str, data: Any) -> HolidayCalendar:
    if not isinstance(data, dict):
        raise ValueError("top level must be an object")
    events = data["events"]
    if not isinstance(events, list):
        raise ValueError("'events' must be a list")
    holidays: set[date] = set()
    for index, event in enumerate(events):
        if not isinstance(event, dict) or not isinstance(event.get("date"), str):
            raise ValueError(f"events[{index}] needs a 'date' string")
        holidays.add(parse_date(event["date"]))
    first, last = data.get("first_year"), data.get("last_year")
    for key, value in (("first_year", first), ("last_year", last)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise ValueError(f"'{key}' must be an integer")
    division = data.get("division", name)
    return HolidayCalendar(name=str(division), holidays=frozenset(holidays), first_year=first, last_year=last)
