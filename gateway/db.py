"""The gateway's transaction boundary, which can keep its writes when a chosen error is raised."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


@asynccontextmanager
async def transaction(
    sessions: async_sessionmaker[AsyncSession],
    *,
    commit_on: tuple[type[BaseException], ...] = (),
) -> AsyncIterator[AsyncSession]:
    """Commit on success, and also on `commit_on` errors (a spent code attempt must count)."""
    async with sessions() as session:
        try:
            yield session
        except commit_on:
            await session.commit()
            raise
        except BaseException:
            await session.rollback()
            raise
        await session.commit()
