"""Gauges read from Postgres by a worker, for dashboards and alerts."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared.metrics import REQUESTS_BY_STATUS

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
