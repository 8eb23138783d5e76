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


_DOCUMENT = text(
    "INSERT INTO documents (id, request_id, filename, content_type, size_bytes, sha256,"
    " storage_key) VALUES (:id, :request, 'a.pdf', 'application/pdf', 5, :sha, 'k')"
)
_CATALOG = (
    "INSERT INTO agencies (code, name_ar, name_en) VALUES ('gdp', 'x', 'x')",
    "INSERT INTO departments (code, agency_code, name_ar, name_en)"
    " VALUES ('visas', 'gdp', 'x', 'x')",
    "INSERT INTO service_types (code, department_code, name_ar, name_en, required_documents,"
    " response_time_hours) VALUES ('final_exit', 'visas', 'x', 'x', '[]', 24)",
)
_REQUEST = text(
    "INSERT INTO requests (id, resident_id, department_code, service_code, description)"
    " VALUES (:id, :resident, 'visas', 'final_exit', 'x')"
)


async def test_0010_marks_existing_documents_not_scanned_and_reverts(backing: Any) -> None:
    """Documents uploaded before 0010 were never scanned, so they come out `not_scanned`
    (never downloadable); a downgrade removes the column and its check again."""
    url = make_url(backing.database_url)
    admin = url.set(database="postgres").render_as_string(hide_password=False)
    name = f"{url.database}_m10"
    database_url = url.set(database=name).render_as_string(hide_password=False)
    await create_database(admin, name)
    engine = create_async_engine(database_url)
    document = uuid.uuid4()
    try:
        await asyncio.to_thread(_alembic, database_url, "upgrade", "0009")
        async with engine.begin() as conn:
            resident = uuid.uuid4()
            await conn.execute(
                text(
                    "INSERT INTO residents (id, national_id, phone, password_hash)"
                    " VALUES (:id, '1000000008', '+966500000000', 'x')"
                ),
                {"id": resident},
            )
            for statement in _CATALOG:
                await conn.execute(text(statement))
            request = uuid.uuid4()
            await conn.execute(_REQUEST, {"id": request, "resident": resident})
            await conn.execute(_DOCUMENT, {"id": document, "request": request, "sha": "0" * 64})
        await asyncio.to_thread(_alembic, database_url, "upgrade", "0010")
        async with engine.connect() as conn:
            status = await conn.scalar(
                text("SELECT scan_status FROM documents WHERE id = :id"), {"id": document}
            )
        assert status == "not_scanned"
        await engine.dispose()
        await asyncio.to_thread(_alembic, database_url, "downgrade", "0009")
        async with engine.connect() as conn:
            columns = set(
                await conn.scalars(
                    text(
                        "SELECT column_name FROM information_schema.columns"
                        " WHERE table_name = 'documents'"
                    )
                )
            )
        assert "scan_status" not in columns
        assert "scanned_at" not in columns
    finally:
        await engine.dispose()
        await drop_database(admin, name)
