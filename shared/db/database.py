"""One transaction per HTTP request: endpoints open it; services and repositories never commit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker


class Database:
    """The process's session factory, handed to endpoints as a dependency."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self.engine: AsyncEngine = sessions.kw["bind"]

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """Commit when the block ends normally, roll back when it raises."""
        async with self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reads only, in autocommit: no BEGIN and no ROLLBACK round trips.

        Each statement sees its own snapshot, as a read replica would; reads that must agree
        with each other belong in `transaction()`."""
        async with self.sessions() as session:
            await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            yield session

    @asynccontextmanager
    async def raw(self) -> AsyncIterator[Any]:
        """A pooled connection's own asyncpg connection, outside any transaction.

        For the hottest writes that are one statement (atomic on its own): the ORM's unit of
        work and SQLAlchemy's execution path cost more CPU than the statement itself. The
        connection goes back to the same pool; asyncpg errors are not wrapped, and
        shared.errors answers them like SQLAlchemy's."""
        async with self.engine.connect() as connection:
            pooled = await connection.get_raw_connection()
            yield pooled.driver_connection


async def get_db(request: Request) -> Database:
    """FastAPI dependency: the app's Database (async, so FastAPI never hops to a thread)."""
    db: Database = request.app.state.db
    return db
