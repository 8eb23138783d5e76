"""Keep `statistics_daily` equal to the figures of the requests it counts.

Triggers note each changed request in `statistics_changes` (see shared.db.statistics). The
fold takes a batch of those notes, reads the requests as they are now, and applies to the
daily cells the difference between what it counts for each request now and what it counted
before (`statistics_contributions`). One fold at a time (an advisory lock), each batch one
transaction: a note is deleted in the same commit that applies it, and a change committed
after the batch was read keeps its note for the next batch, so nothing is counted twice or
missed across crashes and concurrent writers.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from routing_service.statistics import sketch
from shared.db.statistics import NO_OFFICER

FOLD_LOCK = 0x7374617473  # "stats": serialises folds across routing workers
BATCH = 5_000
"""Notes per transaction: large enough to amortise the round trips, small enough that a
batch's locks and memory stay modest when a backlog of millions is folded."""

_CURRENT = text(
    """
    SELECT r.id, r.department_code, r.submitted_at, r.status, r.first_response_at,
           r.first_response_due_at, r.resolved_at, r.resolution_due_at, r.breached_at,
           r.rating, a.officer_id
    FROM requests r
    LEFT JOIN request_assignments a ON a.request_id = r.id
    WHERE r.id = ANY(:ids) AND r.submitted_at IS NOT NULL
    """
)
_PREVIOUS = text(
    """
    SELECT request_id, department_code, day, officer_key, status, first_response_bucket,
           first_response_on_time, resolution_bucket, resolution_on_time, breached, rating
    FROM statistics_contributions WHERE request_id = ANY(:ids)
    """
)
_TAKE_NOTES = text(
    """
    DELETE FROM statistics_changes
    WHERE id IN (SELECT id FROM statistics_changes ORDER BY id LIMIT :limit)
    RETURNING request_id
    """
)
_CELLS = text(
    """
    SELECT c.* FROM statistics_daily c
    JOIN unnest(CAST(:departments AS text[]), CAST(:days AS date[]), CAST(:officers AS uuid[]))
         AS k(department_code, day, officer_key)
      ON (c.department_code, c.day, c.officer_key) = (k.department_code, k.day, k.officer_key)
    """
)
# Both upserts take whole columns as arrays: one statement per batch, where executemany
# made one round of ON CONFLICT per row (4.4 s of 11.7 s folding 116 k requests).
_UPSERT_CONTRIBUTIONS = text(
    """
    INSERT INTO statistics_contributions (request_id, department_code, day, officer_key,
        status, first_response_bucket, first_response_on_time, resolution_bucket,
        resolution_on_time, breached, rating)
    SELECT * FROM unnest(CAST(:request_id AS uuid[]), CAST(:department_code AS text[]),
        CAST(:day AS date[]), CAST(:officer_key AS uuid[]), CAST(:status AS text[]),
        CAST(:first_response_bucket AS int2[]), CAST(:first_response_on_time AS bool[]),
        CAST(:resolution_bucket AS int2[]), CAST(:resolution_on_time AS bool[]),
        CAST(:breached AS bool[]), CAST(:rating AS int2[]))
    ON CONFLICT (request_id) DO UPDATE SET
        department_code = excluded.department_code, day = excluded.day,
        officer_key = excluded.officer_key, status = excluded.status,
        first_response_bucket = excluded.first_response_bucket,
        first_response_on_time = excluded.first_response_on_time,
        resolution_bucket = excluded.resolution_bucket,
        resolution_on_time = excluded.resolution_on_time,
        breached = excluded.breached, rating = excluded.rating
    """
)
_UPSERT_CELLS = text(
    """
    INSERT INTO statistics_daily (department_code, day, officer_key, submitted,
        first_responses, first_response_judged, first_response_on_time, resolutions,
        resolution_judged, resolution_on_time, breaches, rating_sum, ratings, by_status,
        first_response_histogram, resolution_histogram)
    -- Arrays of different lengths cannot share one int[][]: histograms come as literals.
    SELECT c.department_code, c.day, c.officer_key, c.submitted, c.first_responses,
        c.first_response_judged, c.first_response_on_time, c.resolutions,
        c.resolution_judged, c.resolution_on_time, c.breaches, c.rating_sum, c.ratings,
        c.by_status, CAST(c.first_response_histogram AS int[]),
        CAST(c.resolution_histogram AS int[])
    FROM unnest(CAST(:department_code AS text[]), CAST(:day AS date[]),
        CAST(:officer_key AS uuid[]), CAST(:submitted AS int[]),
        CAST(:first_responses AS int[]), CAST(:first_response_judged AS int[]),
        CAST(:first_response_on_time AS int[]), CAST(:resolutions AS int[]),
        CAST(:resolution_judged AS int[]), CAST(:resolution_on_time AS int[]),
        CAST(:breaches AS int[]), CAST(:rating_sum AS int[]), CAST(:ratings AS int[]),
        CAST(:by_status AS jsonb[]), CAST(:first_response_histogram AS text[]),
        CAST(:resolution_histogram AS text[]))
        AS c(department_code, day, officer_key, submitted, first_responses,
             first_response_judged, first_response_on_time, resolutions, resolution_judged,
             resolution_on_time, breaches, rating_sum, ratings, by_status,
             first_response_histogram, resolution_histogram)
    ON CONFLICT (department_code, day, officer_key) DO UPDATE SET
        submitted = excluded.submitted, first_responses = excluded.first_responses,
        first_response_judged = excluded.first_response_judged,
        first_response_on_time = excluded.first_response_on_time,
        resolutions = excluded.resolutions, resolution_judged = excluded.resolution_judged,
        resolution_on_time = excluded.resolution_on_time, breaches = excluded.breaches,
        rating_sum = excluded.rating_sum, ratings = excluded.ratings,
        by_status = excluded.by_status,
        first_response_histogram = excluded.first_response_histogram,
        resolution_histogram = excluded.resolution_histogram
    """
)

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
        for name in _COUNTS:
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
            **{name: row[name] for name in _COUNTS},
            by_status=dict(row["by_status"]),
            first_response_histogram=first_response,
            resolution_histogram=resolution,
        )

    def as_row(self, cell: Cell) -> dict[str, Any]:
        """A row of _UPSERT_CELLS (JSON as text: asyncpg's jsonb codec wants a string;
        histograms as array literals, see _UPSERT_CELLS)."""
        return {
            "department_code": cell[0],
            "day": cell[1],
            "officer_key": cell[2],
            **{name: getattr(self, name) for name in _COUNTS},
            "by_status": json.dumps(self.by_status, sort_keys=True),
            "first_response_histogram": _literal(sketch.pairs(self.first_response_histogram)),
            "resolution_histogram": _literal(sketch.pairs(self.resolution_histogram)),
        }


_COUNTS = (
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


async def fold(session: AsyncSession, limit: int = BATCH) -> int:
    """Apply up to `limit` notes in one transaction; returns how many notes were taken.

    `session` must not be in a transaction (each batch commits on its own)."""
    async with session.begin():
        await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": FOLD_LOCK})
        # Each statement below sees everything committed before it started (READ COMMITTED),
        # so every change whose note is taken here is in the rows read after it.
        notes = list((await session.execute(_TAKE_NOTES, {"limit": limit})).scalars())
        if not notes:
            return 0
        ids = list(set(notes))
        now_rows = (await session.execute(_CURRENT, {"ids": ids})).mappings()
        after = {row["id"]: contribution(row) for row in now_rows}
        before = {
            row["request_id"]: Contribution(**{k: v for k, v in row.items() if k != "request_id"})
            for row in (await session.execute(_PREVIOUS, {"ids": ids})).mappings()
        }
        await _apply(session, differences(before, after))
        changed = [(i, c) for i, c in after.items() if before.get(i) != c]
        if changed:
            await session.execute(
                _UPSERT_CONTRIBUTIONS,
                _columns([{"request_id": i, **c.__dict__} for i, c in changed]),
            )
        gone = [i for i in before if i not in after]
        if gone:
            await session.execute(
                text("DELETE FROM statistics_contributions WHERE request_id = ANY(:ids)"),
                {"ids": gone},
            )
        return len(notes)


async def fold_all(session: AsyncSession, limit: int = BATCH) -> int:
    """Fold until no note is left; returns how many were taken."""
    total = 0
    while taken := await fold(session, limit):
        total += taken
    return total


async def _apply(session: AsyncSession, deltas: Mapping[Cell, Figures]) -> None:
    if not deltas:
        return
    cells = list(deltas)
    current = {
        (row["department_code"], row["day"], row["officer_key"]): Figures.from_row(row)
        for row in (
            await session.execute(
                _CELLS,
                {
                    "departments": [c[0] for c in cells],
                    "days": [c[1] for c in cells],
                    "officers": [c[2] for c in cells],
                },
            )
        ).mappings()
    }
    upserts: list[dict[str, Any]] = []
    empty: list[Cell] = []
    for cell, delta in deltas.items():
        figures = current.get(cell, Figures())
        figures.absorb(delta)
        if figures.submitted == 0:
            empty.append(cell)
        else:
            upserts.append(figures.as_row(cell))
    if upserts:
        await session.execute(_UPSERT_CELLS, _columns(upserts))
    if empty:
        await _delete_cells(session, empty)


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Rows as one list per column, for the unnest of the upserts."""
    return {name: [row[name] for row in rows] for name in rows[0]}


async def _delete_cells(session: AsyncSession, cells: Iterable[Cell]) -> None:
    keys = list(cells)
    await session.execute(
        text(
            """
            DELETE FROM statistics_daily c
            USING unnest(CAST(:departments AS text[]), CAST(:days AS date[]),
                         CAST(:officers AS uuid[])) AS k(department_code, day, officer_key)
            WHERE (c.department_code, c.day, c.officer_key)
                = (k.department_code, k.day, k.officer_key)
            """
        ),
        {
            "departments": [c[0] for c in keys],
            "days": [c[1] for c in keys],
            "officers": [c[2] for c in keys],
        },
    )
