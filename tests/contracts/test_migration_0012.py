"""Migration 0012: blocks gain dense histograms that the fold keeps equal to their pairs, that
are derived for rows from before the upgrade, and that a writer which does not keep them
(the previous release's fold) can never leave stale."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from datetime import date, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, create_async_engine

from routing_service.statistics import rollup, sketch, store
from routing_service.statistics.figures import Figures
from tests.contracts.test_migrations import _alembic
from tests.support.database import scratch_database

_PREVIOUS_RELEASE = dataclasses.replace(store.BLOCKS, dense=False)
"""statistics_blocks as the release before 0012 writes it: pairs only."""
_ROWS = text(
    "SELECT department_code, level, start_day, first_response_dense, resolution_dense"
    " FROM statistics_blocks"
)
_DECLARE = text("SELECT set_config('tawasul.fold_dense', 'on', true)")


def _random_block(rng: random.Random) -> Figures:
    figures = Figures(submitted=rng.randint(1, 50), by_status={"closed": 1})
    sizes = (0, 1, 2, rng.randint(3, 700))
    figures.first_response_histogram = {
        rng.randint(0, 900): rng.randint(1, 2**31 - 1) for _ in range(rng.choice(sizes))
    }
    figures.resolution_histogram = {
        rng.randint(0, 32_000): rng.randint(1, 9) for _ in range(rng.choice(sizes))
    }
    return figures


async def _write(conn: AsyncConnection, table: store.Table, blocks: dict[Any, Figures]) -> None:
    rows = []
    for key, figures in blocks.items():
        row = figures.as_row(dict(zip(table.key_names, key, strict=True)))
        if table.dense:
            row.update(store.dense_forms(figures))
        rows.append(row)
    await conn.execute(table.upsert, store.columns(rows))


async def _dense(conn: AsyncConnection) -> dict[Any, tuple[bytes | None, bytes | None]]:
    return {(r[0], r[1], r[2]): (r[3], r[4]) for r in (await conn.execute(_ROWS)).all()}


def _expected(figures: Figures) -> tuple[bytes, bytes]:
    return (
        sketch.dense(figures.first_response_histogram),
        sketch.dense(figures.resolution_histogram),
    )


async def test_0012_dense_histograms_are_derived_kept_and_never_stale(backing: Any) -> None:
    async with scratch_database(backing.database_url, "m12") as database_url:
        engine = create_async_engine(database_url)
        rng = random.Random(12)
        blocks = {
            ("visas", level, date(2025, 1, 1) + timedelta(days=i << level)): _random_block(rng)
            for level in range(3)
            for i in range(20)
        }
        try:
            await asyncio.to_thread(_alembic, database_url, "upgrade", "0011")
            async with engine.begin() as conn:
                await _write(conn, _PREVIOUS_RELEASE, blocks)
            await asyncio.to_thread(_alembic, database_url, "upgrade", "0012")
            async with engine.connect() as conn:
                assert set((await _dense(conn)).values()) == {(None, None)}

            # The fold's tick derives them a batch at a time, from the pairs.
            async with AsyncSession(engine) as session:
                assert await rollup.densify(session, limit=25) == 25
                assert await rollup.densify(session) == len(blocks) - 25
                assert await rollup.densify(session) == 0
            async with engine.connect() as conn:
                assert await _dense(conn) == {k: _expected(f) for k, f in blocks.items()}

            changed = rng.sample(sorted(blocks), 15)
            for key in changed:
                blocks[key] = _random_block(rng)
            # The previous release's fold rewrites pairs only: those rows' dense forms are gone,
            # not stale; a declared writer (this release's fold) keeps them.
            async with engine.begin() as conn:
                await _write(conn, _PREVIOUS_RELEASE, {k: blocks[k] for k in changed[:8]})
                await conn.execute(_DECLARE)
                await _write(conn, store.BLOCKS, {k: blocks[k] for k in changed[8:]})
            async with engine.connect() as conn:
                dense = await _dense(conn)
            assert {k: dense[k] for k in changed[:8]} == dict.fromkeys(changed[:8], (None, None))
            assert dense == {
                k: (None, None) if k in changed[:8] else _expected(f) for k, f in blocks.items()
            }
            # Only the declaration counts: an undeclared writer's dense forms are forgotten even
            # when it writes them.
            async with engine.begin() as conn:
                await _write(conn, store.BLOCKS, {changed[9]: blocks[changed[9]]})
            async with engine.connect() as conn:
                assert (await _dense(conn))[changed[9]] == (None, None)

            await engine.dispose()
            await asyncio.to_thread(_alembic, database_url, "downgrade", "0011")
            async with engine.begin() as conn:
                await _write(conn, _PREVIOUS_RELEASE, {changed[0]: blocks[changed[0]]})
        finally:
            await engine.dispose()
