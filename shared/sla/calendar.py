"""Working calendar: add and count working hours across weekends and Saudi public holidays."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any

import yaml
from hijridate import Hijri

RIYADH = timezone(timedelta(hours=3), "AST")  # Saudi Arabia keeps UTC+3 all year (no DST).
DEFAULT_WORKDAYS = frozenset({6, 0, 1, 2, 3})  # Sunday to Thursday, Python weekday numbers.
DEFAULT_DAY_START = time(8)
DEFAULT_DAY_END = time(15)
HOLIDAYS_FILE = Path(__file__).with_name("holidays.yaml")

_ONE_DAY = timedelta(days=1)
_SECTIONS = ("fixed", "hijri", "extra")
_RULE_KEYS = frozenset({"code", "name_ar", "name_en", "month", "day", "length_days"})
_EXTRA_REQUIRED = frozenset({"date", "name_en"})
_EXTRA_OPTIONAL = frozenset({"name_ar", "code"})
_HOURS = re.compile(r"\s*([0-9]{1,2}):([0-9]{2})\s*-\s*([0-9]{1,2}):([0-9]{2})\s*")


class CalendarError(ValueError):
    """The holidays file is malformed; the message names the file, entry and field."""


@dataclass(frozen=True)
class Holiday:
    """A named day off; every date of a multi-day holiday points at the same one."""

    code: str
    name_ar: str
    name_en: str


@dataclass(frozen=True)
class WorkingCalendar:
    """Working days and hours in one time zone, so response-time targets skip time off."""

    workdays: frozenset[int] = DEFAULT_WORKDAYS
    day_start: time = DEFAULT_DAY_START
    day_end: time = DEFAULT_DAY_END
    holidays: frozenset[date] = frozenset()
    tz: tzinfo = RIYADH

    def __post_init__(self) -> None:
        """Reject calendars without working time, which would make arithmetic loop forever."""
        if not self.workdays or not self.workdays <= frozenset(range(7)):
            raise ValueError(f"workdays must be a non-empty subset of 0..6, got {self.workdays}")
        if self.day_start.tzinfo is not None or self.day_end.tzinfo is not None:
            raise ValueError("day_start and day_end must be naive times (tz is separate)")
        if self.day_end <= self.day_start:
            raise ValueError(f"day_end {self.day_end} must be after day_start {self.day_start}")

    def is_working_day(self, day: date) -> bool:
        """Whether `day` is a workday of the week and not a public holiday."""
        return day.weekday() in self.workdays and day not in self.holidays

    def add_working_hours(self, start: datetime, hours: float) -> datetime:
        """The UTC instant at which `hours` of working time have elapsed since `start`."""
        _require_aware(start, "start")
        if not math.isfinite(hours) or hours < 0:
            raise ValueError(f"hours must be a finite number >= 0, got {hours!r}")
        remaining = timedelta(microseconds=round(hours * 3_600_000_000))
        moment = start.astimezone(UTC)
        for begin, end in self._periods(moment):
            if moment >= end:
                continue
            begin = max(begin, moment)
            if remaining <= end - begin:
                return begin + remaining
            remaining -= end - begin
        raise AssertionError("working periods never run out")  # pragma: no cover

    def working_seconds_between(self, start: datetime, end: datetime) -> float:
        """Seconds of working time in [start, end); 0 when `end` is not after `start`."""
        _require_aware(start, "start")
        _require_aware(end, "end")
        if end <= start:
            return 0.0
        total = timedelta()
        for begin, finish in self._periods(start):
            if begin >= end:
                break
            overlap = min(finish, end) - max(begin, start)
            if overlap > timedelta():
                total += overlap
        return total.total_seconds()

    def _periods(self, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
        """UTC (start, end) of each working day, from the local day of `moment` onwards."""
        day = moment.astimezone(self.tz).date()
        while True:
            if self.is_working_day(day):
                yield self._at(day, self.day_start), self._at(day, self.day_end)
            day += _ONE_DAY

    def _at(self, day: date, clock: time) -> datetime:
        """The UTC instant of the local wall-clock time `clock` on `day`."""
        return datetime.combine(day, clock, tzinfo=self.tz).astimezone(UTC)


def _require_aware(moment: datetime, name: str) -> None:
    """Refuse naive datetimes: a deadline is only meaningful at a definite instant."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment!r}")


def parse_hours(text: str) -> tuple[time, time]:
    """Parse a working-hours setting such as "08:00-15:00" into (start, end)."""
    match = _HOURS.fullmatch(text)
    if match is None:
        raise ValueError(f"working hours must look like 08:00-15:00, got {text!r}")
    start_h, start_m, end_h, end_m = (int(group) for group in match.groups())
    try:
        start, end = time(start_h, start_m), time(end_h, end_m)
    except ValueError as exc:
        raise ValueError(f"working hours out of range in {text!r}: {exc}") from exc
    if end <= start:
        raise ValueError(f"working hours must end after they start, got {text!r}")
    return start, end


def load_calendar(
    path: Path | None = None,
    *,
    years: range | None = None,
    workdays: Iterable[int] = DEFAULT_WORKDAYS,
    day_start: time = DEFAULT_DAY_START,
    day_end: time = DEFAULT_DAY_END,
    tz: tzinfo = RIYADH,
) -> WorkingCalendar:
    """A calendar whose holidays come from `path` (default: the packaged holidays.yaml)."""
    holidays = load_holidays(path, years=years)
    return WorkingCalendar(
        workdays=frozenset(workdays),
        day_start=day_start,
        day_end=day_end,
        holidays=frozenset(holidays),
        tz=tz,
    )


def load_holidays(path: Path | None = None, *, years: range | None = None) -> dict[date, Holiday]:
    """Concrete holiday dates in Gregorian `years` (default: last year to five years ahead)."""
    path = HOLIDAYS_FILE if path is None else path
    if years is None:
        this_year = datetime.now(RIYADH).year
        years = range(this_year - 1, this_year + 6)
    raw = _read(path)
    where = str(path)
    fixed = [_rule(entry, at, 31) for at, entry in _entries(raw, "fixed", where)]
    hijri = [_rule(entry, at, 30) for at, entry in _entries(raw, "hijri", where)]
    extra = [_extra(entry, at) for at, entry in _entries(raw, "extra", where)]
    codes = [rule.holiday.code for rule in fixed + hijri]
    duplicates = sorted({code for code in codes if codes.count(code) > 1})
    if duplicates:
        raise CalendarError(f"{where}: duplicate holiday code(s): {', '.join(duplicates)}")

    found: dict[date, Holiday] = {}
    for rule in fixed:
        for year in years:
            try:
                first = date(year, rule.month, rule.day)
            except ValueError:  # 29 February outside leap years
                continue
            _add_span(found, first, rule, years)
    for rule in hijri:
        for hijri_year in _hijri_years(years):
            try:
                y, m, d = Hijri(hijri_year, rule.month, 1).to_gregorian().datetuple()
            except (OverflowError, ValueError):  # outside the Umm al-Qura table (1343-1500 AH)
                continue
            _add_span(found, date(y, m, d) + timedelta(days=rule.day - 1), rule, years)
    for day, holiday in extra:
        if day.year in years:
            found.setdefault(day, holiday)
    return dict(sorted(found.items()))


@dataclass(frozen=True)
class _Rule:
    """A yearly holiday: first day (month/day in its calendar) and number of days off."""

    holiday: Holiday
    month: int
    day: int
    length_days: int


def _add_span(found: dict[date, Holiday], first: date, rule: _Rule, years: range) -> None:
    """Record the `length_days` consecutive days from `first` that fall in `years`."""
    for offset in range(rule.length_days):
        day = first + timedelta(days=offset)
        if day.year in years:
            found.setdefault(day, rule.holiday)


def _hijri_years(years: range) -> range:
    """Hijri years that may overlap the Gregorian `years` (a slightly generous superset)."""
    if not years:
        return range(0)
    low, high = (int((year - 622) * 33 / 32) for year in (min(years), max(years)))
    return range(low - 1, high + 2)


def _read(path: Path) -> dict[Any, Any]:
    """The top-level mapping of the holidays file, with only known sections."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: an impossible date like 02-30
        raise CalendarError(f"{path}: not valid YAML: {exc}") from exc
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise CalendarError(f"{path}: expected a mapping with sections {', '.join(_SECTIONS)}")
    unknown = sorted(str(key) for key in raw if key not in _SECTIONS)
    if unknown:
        raise CalendarError(
            f"{path}: unknown section(s) {', '.join(unknown)}; expected {', '.join(_SECTIONS)}"
        )
    return raw


def _entries(raw: dict[Any, Any], section: str, where: str) -> list[tuple[str, dict[Any, Any]]]:
    """(location, entry) for each entry of a section; absent or empty means none."""
    value = raw.get(section) or []
    if not isinstance(value, list) or not all(isinstance(entry, dict) for entry in value):
        raise CalendarError(f"{where}: `{section}` must be a list of mappings")
    return [(f"{where}: {section}[{index}]", entry) for index, entry in enumerate(value)]


def _check_keys(
    entry: dict[Any, Any], required: frozenset[str], optional: frozenset[str], where: str
) -> None:
    """Reject unknown and missing keys, so typos cannot silently drop a holiday."""
    unknown = sorted(str(key) for key in entry if key not in required | optional)
    if unknown:
        allowed = ", ".join(sorted(required | optional))
        raise CalendarError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {allowed}")
    missing = sorted(required - set(entry))
    if missing:
        raise CalendarError(f"{where}: missing key(s) {', '.join(missing)}")


def _int(entry: dict[Any, Any], key: str, high: int, where: str) -> int:
    """An integer field in 1..`high`."""
    value = entry[key]
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise CalendarError(f"{where}: `{key}` must be an integer in 1..{high}, got {value!r}")
    return value


def _text(entry: dict[Any, Any], key: str, where: str) -> str:
    """A non-empty string field."""
    value = entry[key]
    if not isinstance(value, str) or not value.strip():
        raise CalendarError(f"{where}: `{key}` must be a non-empty string, got {value!r}")
    return value


def _rule(entry: dict[Any, Any], where: str, max_day: int) -> _Rule:
    """A validated fixed or Hijri rule; Gregorian day/month pairs must exist (in a leap year)."""
    _check_keys(entry, _RULE_KEYS, frozenset(), where)
    holiday = Holiday(*(_text(entry, key, where) for key in ("code", "name_ar", "name_en")))
    month, day = _int(entry, "month", 12, where), _int(entry, "day", max_day, where)
    if max_day == 31:
        try:
            date(2000, month, day)
        except ValueError as exc:
            raise CalendarError(f"{where}: no such day {month:02d}-{day:02d}") from exc
    return _Rule(holiday, month, day, _int(entry, "length_days", 30, where))


def _extra(entry: dict[Any, Any], where: str) -> tuple[date, Holiday]:
    """A one-off holiday date with its names."""
    _check_keys(entry, _EXTRA_REQUIRED, _EXTRA_OPTIONAL, where)
    value = entry["date"]
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value)
        except ValueError as exc:
            raise CalendarError(f"{where}: `date` must be YYYY-MM-DD, got {value!r}") from exc
    if isinstance(value, datetime) or not isinstance(value, date):
        raise CalendarError(f"{where}: `date` must be YYYY-MM-DD, got {value!r}")
    name_en = _text(entry, "name_en", where)
    name_ar = _text(entry, "name_ar", where) if "name_ar" in entry else name_en
    code = _text(entry, "code", where) if "code" in entry else "extra"
    return value, Holiday(code, name_ar, name_en)
