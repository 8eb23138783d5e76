"""Engine and session factory; one transaction per HTTP request or job, never per call."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from shared.settings import CommonSettings


def create_engine(settings: CommonSettings, *, application_name: str) -> AsyncEngine:
    """A pooled asyncpg engine with server-side timeouts so no request waits forever."""
    return create_async_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=2,
        pool_pre_ping=True,
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


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit (responses are built after it)."""
    return async_sessionmaker(engine, expire_on_commit=False)
