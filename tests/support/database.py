"""Creating, migrating and dropping a database of the test run's own, on any cluster."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from services.db_loader import load_into

ROOT = Path(__file__).resolve().parent.parent.parent


async def create_database(admin_url: str, name: str) -> None:
    """CREATE DATABASE through a connection to the cluster's admin database."""
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    await engine.dispose()


async def drop_database(admin_url: str, name: str) -> None:
    """Drop it even while connections are open (the run is over)."""
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await engine.dispose()


@asynccontextmanager
async def scratch_database(database_url: str, suffix: str) -> AsyncIterator[str]:
    """An empty database beside `database_url`'s, named after it plus `suffix`, for a test
    that migrates step by step; yields its URL and drops it on exit."""
    url = make_url(database_url)
    admin = url.set(database="postgres").render_as_string(hide_password=False)
    name = f"{url.database}_{suffix}"
    await create_database(admin, name)
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        await drop_database(admin, name)


async def migrate_and_load(database_url: str) -> None:
    """Alembic to head (the same command operators run), then the service catalog."""
    await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "alembic", "-c", str(ROOT / "alembic.ini"), "upgrade", "head"],
        env={**os.environ, "DATABASE_URL": database_url},
        check=True,
        cwd=ROOT,
        capture_output=True,
    )
    await load_into(database_url)
