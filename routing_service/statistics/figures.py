"""What the statistics rollup counts: one submitted request's contribution, and figures that
add up over requests, days, officers and blocks of days, so a request is added or taken back
alike wherever it is counted."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from routing_service.statistics import sketch
from shared.db.statistics import NO_OFFICER

Cell = tuple[str, date, uuid.UUID]
"""(department_code, day, officer_key): one row of statistics_daily."""


@dataclass(frozen=True)
class Contribution:
    """What one submitted request adds to its cell."""

    department_code: str
    day: date
    officer_key: uuid.UUID
    status: str
    first_response_bucket: int | None
    first_response_on_time: bool | None
    resolution_bucket: int | None
    resolution_on_time: bool | None
    breached: bool
    rating: int | None

    @property
    def cell(self) -> Cell:
        return (self.department_code, self.day, self.officer_key)


@dataclass
class Figures:
    """A cell's figures; every field adds up, so a request is added or taken back alike."""

    submitted: int = 0
    first_responses: int = 0
    first_response_judged: int = 0
    first_response_on_time: int = 0
    resolutions: int = 0
    resolution_judged: int = 0
    resolution_on_time: int = 0
    breaches: int = 0
    rating_sum: int = 0
    ratings: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    first_response_histogram: dict[int, int] = field(default_factory=dict)
    resolution_histogram: dict[int, int] = field(default_factory=dict)

    def add(self, c: Contribution, sign: int) -> None:
        """Count `c` once more (sign 1) or once less (sign -1)."""
        self.submitted += sign
        _bump(self.by_status, c.status, sign)
        if c.first_response_bucket is not None:
            self.first_responses += sign
            _bump(self.first_response_histogram, c.first_response_bucket, sign)
        if c.first_response_on_time is not None:
            self.first_response_judged += sign
            self.first_response_on_time += sign * c.first_response_on_time
        if c.resolution_bucket is not None:
            self.resolutions += sign
            _bump(self.resolution_histogram, c.resolution_bucket, sign)
        if c.resolution_on_time is not None:
            self.resolution_judged += sign
            self.resolution_on_time += sign * c.resolution_on_time
        self.breaches += sign * c.breached
        if c.rating is not None:
            self.rating_sum += sign * c.rating
            self.ratings += sign

    def absorb(self, other: Figures) -> None:
        """Add another cell's figures (summing days and officers when reading)."""
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        sketch.merge(self.first_response_histogram, other.first_response_histogram)
        sketch.merge(self.resolution_histogram, other.resolution_histogram)
        for status, n in other.by_status.items():
            _bump(self.by_status, status, n)

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> Figures:
        """A statistics_daily row as figures."""
        first_response: dict[int, int] = {}
        resolution: dict[int, int] = {}
        sketch.add_pairs(first_response, row["first_response_histogram"])
        sketch.add_pairs(resolution, row["resolution_histogram"])
        return cls(
            **{name: row[name] for name in COUNTS},
            by_status=dict(row["by_status"]),
            first_response_histogram=first_response,
            resolution_histogram=resolution,
        )

    def as_row(self, key: Mapping[str, Any]) -> dict[str, Any]:
        """A row for the store's upsert under `key` (its key columns by name); JSON as text,
        since asyncpg's jsonb codec wants a string, and histograms as array literals (arrays
        of different lengths cannot share one int[][])."""
        return {
            **key,
            **{name: getattr(self, name) for name in COUNTS},
            "by_status": json.dumps(self.by_status, sort_keys=True),
            "first_response_histogram": _literal(sketch.pairs(self.first_response_histogram)),
            "resolution_histogram": _literal(sketch.pairs(self.resolution_histogram)),
        }


COUNTS = (
    "submitted",
    "first_responses",
    "first_response_judged",
    "first_response_on_time",
    "resolutions",
    "resolution_judged",
    "resolution_on_time",
    "breaches",
    "rating_sum",
    "ratings",
)


def _literal(numbers: list[int]) -> str:
    """A Postgres array literal of integers."""
    return "{" + ",".join(map(str, numbers)) + "}"


def _bump(counts: dict[Any, int], key: Any, sign: int) -> None:
    n = counts.get(key, 0) + sign
    if n:
        counts[key] = n
    else:
        counts.pop(key, None)


def _seconds(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else (end - start).total_seconds()


def _on_time(done: datetime | None, due: datetime | None) -> bool | None:
    return None if done is None or due is None else done <= due


def contribution(row: Mapping[Any, Any]) -> Contribution:
    """What a submitted request (joined with its assignment's officer) counts for."""
    submitted: datetime = row["submitted_at"]
    first = _seconds(submitted, row["first_response_at"])
    resolved = _seconds(submitted, row["resolved_at"])
    return Contribution(
        department_code=row["department_code"],
        day=submitted.astimezone(UTC).date(),
        officer_key=row["officer_id"] or NO_OFFICER,
        status=row["status"],
        first_response_bucket=None if first is None else sketch.bucket(first),
        first_response_on_time=_on_time(row["first_response_at"], row["first_response_due_at"]),
        resolution_bucket=None if resolved is None else sketch.bucket(resolved),
        resolution_on_time=_on_time(row["resolved_at"], row["resolution_due_at"]),
        breached=row["breached_at"] is not None,
        rating=row["rating"],
    )


def differences(
    before: Mapping[uuid.UUID, Contribution], after: Mapping[uuid.UUID, Contribution]
) -> dict[Cell, Figures]:
    """Per cell, what to add so that it counts `after` instead of `before` (same IDs)."""
    deltas: dict[Cell, Figures] = {}
    for request_id in before.keys() | after.keys():
        old, new = before.get(request_id), after.get(request_id)
        if old == new:
            continue
        if old is not None:
            deltas.setdefault(old.cell, Figures()).add(old, -1)
        if new is not None:
            deltas.setdefault(new.cell, Figures()).add(new, 1)
    return deltas
