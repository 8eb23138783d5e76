"""Engine and session factory; one transaction per HTTP request or job, never per call."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from shared.settings import CommonSettings


def create_engine(settings: CommonSettings, *, application_name: str) -> AsyncEngine:
    """A pooled asyncpg engine with server-side timeouts so no request waits forever.

    No pre-ping: SQLAlchemy's costs three round trips (BEGIN, `;`, ROLLBACK) per checkout,
    a quarter of a request page's database time. A connection the server closed (restart,
    failover, pg_terminate_backend) is known closed to asyncpg without asking, so checkout
    discards those; one that died silently fails its first statement, which answers 503."""
    engine = create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=2,
        pool_recycle=1800,
        connect_args={
            "timeout": 2,
            "server_settings": {
                "application_name": application_name,
                "statement_timeout": str(settings.db_statement_timeout_ms),
                "lock_timeout": "3000",
                "idle_in_transaction_session_timeout": "30000",
            },
        },
    )
    event.listen(engine.sync_engine, "checkout", _discard_if_closed)
    return engine


def _discard_if_closed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Checkout hook: a connection whose socket the server closed is replaced, not used."""
    raw = getattr(dbapi_connection, "_connection", None)
    if raw is not None and raw.is_closed():
        raise DisconnectionError("the server closed this connection")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit (responses are built after it)."""
    return async_sessionmaker(engine, expire_on_commit=False)
