"""Gauges read from Postgres by a worker, for dashboards and alerts."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.metrics import REQUESTS_BY_STATUS, STATISTICS_LAG

OPEN_STATES = ("submitted", "routed", "in_progress", "awaiting_resident")


async def count_open_requests(sessions: async_sessionmaker[AsyncSession]) -> None:
    """Open requests by status (closed ones would mean counting tens of millions of rows)."""
    async with sessions() as session:
        rows = await session.execute(
            text(
                "SELECT status, count(*) FROM requests WHERE status = ANY(:states) GROUP BY status"
            ),
            {"states": list(OPEN_STATES)},
        )
        counts: dict[str, int] = {row[0]: row[1] for row in rows.all()}
    for state in OPEN_STATES:
        REQUESTS_BY_STATUS.labels(state).set(counts.get(state, 0))


async def statistics_lag(sessions: async_sessionmaker[AsyncSession]) -> None:
    """How far the statistics rollup trails the requests (0 when nothing waits): the oldest
    note by the primary key, so it costs one index probe however long the backlog."""
    async with sessions() as session:
        lag = await session.scalar(
            text(
                "SELECT extract(epoch FROM clock_timestamp() - created_at) "
                "FROM statistics_changes ORDER BY id LIMIT 1"
            )
        )
    STATISTICS_LAG.set(float(lag or 0))
