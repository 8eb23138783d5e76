"""Statistics per department and per officer over requests submitted in a period, read from
the daily rollup that routing keeps (rollup.py)."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from routing_service.statistics import blocks, sketch
from shared.db.statistics import NO_OFFICER

_COUNTED = """submitted, first_responses, first_response_judged, first_response_on_time,
    resolutions, resolution_judged, resolution_on_time, breaches, rating_sum, ratings,
    by_status"""
_FIGURES = f"{_COUNTED}, first_response_histogram, resolution_histogram"
# A period's department figures: the few aligned blocks that cover it (blocks.cover), their
# histograms in the dense form that adds up in C, or as pairs where a block has none yet
# (migration 0012).
_BLOCKS = text(
    f"""
    SELECT b.department_code, NULL, {_COUNTED},
        first_response_dense,
        CASE WHEN first_response_dense IS NULL THEN first_response_histogram END,
        resolution_dense,
        CASE WHEN resolution_dense IS NULL THEN resolution_histogram END
    FROM statistics_blocks b
    JOIN unnest(CAST(:levels AS int2[]), CAST(:starts AS date[])) AS k(level, start_day)
      ON (b.level, b.start_day) = (k.level, k.start_day)
    WHERE b.department_code = ANY(:departments)
    """  # noqa: S608 (column names above)
)
# The officer breakdown: a cell per officer and day with activity.
_OFFICER_CELLS = text(
    f"""
    SELECT department_code, officer_key, {_FIGURES}
    FROM statistics_daily
    WHERE department_code = ANY(:departments) AND day >= :start AND day < :end
      AND officer_key <> :no_officer
    """  # noqa: S608 (column names above)
)
_COUNTS = slice(2, 12)
_OLDEST_NOTE = text("SELECT created_at FROM statistics_changes ORDER BY id LIMIT 1")
QUANTILES = (0.5, 0.9)
K = TypeVar("K")


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
    """Stored rows added up while reading."""

    __slots__ = ("by_status", "counts", "first_response", "resolution")

    def __init__(self) -> None:
        self.counts = [0] * 10
        self.by_status: dict[str, int] = {}
        self.first_response = sketch.Histogram()
        self.resolution = sketch.Histogram()

    def add_cell(
        self,
        counts: Sequence[int],
        by_status: Mapping[str, int],
        first_response: Sequence[int],
        resolution: Sequence[int],
    ) -> None:
        """One daily cell (histograms as [bucket, count, ...] pairs)."""
        self._add_counts(counts, by_status)
        self.first_response.add_pairs(first_response)
        self.resolution.add_pairs(resolution)

    def add_block(self, row: Sequence[Any]) -> None:
        """One department block as _BLOCKS reads it: each histogram in the dense form
        (sketch.dense), or as pairs where the block has no dense form yet."""
        self._add_counts(row[_COUNTS], row[12])
        for histogram, dense, pairs in (
            (self.first_response, row[13], row[14]),
            (self.resolution, row[15], row[16]),
        ):
            if dense is None:
                histogram.add_pairs(pairs)
            else:
                histogram.add_dense(dense)

    def absorb(self, other: _Sum) -> None:
        """Another sum (a department's or an officer's total of several)."""
        self._add_counts(other.counts, other.by_status)
        self.first_response.absorb(other.first_response)
        self.resolution.absorb(other.resolution)

    def _add_counts(self, counts: Sequence[int], by_status: Mapping[str, int]) -> None:
        mine = self.counts
        for index, n in enumerate(counts):
            mine[index] += n
        _add(self.by_status, by_status)


def _timing(count: int, histogram: sketch.Histogram, on_time: int, judged: int) -> Timing:
    median, p90 = histogram.quantiles(QUANTILES)
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
    session: AsyncSession,
    departments: Sequence[str],
    start: datetime,
    end: datetime,
    officers: bool = True,
) -> Statistics:
    """Figures over requests of `departments` submitted on the UTC days [start, end).

    Department figures add the few day blocks that cover the period (blocks.py), so their
    cost follows neither the period's requests nor the staff. The officer breakdown adds
    each officer's daily cells, so it costs a row per officer; `officers=False` leaves it
    out. `as_of` says how fresh the rollup is."""
    cover = blocks.cover(start.date(), end.date())
    by_department: dict[str, _Sum] = {}
    params = {
        "departments": list(departments),
        "levels": [level for level, _ in cover],
        "starts": [day for _, day in cover],
    }
    for row in await session.execute(_BLOCKS, params):
        _sum(by_department, row[0]).add_block(row)
    by_officer: dict[str, _Sum] = {}
    if officers:
        by_officer = await _officers(session, departments, start, end)
    oldest_note = await session.scalar(_OLDEST_NOTE)
    return Statistics(
        start=start,
        end=end,
        as_of=oldest_note or datetime.now(UTC),
        departments=[metrics(k, by_department[k]) for k in sorted(by_department)],
        officers=[metrics(k, by_officer[k]) for k in sorted(by_officer)],
    )


async def _officers(
    session: AsyncSession, departments: Sequence[str], start: datetime, end: datetime
) -> dict[str, _Sum]:
    """Each officer's figures over the period, across the departments in scope: cells are
    first summed per (department, officer), then those few sums per officer."""
    params = {
        "departments": list(departments),
        "start": start.date(),
        "end": end.date(),
        "no_officer": NO_OFFICER,
    }
    pairs: dict[tuple[str, uuid.UUID], _Sum] = {}
    for row in await session.execute(_OFFICER_CELLS, params):
        _sum(pairs, (row[0], row[1])).add_cell(row[_COUNTS], row[12], row[13], row[14])
    by_officer: dict[str, _Sum] = {}
    for (_department, officer), total in pairs.items():
        _sum(by_officer, str(officer)).absorb(total)
    return by_officer


def _sum(sums: dict[K, _Sum], key: K) -> _Sum:
    total = sums.get(key)
    if total is None:
        total = sums[key] = _Sum()
    return total


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
