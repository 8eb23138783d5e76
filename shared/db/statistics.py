"""The supervisors' statistics rollup: figures per (department, day, officer), kept by routing.

A request's figures change for weeks after it is submitted (first response, resolution,
rating, breach, reassignment), and its writers are spread over intake and routing. Rather than
each writer keeping the rollup, triggers (migration 0008) note the ID of every request whose
counted columns change in `statistics_changes`, in the writer's own transaction; routing's
fold re-reads those requests, compares each with what it last counted for it
(`statistics_contributions`) and applies the difference to `statistics_daily`. So a change
reaches the figures exactly once whoever made it, and nothing else has to remember to.

The triggers' list of counted columns is in migration 0008;
tests/integration/test_statistics_rollup.py changes each of them alone and checks that the
figures follow.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Identity,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base

NO_OFFICER = uuid.UUID(int=0)
"""`statistics_daily.officer_key` of requests no officer holds (part of the primary key)."""


class StatisticsChange(Base):
    """A request whose counted columns changed and that the fold has not re-read yet."""

    __tablename__ = "statistics_changes"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    # No foreign key: a deleted request must still be noted, so its figures are taken back.
    request_id: Mapped[uuid.UUID]
    created_at: Mapped[datetime] = mapped_column(
        server_default=func.clock_timestamp(), nullable=False
    )


class StatisticsContribution(Base):
    """What the rollup currently counts for one submitted request: the fold's memory, so a
    change is applied as a difference however many times the request changed meanwhile."""

    __tablename__ = "statistics_contributions"

    request_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    department_code: Mapped[str] = mapped_column(String(64))
    day: Mapped[date]
    officer_key: Mapped[uuid.UUID]
    status: Mapped[str] = mapped_column(String(32))
    first_response_bucket: Mapped[int | None] = mapped_column(SmallInteger)
    first_response_on_time: Mapped[bool | None]
    resolution_bucket: Mapped[int | None] = mapped_column(SmallInteger)
    resolution_on_time: Mapped[bool | None]
    breached: Mapped[bool]
    rating: Mapped[int | None] = mapped_column(SmallInteger)


class _Figures:
    """Columns of a rollup row: counts and sums add up over rows, response times as log-bucket
    histograms stored as [bucket, count, bucket, count, ...], buckets ascending (migration
    0009: an int array decodes in C, where a JSON object cost ~80% of a statistics read)."""

    submitted: Mapped[int] = mapped_column(Integer)
    first_responses: Mapped[int] = mapped_column(Integer)
    first_response_judged: Mapped[int] = mapped_column(Integer)
    first_response_on_time: Mapped[int] = mapped_column(Integer)
    resolutions: Mapped[int] = mapped_column(Integer)
    resolution_judged: Mapped[int] = mapped_column(Integer)
    resolution_on_time: Mapped[int] = mapped_column(Integer)
    breaches: Mapped[int] = mapped_column(Integer)
    rating_sum: Mapped[int] = mapped_column(Integer)
    ratings: Mapped[int] = mapped_column(Integer)
    by_status: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'"))
    first_response_histogram: Mapped[list[int]] = mapped_column(
        ARRAY(Integer), server_default=text("'{}'")
    )
    resolution_histogram: Mapped[list[int]] = mapped_column(
        ARRAY(Integer), server_default=text("'{}'")
    )


class StatisticsDaily(_Figures, Base):
    """Figures of the requests of one department submitted on one day (UTC), held by one
    officer: the officer breakdown of the statistics reads these."""

    __tablename__ = "statistics_daily"

    department_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    officer_key: Mapped[uuid.UUID] = mapped_column(primary_key=True)


class StatisticsBlock(_Figures, Base):
    """Figures of the requests of one department submitted in an aligned block of 2^level
    days from start_day, whoever holds them: the department figures of any period are a sum
    of few blocks (routing_service/statistics/blocks.py). Kept by routing's fold with the
    daily cells, in the same transaction (migration 0011)."""

    __tablename__ = "statistics_blocks"
    __table_args__ = (
        # What the fold's tick has left to derive (rollup.densify): empty in steady state,
        # so the check costs an index probe, not a scan of every block.
        Index(
            "ix_statistics_blocks_underived",
            "level",
            postgresql_where=text("first_response_dense IS NULL OR resolution_dense IS NULL"),
        ),
    )

    department_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    start_day: Mapped[date] = mapped_column(primary_key=True)
    # The histograms again in the dense form that reads add up in C (sketch.Histogram), kept
    # by the fold; NULL until derived, and whenever a writer that does not keep it wrote the
    # row (migration 0012): reads then use the pairs.
    first_response_dense: Mapped[bytes | None] = mapped_column(LargeBinary)
    resolution_dense: Mapped[bytes | None] = mapped_column(LargeBinary)
