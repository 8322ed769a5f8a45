"""The local calendar (spec 2, 7.2, 8): London dates across BST, add_months, bank holidays and the roll."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.calendars import CalendarError, load_calendar
from ledger.domain.calendar import (
    CalendarRangeError,
    HolidayCalendar,
    add_months,
    days_in_month,
    end_of_day_london,
    london_date,
    utc_text,
)

EW = load_calendar()


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- London local dates (D1) -----------------------------------------------------------------------
def test_zoneinfo_has_europe_london() -> None:
    assert london_date(utc("2026-07-01T12:00:00Z")) == date(2026, 7, 1)


@pytest.mark.parametrize(
    ("instant", "local"),
    [
        # Summer (BST, UTC+1): 23:30Z is already the next day in London.
        ("2026-06-30T23:30:00Z", date(2026, 7, 1)),
        ("2026-06-30T22:59:59.999999Z", date(2026, 6, 30)),
        ("2026-06-30T23:00:00Z", date(2026, 7, 1)),
        # Winter (GMT): UTC and London agree.
        ("2026-01-31T23:30:00Z", date(2026, 1, 31)),
        ("2026-02-01T00:00:00Z", date(2026, 2, 1)),
    ],
)
def test_london_date_follows_bst_and_gmt(instant: str, local: date) -> None:
    assert london_date(utc(instant)) == local


@pytest.mark.parametrize(
    ("instant", "local"),
    [
        # 2026: BST starts Sun 29 Mar 01:00Z, ends Sun 25 Oct 01:00Z.
        ("2026-03-28T23:30:00Z", date(2026, 3, 28)),
        ("2026-03-29T00:59:59Z", date(2026, 3, 29)),
        ("2026-03-29T22:59:59Z", date(2026, 3, 29)),
        ("2026-03-29T23:00:00Z", date(2026, 3, 30)),
        ("2026-10-24T23:30:00Z", date(2026, 10, 25)),
        ("2026-10-25T00:30:00Z", date(2026, 10, 25)),
        ("2026-10-25T23:30:00Z", date(2026, 10, 25)),
        # 2027: 28 Mar and 31 Oct.
        ("2027-03-27T23:30:00Z", date(2027, 3, 27)),
        ("2027-03-28T23:30:00Z", date(2027, 3, 29)),
        ("2027-10-30T23:30:00Z", date(2027, 10, 31)),
        ("2027-10-31T23:30:00Z", date(2027, 10, 31)),
        # 2028: 26 Mar and 29 Oct.
        ("2028-03-25T23:30:00Z", date(2028, 3, 25)),
        ("2028-03-26T23:30:00Z", date(2028, 3, 27)),
        ("2028-10-28T23:30:00Z", date(2028, 10, 29)),
        ("2028-10-29T23:30:00Z", date(2028, 10, 29)),
    ],
)
def test_london_date_on_2026_to_2028_clock_change_days(instant: str, local: date) -> None:
    assert london_date(utc(instant)) == local


def test_london_date_accepts_any_explicit_offset() -> None:
    paris = timezone(timedelta(hours=2))
    assert london_date(datetime(2026, 7, 1, 0, 30, tzinfo=paris)) == date(2026, 6, 30)


def test_london_date_rejects_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="naive"):
        london_date(datetime(2026, 7, 1, 12, 0))


@pytest.mark.parametrize(
    ("day", "end_utc"),
    [
        (date(2026, 1, 15), "2026-01-15T23:59:59.999999Z"),  # GMT
        (date(2026, 7, 15), "2026-07-15T22:59:59.999999Z"),  # BST
        (date(2026, 3, 28), "2026-03-28T23:59:59.999999Z"),  # the day before BST starts
        (date(2026, 3, 29), "2026-03-29T22:59:59.999999Z"),  # BST starts (a 23-hour day)
        (date(2026, 10, 25), "2026-10-25T23:59:59.999999Z"),  # BST ends (a 25-hour day)
        (date(2027, 3, 28), "2027-03-28T22:59:59.999999Z"),
        (date(2027, 10, 31), "2027-10-31T23:59:59.999999Z"),
        (date(2028, 3, 26), "2028-03-26T22:59:59.999999Z"),
        (date(2028, 10, 29), "2028-10-29T23:59:59.999999Z"),
    ],
)
def test_deadline_ends_at_last_microsecond_of_the_london_day(day: date, end_utc: str) -> None:
    end = end_of_day_london(day)
    assert utc_text(end) == end_utc
    assert london_date(end) == day
    assert london_date(end + timedelta(microseconds=1)) == day + timedelta(days=1)


def test_utc_text_renders_z_with_microseconds() -> None:
    assert utc_text(datetime(2026, 7, 1, 0, 30, tzinfo=timezone(timedelta(hours=1)))) == (
        "2026-06-30T23:30:00.000000Z"
    )


@pytest.mark.parametrize(
    ("instant", "text"),
    [
        (datetime(2026, 3, 29, 1, 0, 0, 7, tzinfo=UTC), "2026-03-29T01:00:00.000007Z"),
        (datetime(1000, 1, 1, 1, 59, tzinfo=timezone(timedelta(hours=1))), "1000-01-01T00:59:00.000000Z"),
        (datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), "9999-12-31T23:59:59.999999Z"),
        (datetime(999, 12, 31, 23, 0, 0, 500, tzinfo=UTC), "999-12-31T23:00:00.000500Z"),  # as strftime
    ],
)
def test_utc_text_is_the_same_text_in_every_year(instant: datetime, text: str) -> None:
    assert utc_text(instant) == text
    assert utc_text(instant) == instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- add_months (7.2) ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2026, 1, 1), 1, date(2026, 2, 1)),  # ICO: same date next month
        (date(2025, 1, 31), 1, date(2025, 2, 28)),  # ICO: no 31 Feb, last day of the month
        (date(2024, 1, 31), 1, date(2024, 2, 29)),  # ... 29 Feb in a leap year
        (date(2026, 1, 31), 3, date(2026, 4, 30)),  # extension from 31 Jan is 30 Apr
        (date(2026, 3, 31), 1, date(2026, 4, 30)),
        (date(2026, 11, 30), 3, date(2027, 2, 28)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),  # year boundary
        (date(2026, 5, 31), -3, date(2026, 2, 28)),
    ],
)
def test_add_months_uses_same_day_or_the_months_last_day(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2200, 12, 31)), st.integers(0, 36))
def test_add_months_clamps_to_month_end_and_keeps_the_day_when_it_exists(start: date, n: int) -> None:
    result = add_months(start, n)
    assert (result.year * 12 + result.month) - (start.year * 12 + start.month) == n
    assert result.day <= start.day
    if start.day <= days_in_month(result.year, result.month):
        assert result.day == start.day
    else:
        assert result.day == days_in_month(result.year, result.month)


# -- the working-day roll ---------------------------------------------------------------------------
def test_ico_example_25_nov_2024_is_due_fri_27_dec_2024() -> None:
    end = add_months(date(2024, 11, 25), 1)
    assert end == date(2024, 12, 25)
    assert EW.roll(end) == date(2024, 12, 27)


def test_weekend_end_rolls_to_monday() -> None:
    assert EW.roll(date(2026, 2, 28)) == date(2026, 3, 2)  # Sat -> Mon
    assert EW.roll(date(2026, 3, 1)) == date(2026, 3, 2)  # Sun -> Mon


def test_bank_holidays_roll_to_the_next_working_day() -> None:
    assert EW.roll(date(2026, 4, 3)) == date(2026, 4, 7)  # Good Friday, weekend, Easter Monday
    assert EW.roll(date(2026, 12, 25)) == date(2026, 12, 29)  # Christmas, weekend, Boxing Day (sub)
    assert EW.roll(date(2027, 12, 25)) == date(2027, 12, 29)  # both substitute days
    assert EW.roll(date(2028, 1, 1)) == date(2028, 1, 4)  # New Year's Day substitute Mon 3 Jan
    assert EW.roll(date(2022, 9, 19)) == date(2022, 9, 20)  # State Funeral


def test_a_working_day_does_not_roll() -> None:
    assert EW.roll(date(2026, 3, 10)) == date(2026, 3, 10)
    assert EW.is_working_day(date(2026, 3, 10))
    assert not EW.is_working_day(date(2026, 5, 25))


@given(st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 20)))
def test_rolled_date_is_a_working_day_on_or_after_the_input(d: date) -> None:
    rolled = EW.roll(d)
    assert rolled >= d
    assert EW.is_working_day(rolled)
    assert all(not EW.is_working_day(d + timedelta(days=k)) for k in range((rolled - d).days))
    assert EW.roll(rolled) == rolled


def test_rolling_outside_the_calendar_years_raises_a_clear_error() -> None:
    assert EW.covers(date(2030, 12, 31))
    assert not EW.covers(date(2031, 1, 1))
    with pytest.raises(CalendarRangeError, match="england-and-wales covers 2020-2030"):
        EW.roll(date(2031, 1, 6))
    with pytest.raises(CalendarRangeError):
        EW.roll(date(2019, 12, 31))


def test_roll_that_steps_past_the_last_covered_year_raises() -> None:
    cal = HolidayCalendar("test", frozenset({date(2030, 12, 31)}))
    assert cal.roll(date(2030, 12, 28)) == date(2030, 12, 30)
    with pytest.raises(CalendarRangeError):
        cal.roll(date(2030, 12, 31))


def test_weekend_only_calendar_covers_every_year() -> None:
    cal = HolidayCalendar("weekends", frozenset())
    assert cal.covers(date(1999, 1, 1))
    assert cal.roll(date(2040, 6, 2)) == date(2040, 6, 4)


def test_calendar_rejects_holidays_outside_its_years() -> None:
    with pytest.raises(ValueError, match="outside"):
        HolidayCalendar("bad", frozenset({date(2031, 1, 1)}), first_year=2020, last_year=2030)


# -- the England & Wales file (GOV.UK), cross-checked by an independent computation -----------------
def _easter_sunday(year: int) -> date:
    """Anonymous Gregorian algorithm (Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month, day = divmod(h + l_ - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _monday_on_or_after(d: date) -> date:
    return d + timedelta(days=(7 - d.weekday()) % 7)


def _expected_england_and_wales(year: int) -> set[date]:
    days: set[date] = set()
    new_year = date(year, 1, 1)
    days.add(_monday_on_or_after(new_year) if new_year.weekday() >= 5 else new_year)
    easter = _easter_sunday(year)
    days |= {easter - timedelta(days=2), easter + timedelta(days=1)}
    days.add(date(2020, 5, 8) if year == 2020 else _monday_on_or_after(date(year, 5, 1)))
    last_may_monday = _monday_on_or_after(date(year, 5, 25))
    days.add(date(2022, 6, 2) if year == 2022 else last_may_monday)
    days.add(_monday_on_or_after(date(year, 8, 25)))
    # Christmas and Boxing Day: a weekend day moves to the next weekday not already a holiday.
    for fixed in (date(year, 12, 25), date(year, 12, 26)):
        day = fixed
        while day.weekday() >= 5 or day in days:
            day += timedelta(days=1)
        days.add(day)
    one_offs = {
        2022: {date(2022, 6, 3), date(2022, 9, 19)},  # Platinum Jubilee, State Funeral
        2023: {date(2023, 5, 8)},  # Coronation
    }
    return days | one_offs.get(year, set())


def test_easter_algorithm_matches_known_easter_sundays() -> None:
    known = {2020: (4, 12), 2022: (4, 17), 2024: (3, 31), 2025: (4, 20), 2026: (4, 5), 2029: (4, 1)}
    for year, (month, day) in known.items():
        assert _easter_sunday(year) == date(year, month, day)


def test_england_and_wales_file_matches_independent_computation_2020_to_2030() -> None:
    assert (EW.first_year, EW.last_year) == (2020, 2030)
    for year in range(2020, 2031):
        listed = {d for d in EW.holidays if d.year == year}
        assert listed == _expected_england_and_wales(year), year


@pytest.mark.parametrize(
    "day",
    [
        date(2020, 5, 8),  # early May moved to Friday (VE Day)
        date(2022, 6, 2),  # spring bank holiday moved to Thursday
        date(2022, 6, 3),  # Platinum Jubilee
        date(2022, 9, 19),  # State Funeral
        date(2023, 5, 8),  # Coronation
        date(2026, 12, 28),  # Boxing Day substitute
        date(2027, 12, 27),
        date(2027, 12, 28),
        date(2028, 1, 3),  # New Year's Day substitute
    ],
)
def test_england_and_wales_lists_the_gov_uk_one_offs_and_substitutes(day: date) -> None:
    assert day in EW.holidays


def test_england_and_wales_does_not_list_the_moved_mondays() -> None:
    assert date(2020, 5, 4) not in EW.holidays
    assert date(2022, 5, 30) not in EW.holidays


def test_england_and_wales_file_is_gov_uk_shaped() -> None:
    path = Path(__file__).resolve().parents[2] / "schemas" / "calendars" / "england-and-wales.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["division"] == "england-and-wales"
    assert all({"title", "date"} <= set(e) for e in data["events"])
    assert [e["date"] for e in data["events"]] == sorted(e["date"] for e in data["events"])
    assert len(data["events"]) == len(EW.holidays) == 91


# -- loading other calendars -----------------------------------------------------------------------
def test_other_calendar_is_configured_by_dropping_a_file(tmp_path: Path) -> None:
    path = tmp_path / "scotland.json"
    events = [
        {"title": "2nd January", "date": "2026-01-02"},
        {"title": "St Andrew's Day", "date": "2026-11-30"},
    ]
    path.write_text(json.dumps({"division": "scotland", "events": events}), encoding="utf-8")
    cal = load_calendar("scotland", path)
    assert cal.name == "scotland"
    assert (cal.first_year, cal.last_year) == (2026, 2026)
    assert cal.roll(date(2026, 11, 30)) == date(2026, 12, 1)


def test_loading_is_cached() -> None:
    assert load_calendar() is load_calendar("england-and-wales")


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[]",
        '{"events": {}}',
        '{"events": [{"date": "2026-02-30"}]}',
        '{"events": [], "first_year": "x"}',
    ],
)
def test_malformed_calendar_file_raises_calendar_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CalendarError):
        load_calendar("bad", path)


def test_missing_calendar_or_unsafe_name_raises_calendar_error() -> None:
    with pytest.raises(CalendarError):
        load_calendar("no-such-division")
    with pytest.raises(CalendarError):
        load_calendar("../codelists")
