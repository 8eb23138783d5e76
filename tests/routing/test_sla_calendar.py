"""Working-time arithmetic on the Saudi calendar behind response-time targets."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest
from hijridate import Hijri

from shared.sla.calendar import (
    RIYADH,
    CalendarError,
    WorkingCalendar,
    load_calendar,
    load_holidays,
    parse_hours,
)

PLAIN = WorkingCalendar()  # Sunday-Thursday, 08:00-15:00 Riyadh, no holidays


def riyadh(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A Riyadh wall-clock instant."""
    return datetime(year, month, day, hour, minute, tzinfo=RIYADH)


def test_one_hour_on_sunday_morning() -> None:
    assert PLAIN.add_working_hours(riyadh(2026, 3, 1, 9), 1) == riyadh(2026, 3, 1, 10)


def test_result_is_in_utc() -> None:
    result = PLAIN.add_working_hours(riyadh(2026, 3, 1, 9), 1)
    assert result.tzinfo is UTC
    assert result == datetime(2026, 3, 1, 7, tzinfo=UTC)


def test_start_in_another_time_zone() -> None:
    start = datetime(2026, 3, 1, 5, tzinfo=UTC)  # 08:00 in Riyadh
    assert PLAIN.add_working_hours(start, 3) == riyadh(2026, 3, 1, 11)


def test_thursday_afternoon_skips_the_weekend() -> None:
    assert PLAIN.add_working_hours(riyadh(2026, 3, 5, 14), 2) == riyadh(2026, 3, 8, 9)


def test_start_on_friday_counts_from_sunday_morning() -> None:
    assert PLAIN.add_working_hours(riyadh(2026, 3, 6, 10), 1.5) == riyadh(2026, 3, 8, 9, 30)


def test_start_after_hours_counts_from_next_morning() -> None:
    assert PLAIN.add_working_hours(riyadh(2026, 3, 2, 16, 30), 1) == riyadh(2026, 3, 3, 9)


def test_start_before_hours_counts_from_that_morning() -> None:
    assert PLAIN.add_working_hours(riyadh(2026, 3, 2, 6), 1) == riyadh(2026, 3, 2, 9)


def test_zero_hours_inside_working_time_is_the_start() -> None:
    assert PLAIN.add_working_hours(riyadh(2026, 3, 2, 10, 15), 0) == riyadh(2026, 3, 2, 10, 15)


def test_zero_hours_at_closing_time_moves_to_next_morning() -> None:
    assert PLAIN.add_working_hours(riyadh(2026, 3, 5, 15), 0) == riyadh(2026, 3, 8, 8)


def test_hours_ending_at_closing_time_stay_on_that_day() -> None:
    assert PLAIN.add_working_hours(riyadh(2026, 3, 1, 8), 7) == riyadh(2026, 3, 1, 15)


def test_seven_working_days_are_49_hours() -> None:
    # Sun 1 Mar .. Thu 5 Mar, then Sun 8 and Mon 9 Mar: seven full days of 7 hours.
    assert PLAIN.add_working_hours(riyadh(2026, 3, 1, 8), 49) == riyadh(2026, 3, 9, 15)


def test_seven_working_days_measure_49_hours() -> None:
    seconds = PLAIN.working_seconds_between(riyadh(2026, 3, 1, 8), riyadh(2026, 3, 10, 8))
    assert seconds == 49 * 3600


def test_720_hours_is_102_days_and_6_hours() -> None:
    # 102 full days = 20 weeks + Sun, Mon; the remaining 6 hours fall on Tue 21 Jul.
    assert PLAIN.add_working_hours(riyadh(2026, 3, 1, 8), 720) == riyadh(2026, 7, 21, 14)


def test_no_working_seconds_over_a_weekend() -> None:
    assert PLAIN.working_seconds_between(riyadh(2026, 3, 5, 15), riyadh(2026, 3, 8, 8)) == 0


def test_no_working_seconds_when_end_is_before_start() -> None:
    assert PLAIN.working_seconds_between(riyadh(2026, 3, 2, 12), riyadh(2026, 3, 2, 10)) == 0


def test_naive_start_is_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        PLAIN.add_working_hours(datetime(2026, 3, 1, 9), 1)


def test_negative_hours_are_rejected() -> None:
    with pytest.raises(ValueError, match="hours"):
        PLAIN.add_working_hours(riyadh(2026, 3, 1, 9), -1)


def test_calendar_without_workdays_is_rejected() -> None:
    with pytest.raises(ValueError, match="workdays"):
        WorkingCalendar(workdays=frozenset())


def test_national_day_on_a_workday_is_skipped() -> None:
    calendar = load_calendar(years=range(2026, 2027))
    assert date(2026, 9, 23).weekday() == 2  # Wednesday
    assert not calendar.is_working_day(date(2026, 9, 23))
    assert calendar.add_working_hours(riyadh(2026, 9, 22, 14), 2) == riyadh(2026, 9, 24, 9)


def test_eid_al_fitr_1447_covers_1_shawwal() -> None:
    first_shawwal = date(*Hijri(1447, 10, 1).to_gregorian().datetuple())
    assert first_shawwal == date(2026, 3, 20)
    holidays = load_holidays(years=range(2026, 2027))
    eid = sorted(day for day, holiday in holidays.items() if holiday.code == "eid_al_fitr")
    assert eid == [date(2026, 3, 18) + timedelta(days=n) for n in range(7)]
    assert first_shawwal in eid


def test_eid_al_adha_1447_starts_on_arafat_day() -> None:
    holidays = load_holidays(years=range(2026, 2027))
    eid = sorted(day for day, holiday in holidays.items() if holiday.code == "eid_al_adha")
    assert eid[0] == date(*Hijri(1447, 12, 9).to_gregorian().datetuple())
    assert len(eid) == 6


def test_years_past_the_umm_al_qura_table_still_load() -> None:
    holidays = load_holidays(years=range(2076, 2080))
    assert date(2079, 9, 23) in holidays
    assert all(day.year <= 2077 for day, h in holidays.items() if h.code == "eid_al_adha")


def test_extra_dates_are_holidays(tmp_path: Path) -> None:
    path = tmp_path / "holidays.yaml"
    path.write_text("extra:\n  - date: 2026-03-03\n    name_en: Bridge day\n", encoding="utf-8")
    calendar = load_calendar(path, years=range(2026, 2027))
    assert calendar.holidays == frozenset({date(2026, 3, 3)})


def test_working_seconds_round_trip() -> None:
    calendar = load_calendar(years=range(2025, 2029))
    rng = random.Random(1447)
    checked = 0
    while checked < 200:
        day = date(2026, 1, 1) + timedelta(days=rng.randrange(730))
        if not calendar.is_working_day(day):
            continue
        offset = timedelta(seconds=rng.uniform(0, 7 * 3600 - 1))
        start = datetime.combine(day, time(8), tzinfo=RIYADH) + offset
        hours = rng.choice([rng.uniform(0, 10), rng.uniform(0, 800), float(rng.randrange(100))])
        end = calendar.add_working_hours(start, hours)
        assert abs(calendar.working_seconds_between(start, end) - hours * 3600) < 1e-6
        checked += 1


def test_parse_hours() -> None:
    assert parse_hours("08:00-15:00") == (time(8), time(15))
    assert parse_hours(" 7:30 - 14:45 ") == (time(7, 30), time(14, 45))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "8-15",
        "08:00",
        "15:00-08:00",
        "08:00-08:00",
        "25:00-26:00",
        "08:60-09:00",
        "08:00–15:00",
    ],
)
def test_parse_hours_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="working hours"):
        parse_hours(text)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("- a list\n", "expected a mapping"),
        ("weekly: []\n", "unknown section"),
        ("fixed: {code: x}\n", "list of mappings"),
        ("fixed:\n  - {code: x, name_ar: x, name_en: x, month: 9, day: 23}\n", "missing key"),
        (
            "fixed:\n  - {code: x, name_ar: x, name_en: x, month: 9, day: 23, length_days: 1,"
            " colour: red}\n",
            "unknown key",
        ),
        (
            "fixed:\n  - {code: x, name_ar: x, name_en: x, month: 13, day: 1, length_days: 1}\n",
            "`month` must be an integer in 1..12",
        ),
        (
            "fixed:\n  - {code: x, name_ar: x, name_en: x, month: 2, day: 30, length_days: 1}\n",
            "02-30",
        ),
        (
            "hijri:\n  - {code: x, name_ar: x, name_en: x, month: 9, day: 31, length_days: 1}\n",
            "`day` must be an integer in 1..30",
        ),
        (
            "hijri:\n  - {code: x, name_ar: '', name_en: x, month: 9, day: 1, length_days: 1}\n",
            "name_ar",
        ),
        ("extra:\n  - {date: 2026-02-30, name_en: x}\n", "day is out of range"),
        ("extra:\n  - {date: '2026-3-1x', name_en: x}\n", "YYYY-MM-DD"),
        (
            "fixed:\n  - {code: x, name_ar: x, name_en: x, month: 9, day: 23, length_days: 1}\n"
            "hijri:\n  - {code: x, name_ar: x, name_en: x, month: 9, day: 29, length_days: 1}\n",
            "duplicate holiday code",
        ),
        ("fixed: [\n", "not valid YAML"),
    ],
)
def test_invalid_holidays_file_is_rejected(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "holidays.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(CalendarError, match=message):
        load_holidays(path, years=range(2026, 2027))
