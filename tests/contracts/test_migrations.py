"""The migrations produce exactly the schema the models describe."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from shared.db import Base
from tests.conftest import ROOT
from tests.support.database import create_database, drop_database


async def test_models_match_migrated_database(backing: Any) -> None:
    engine = create_async_engine(backing.database_url)
    async with engine.connect() as conn:
        diff = await conn.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
        )
    await engine.dispose()
    assert diff == []


def _alembic(database_url: str, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(ROOT / "alembic.ini"), *args],
        env={**os.environ, "DATABASE_URL": database_url},
        check=True,
        cwd=ROOT,
        capture_output=True,
    )


_CELL = text(
    "INSERT INTO statistics_daily VALUES ('visas', '2026-11-01', :officer,"
    " 3, 2, 2, 1, 1, 1, 1, 0, 9, 2, CAST('{\"closed\": 3}' AS jsonb),"
    " CAST(:first AS jsonb), CAST('{}' AS jsonb))"
)
_HISTOGRAMS = text("SELECT first_response_histogram, resolution_histogram FROM statistics_daily")


async def test_0009_keeps_the_histograms_through_upgrade_and_downgrade(backing: Any) -> None:
    """Cells folded before 0009 keep their figures as arrays, and again as JSON after a
    downgrade, so neither direction empties the supervisors' statistics."""
    url = make_url(backing.database_url)
    admin = url.set(database="postgres").render_as_string(hide_password=False)
    name = f"{url.database}_m9"
    database_url = url.set(database=name).render_as_string(hide_password=False)
    await create_database(admin, name)
    engine = create_async_engine(database_url)
    try:
        await asyncio.to_thread(_alembic, database_url, "upgrade", "0008")
        async with engine.begin() as conn:
            await conn.execute(_CELL, {"officer": uuid.uuid4(), "first": '{"512": 1, "40": 1}'})
        await asyncio.to_thread(_alembic, database_url, "upgrade", "0009")
        async with engine.connect() as conn:
            upgraded = tuple((await conn.execute(_HISTOGRAMS)).one())
        assert upgraded == ([40, 1, 512, 1], [])
        await engine.dispose()  # its prepared statements know the columns' old types
        await asyncio.to_thread(_alembic, database_url, "downgrade", "0008")
        async with engine.connect() as conn:
            downgraded = tuple((await conn.execute(_HISTOGRAMS)).one())
        assert downgraded == ({"40": 1, "512": 1}, {})
    finally:
        await engine.dispose()
        await drop_database(admin, name)
