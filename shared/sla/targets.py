"""Due times of a request's response-time targets, and pausing them while the resident answers."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from functools import lru_cache

from shared.db.requests import Request
from shared.sla.calendar import WorkingCalendar, load_calendar, parse_hours

WARN_SHARE = 0.8  # staff are warned when 80% of the target's working time has passed


@lru_cache
def default_calendar() -> WorkingCalendar:
    """The Saudi calendar: SLA_WORKDAYS (Python weekday numbers) and SLA_HOURS from the env."""
    workdays = os.environ.get("SLA_WORKDAYS", "6,0,1,2,3")
    start, end = parse_hours(os.environ.get("SLA_HOURS", "08:00-15:00"))
    return load_calendar(
        workdays=[int(day) for day in workdays.split(",") if day.strip()],
        day_start=start,
        day_end=end,
    )


def set_targets(
    request: Request,
    calendar: WorkingCalendar,
    *,
    start: datetime,
    first_response_hours: float,
    resolution_hours: float,
) -> None:
    """Due and warning times for both targets, counted in working hours from `start`."""
    request.first_response_due_at = calendar.add_working_hours(start, first_response_hours)
    request.first_response_warn_at = calendar.add_working_hours(
        start, first_response_hours * WARN_SHARE
    )
    request.resolution_due_at = calendar.add_working_hours(start, resolution_hours)
    request.resolution_warn_at = calendar.add_working_hours(start, resolution_hours * WARN_SHARE)


def _later(calendar: WorkingCalendar, moment: datetime | None, seconds: float) -> datetime | None:
    if moment is None:
        return None
    return calendar.add_working_hours(moment, seconds / 3600)


def pause(request: Request, calendar: WorkingCalendar, since: datetime, until: datetime) -> None:
    """Move every pending deadline later by the working time spent awaiting the resident."""
    paused = calendar.working_seconds_between(since, until)
    if paused <= 0:
        return
    if request.first_response_at is None:
        request.first_response_due_at = _later(calendar, request.first_response_due_at, paused)
        request.first_response_warn_at = _later(calendar, request.first_response_warn_at, paused)
    request.resolution_due_at = _later(calendar, request.resolution_due_at, paused)
    request.resolution_warn_at = _later(calendar, request.resolution_warn_at, paused)


def riyadh_text(moment: datetime) -> str:
    """A deadline as staff read it in an SMS: Riyadh local time, to the minute."""
    local = moment.astimezone(tz=default_calendar().tz)
    return (local - timedelta(seconds=local.second, microseconds=local.microsecond)).strftime(
        "%Y-%m-%d %H:%M"
    )
