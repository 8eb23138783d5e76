"""Cron job: fold the requests changed since the last tick into the statistics rollup."""

from __future__ import annotations

import time
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from routing_service.statistics import rollup

log = structlog.get_logger()
BUDGET_SECONDS = 8.0
"""A tick stops taking new batches after this long, inside the 10 s between ticks; a backlog
(after the migration, or a long outage) is worked off over the following ticks."""


async def fold_statistics(ctx: dict[str, Any]) -> str:
    """arq cron entry point: batches until nothing is pending or the budget is spent."""
    sessions: async_sessionmaker[AsyncSession] = ctx["sessions"]
    started = time.monotonic()
    folded = 0
    async with sessions() as session:
        while time.monotonic() - started < BUDGET_SECONDS:
            taken = await rollup.fold(session)
            folded += taken
            if taken < rollup.BATCH:
                break
        # An index probe when no block lacks its dense histograms (the steady state).
        densified = await rollup.densify(session)
    if folded or densified:
        log.info(
            "statistics.folded",
            changes=folded,
            blocks_densified=densified,
            seconds=round(time.monotonic() - started, 3),
        )
    return f"folded={folded} densified={densified}"
