"""The local calendar of spec section 2 and the date functions of section 7.2.

Every date-based rule uses the Europe/London local date of an instant (D1); deadlines end at
23:59:59.999999 Europe/London on the due date (D2); the working-day roll skips weekends and the
holidays of a configurable bank-holiday calendar (D3). Pure functions: the calendar is an argument.
"""

from __future__ import annotations

import calendar as _stdcal
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

__all__ = [
    "LONDON",
    "CalendarRangeError",
    "HolidayCalendar",
    "add_months",
    "days_in_month",
    "end_of_day_london",
    "london_date",
    "utc_text",
]

LONDON: Final = ZoneInfo("Europe/London")
_ONE_DAY: Final = timedelta(days=1)
_END_OF_DAY: Final = time(23, 59, 59, 999999)


class CalendarRangeError(ValueError):
    """A date lies outside the years a holiday calendar lists, so a working-day answer would be a guess."""


def _require_aware(instant: datetime) -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("naive datetime: an instant needs an explicit offset")


def london_date(instant: datetime) -> date:
    """The Europe/London calendar date (GMT or BST) of an aware instant; naive datetimes are rejected."""
    _require_aware(instant)
    return instant.astimezone(LONDON).date()


def end_of_day_london(d: date) -> datetime:
    """The last instant of local day ``d`` (23:59:59.999999 Europe/London) as an aware UTC datetime."""
    # London changes clocks at 01:00 UTC, never near local midnight, so 23:59 local is unambiguous.
    return datetime.combine(d, _END_OF_DAY, tzinfo=LONDON).astimezone(UTC)


def utc_text(instant: datetime) -> str:
    """An aware instant as RFC 3339 UTC text with microseconds and ``Z`` (the ledger's output form)."""
    _require_aware(instant)
    utc = instant.astimezone(UTC)
    if utc.year >= 1000:
        # The same text as the strftime below (``YYYY-MM-DDTHH:MM:SS.ffffff`` then ``+00:00``), twice as fast.
        return utc.isoformat(timespec="microseconds")[:26] + "Z"
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # years before 1000: strftime does not pad them


def days_in_month(year: int, month: int) -> int:
    """Number of days in the given month (leap years included)."""
    return _stdcal.monthrange(year, month)[1]


def add_months(d: date, n: int) -> date:
    """Same day ``n`` months on, clamped to the month's last day (spec 7.2: 31 Jan + 1 = 28/29 Feb)."""
    index = d.year * 12 + (d.month - 1) + n
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(d.day, days_in_month(year, month)))


@dataclass(frozen=True)
class HolidayCalendar:
    """A bank-holiday calendar covering the years ``first_year``..``last_year`` inclusive.

    When the year range is not given it is taken from the listed holidays. A calendar with neither
    holidays nor years counts weekends only and covers every year (useful for tests and what-ifs).
    Asking about a date outside the covered years raises ``CalendarRangeError``.
    """

    name: str
    holidays: frozenset[date]
    first_year: int | None = None
    last_year: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.holidays, frozenset):
            object.__setattr__(self, "holidays", frozenset(self.holidays))
        if self.holidays:
            years = sorted(d.year for d in self.holidays)
            if self.first_year is None:
                object.__setattr__(self, "first_year", years[0])
            if self.last_year is None:
                object.__setattr__(self, "last_year", years[-1])
        if (self.first_year is None) != (self.last_year is None):
            raise ValueError(f"calendar {self.name}: give both first_year and last_year or neither")
        if self.first_year is not None and self.last_year is not None:
            if self.first_year > self.last_year:
                raise ValueError(f"calendar {self.name}: first_year is after last_year")
            outside = [d for d in self.holidays if not self.first_year <= d.year <= self.last_year]
            if outside:
                raise ValueError(f"calendar {self.name}: a holiday lies outside the calendar's years")

    def covers(self, d: date) -> bool:
        """Whether the calendar lists the holidays of ``d``'s year."""
        if self.first_year is None or self.last_year is None:
            return True
        return self.first_year <= d.year <= self.last_year

    def _check(self, d: date) -> None:
        if not self.covers(d):
            raise CalendarRangeError(
                f"calendar {self.name} covers {self.first_year}-{self.last_year}, not {d.isoformat()}"
            )

    def is_working_day(self, d: date) -> bool:
        """Monday to Friday and not a listed holiday."""
        self._check(d)
        return d.weekday() < 5 and d not in self.holidays

    def roll(self, d: date) -> date:
        """The first working day on or after ``d`` (spec 7.2)."""
        while not self.is_working_day(d):
            d += _ONE_DAY
        return d
