"""Statistics per department and per officer over requests submitted in a period."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# One grouped pass over the period's requests of the chosen departments; it reads through
# ix_requests_department_submitted, so it costs the period's rows, not the table's.
_METRICS = """
SELECT {key} AS key,
       count(*) AS submitted,
       count(r.first_response_at) AS responded,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM r.first_response_at
           - r.submitted_at)) FILTER (WHERE r.first_response_at IS NOT NULL) AS frt_p50,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM r.first_response_at
           - r.submitted_at)) FILTER (WHERE r.first_response_at IS NOT NULL) AS frt_p90,
       avg((r.first_response_at <= r.first_response_due_at)::int)
           FILTER (WHERE r.first_response_at IS NOT NULL) AS frt_within,
       count(r.resolved_at) AS resolved,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM r.resolved_at
           - r.submitted_at)) FILTER (WHERE r.resolved_at IS NOT NULL) AS res_p50,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM r.resolved_at
           - r.submitted_at)) FILTER (WHERE r.resolved_at IS NOT NULL) AS res_p90,
       avg((r.resolved_at <= r.resolution_due_at)::int)
           FILTER (WHERE r.resolved_at IS NOT NULL) AS res_within,
       count(r.breached_at) AS breaches,
       avg(r.rating) AS rating_avg,
       count(r.rating) AS ratings
FROM requests r
LEFT JOIN request_assignments a ON a.request_id = r.id
WHERE r.department_code = ANY(:departments)
  AND r.submitted_at >= :start AND r.submitted_at < :end
GROUP BY 1
ORDER BY 1
"""
_BY_STATUS = """
SELECT {key} AS key, r.status, count(*) AS n
FROM requests r
LEFT JOIN request_assignments a ON a.request_id = r.id
WHERE r.department_code = ANY(:departments)
  AND r.submitted_at >= :start AND r.submitted_at < :end
GROUP BY 1, 2
"""
KEYS = {"department": "r.department_code", "officer": "a.officer_id::text"}


class Timing(BaseModel):
    """How long something took (hours, wall clock) and how often it met its target."""

    count: int
    median_hours: float | None
    p90_hours: float | None
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
    departments: list[Metrics]
    officers: list[Metrics]


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(float(seconds) / 3600, 3)


def _share(value: Any) -> float | None:
    return None if value is None else round(float(value), 4)


async def _group(session: AsyncSession, by: str, params: dict[str, Any]) -> list[Metrics]:
    key = KEYS[by]
    statuses: dict[str | None, dict[str, int]] = {}
    for row in await session.execute(text(_BY_STATUS.format(key=key)), params):
        statuses.setdefault(row.key, {})[row.status] = int(row.n)
    rows = (await session.execute(text(_METRICS.format(key=key)), params)).all()
    return [
        Metrics(
            key=row.key,
            submitted=row.submitted,
            by_status=statuses.get(row.key, {}),
            first_response=Timing(
                count=row.responded,
                median_hours=_hours(row.frt_p50),
                p90_hours=_hours(row.frt_p90),
                within_target_share=_share(row.frt_within),
            ),
            resolution=Timing(
                count=row.resolved,
                median_hours=_hours(row.res_p50),
                p90_hours=_hours(row.res_p90),
                within_target_share=_share(row.res_within),
            ),
            breaches=row.breaches,
            satisfaction_average=None
            if row.rating_avg is None
            else round(float(row.rating_avg), 3),
            ratings=row.ratings,
        )
        for row in rows
    ]


async def compute(
    session: AsyncSession, departments: Sequence[str], start: datetime, end: datetime
) -> Statistics:
    """Figures over requests of `departments` submitted in [start, end)."""
    params = {"departments": list(departments), "start": start, "end": end}
    return Statistics(
        start=start,
        end=end,
        departments=await _group(session, "department", params),
        officers=[m for m in await _group(session, "officer", params) if m.key is not None],
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
