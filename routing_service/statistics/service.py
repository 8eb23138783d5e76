"""Statistics per department and per officer over requests submitted in a period, read from
the daily rollup that routing keeps (rollup.py)."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from routing_service.statistics import sketch
from shared.db.statistics import NO_OFFICER

_CELLS = text(
    """
    SELECT department_code, officer_key, submitted, first_responses, first_response_judged,
           first_response_on_time, resolutions, resolution_judged, resolution_on_time,
           breaches, rating_sum, ratings, by_status, first_response_histogram,
           resolution_histogram
    FROM statistics_daily
    WHERE department_code = ANY(:departments) AND day >= :start AND day < :end
    """
)
_COUNTS = slice(2, 12)
_OLDEST_NOTE = text("SELECT created_at FROM statistics_changes ORDER BY id LIMIT 1")
QUANTILES = (0.5, 0.9)


class Timing(BaseModel):
    """How long something took (hours, wall clock) and how often it met its target."""

    count: int
    median_hours: float | None = Field(
        description="Median, estimated within 1% (log-bucket histogram of the period's times)."
    )
    p90_hours: float | None = Field(description="90th percentile, estimated within 1%.")
    within_target_share: float | None


class Metrics(BaseModel):
    """Figures for one department or one officer."""

    key: str | None
    submitted: int
    by_status: dict[str, int]
    first_response: Timing
    resolution: Timing
    breaches: int
    satisfaction_average: float | None
    ratings: int


class Statistics(BaseModel):
    """The period and the figures by department and by officer."""

    start: datetime
    end: datetime
    as_of: datetime = Field(
        description="Every change made before this instant is counted; later ones are being "
        "folded into the figures (normally within seconds)."
    )
    departments: list[Metrics]
    officers: list[Metrics]


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(float(seconds) / 3600, 3)


def _share(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(part / whole, 4)


def _add(into: dict[Any, int], counts: Mapping[Any, int]) -> None:
    for key, n in counts.items():
        into[key] = into.get(key, 0) + n


class _Sum:
    """Cells added up while reading."""

    __slots__ = ("by_status", "counts", "first_response", "resolution")

    def __init__(self) -> None:
        self.counts = [0] * 10
        self.by_status: dict[str, int] = {}
        self.first_response: dict[int, int] = {}
        self.resolution: dict[int, int] = {}

    def add(
        self,
        counts: Sequence[int],
        by_status: Mapping[str, int],
        first_response: Sequence[int],
        resolution: Sequence[int],
    ) -> None:
        """One stored cell (histograms as statistics_daily keeps them: bucket, count pairs)."""
        self._add_counts(counts, by_status)
        sketch.add_pairs(self.first_response, first_response)
        sketch.add_pairs(self.resolution, resolution)

    def absorb(self, other: _Sum) -> None:
        """Another sum (a department's or an officer's total of several)."""
        self._add_counts(other.counts, other.by_status)
        _add(self.first_response, other.first_response)
        _add(self.resolution, other.resolution)

    def _add_counts(self, counts: Sequence[int], by_status: Mapping[str, int]) -> None:
        mine = self.counts
        for index, n in enumerate(counts):
            mine[index] += n
        _add(self.by_status, by_status)


def _timing(count: int, histogram: Mapping[int, int], on_time: int, judged: int) -> Timing:
    median, p90 = sketch.quantiles(histogram, QUANTILES)
    return Timing(
        count=count,
        median_hours=_hours(median),
        p90_hours=_hours(p90),
        within_target_share=_share(on_time, judged),
    )


def metrics(key: str, total: _Sum) -> Metrics:
    """One department's or officer's summed figures as the API shows them."""
    (
        submitted,
        first_responses,
        first_response_judged,
        first_response_on_time,
        resolutions,
        resolution_judged,
        resolution_on_time,
        breaches,
        rating_sum,
        ratings,
    ) = total.counts
    return Metrics(
        key=key,
        submitted=submitted,
        by_status={k: n for k, n in sorted(total.by_status.items()) if n},
        first_response=_timing(
            first_responses, total.first_response, first_response_on_time, first_response_judged
        ),
        resolution=_timing(resolutions, total.resolution, resolution_on_time, resolution_judged),
        breaches=breaches,
        satisfaction_average=None if ratings == 0 else round(rating_sum / ratings, 3),
        ratings=ratings,
    )


async def compute(
    session: AsyncSession, departments: Sequence[str], start: datetime, end: datetime
) -> Statistics:
    """Figures over requests of `departments` submitted on the UTC days [start, end).

    Reads the daily rollup (one row per department, day and officer), so the cost follows
    the period and the staff in scope, not the size of the requests table; `as_of` says
    how fresh the rollup is. Cells are first summed per (department, officer), then those
    few sums per department and per officer."""
    params = {"departments": list(departments), "start": start.date(), "end": end.date()}
    pairs: dict[tuple[str, uuid.UUID], _Sum] = {}
    for row in await session.execute(_CELLS, params):
        key = (row[0], row[1])
        total = pairs.get(key)
        if total is None:
            total = pairs[key] = _Sum()
        total.add(row[_COUNTS], row[12], row[13], row[14])
    by_department: dict[str, _Sum] = {}
    by_officer: dict[str, _Sum] = {}
    for (department, officer), total in pairs.items():
        by_department.setdefault(department, _Sum()).absorb(total)
        if officer != NO_OFFICER:
            by_officer.setdefault(str(officer), _Sum()).absorb(total)
    oldest_note = await session.scalar(_OLDEST_NOTE)
    return Statistics(
        start=start,
        end=end,
        as_of=oldest_note or datetime.now(UTC),
        departments=[metrics(k, by_department[k]) for k in sorted(by_department)],
        officers=[metrics(k, by_officer[k]) for k in sorted(by_officer)],
    )


CSV_COLUMNS = [
    "scope",
    "key",
    "submitted",
    "first_response_count",
    "first_response_median_hours",
    "first_response_p90_hours",
    "first_response_within_target_share",
    "resolution_count",
    "resolution_median_hours",
    "resolution_p90_hours",
    "resolution_within_target_share",
    "breaches",
    "satisfaction_average",
    "ratings",
    "by_status",
]


def to_csv(stats: Statistics) -> str:
    """One row per department and per officer, for spreadsheets."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for scope, rows in (("department", stats.departments), ("officer", stats.officers)):
        for m in rows:
            writer.writerow(
                [
                    scope,
                    m.key,
                    m.submitted,
                    m.first_response.count,
                    m.first_response.median_hours,
                    m.first_response.p90_hours,
                    m.first_response.within_target_share,
                    m.resolution.count,
                    m.resolution.median_hours,
                    m.resolution.p90_hours,
                    m.resolution.within_target_share,
                    m.breaches,
                    m.satisfaction_average,
                    m.ratings,
                    ";".join(f"{k}={v}" for k, v in sorted(m.by_status.items())),
                ]
            )
    return out.getvalue()
