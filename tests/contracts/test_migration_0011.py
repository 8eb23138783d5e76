"""Migration 0011 builds the department blocks from the daily cells exactly as the fold would,
and refuses cell writes from a fold that does not keep the blocks."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from routing_service.statistics import blocks, store
from routing_service.statistics.figures import Figures
from tests.contracts.test_migrations import _alembic
from tests.support.database import create_database, drop_database

_DECLARE = text("SELECT set_config('tawasul.fold_blocks', 'on', true)")


def _random_cell(rng: random.Random) -> Figures:
    figures = Figures(submitted=rng.randint(1, 9), breaches=rng.randint(0, 2))
    figures.first_responses = rng.randint(0, figures.submitted)
    figures.ratings = rng.randint(0, 3)
    figures.rating_sum = figures.ratings * rng.randint(1, 5)
    figures.by_status = {"closed": figures.submitted - 1, "routed": 1}
    figures.by_status = {k: n for k, n in figures.by_status.items() if n}
    figures.first_response_histogram = {rng.randint(300, 700): rng.randint(1, 3) for _ in range(4)}
    figures.resolution_histogram = {rng.randint(400, 800): 1 for _ in range(rng.randint(0, 3))}
    return figures


async def _blocks(conn: AsyncConnection) -> dict[Any, Figures]:
    rows = (await conn.execute(text("SELECT * FROM statistics_blocks"))).mappings()
    return {(r["department_code"], r["level"], r["start_day"]): Figures.from_row(r) for r in rows}


async def test_0011_builds_blocks_like_the_fold_and_guards_the_cells(backing: Any) -> None:
    url = make_url(backing.database_url)
    admin = url.set(database="postgres").render_as_string(hide_password=False)
    name = f"{url.database}_m11"
    database_url = url.set(database=name).render_as_string(hide_password=False)
    await create_database(admin, name)
    engine = create_async_engine(database_url)
    rng = random.Random(11)
    officers = [uuid.uuid4() for _ in range(3)]
    cells = {
        (
            rng.choice(["visas", "violations"]),
            date(2025, 1, 1) + timedelta(rng.randrange(700)),
            o,
        ): (_random_cell(rng))
        for o in officers
        for _ in range(60)
    }
    try:
        await asyncio.to_thread(_alembic, database_url, "upgrade", "0010")
        async with engine.begin() as conn:
            rows = [
                f.as_row(dict(zip(store.CELLS.key_names, k, strict=True))) for k, f in cells.items()
            ]
            await conn.execute(store.CELLS.upsert, store.columns(rows))
        await asyncio.to_thread(_alembic, database_url, "upgrade", "0011")
        async with engine.connect() as conn:
            built = await _blocks(conn)
        assert built == blocks.block_deltas(cells)

        async with engine.begin() as conn:
            with pytest.raises(DBAPIError, match="keeps statistics_blocks"):
                await conn.execute(text("DELETE FROM statistics_daily"))
        async with engine.begin() as conn:
            await conn.execute(_DECLARE)
            assert (await conn.execute(text("DELETE FROM statistics_daily"))).rowcount == len(cells)

        await engine.dispose()
        await asyncio.to_thread(_alembic, database_url, "downgrade", "0010")
        async with engine.begin() as conn:
            tables = set(
                await conn.scalars(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                )
            )
            assert "statistics_blocks" not in tables
            by_status = json.dumps({"closed": 1})
            await conn.execute(
                text(
                    "INSERT INTO statistics_daily (department_code, day, officer_key, submitted,"
                    " first_responses, first_response_judged, first_response_on_time,"
                    " resolutions, resolution_judged, resolution_on_time, breaches, rating_sum,"
                    " ratings, by_status) VALUES ('visas', '2026-01-01', :o, 1, 0, 0, 0, 0, 0,"
                    " 0, 0, 0, 0, CAST(:s AS jsonb))"
                ),
                {"o": officers[0], "s": by_status},
            )
    finally:
        await engine.dispose()
        await drop_database(admin, name)
