"""Take the large tables' indexes and constraints off for a bulk load, and put back exactly
the same ones after (names and definitions as alembic created them)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import asyncpg
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex

from shared.db.base import Base

LOADED = ("residents", "requests", "request_events", "request_assignments", "documents")
"""The tables the generator fills; everything else keeps its indexes during the load."""


@dataclass(frozen=True)
class Definition:
    """One index or constraint: enough to drop it and to create it again."""

    kind: str  # "index", "p"/"u" (constraint over an index), "f" (foreign key)
    table: str
    name: str
    sql: str  # pg_get_indexdef / pg_get_constraintdef


_INDEXES = """
SELECT c.relname AS tbl, i.relname AS name, pg_get_indexdef(x.indexrelid) AS sql,
       coalesce(k.contype::text, 'index') AS kind,
       x.indpred IS NOT NULL OR x.indexprs IS NOT NULL AS has_expressions
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class c ON c.oid = x.indrelid
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
LEFT JOIN pg_constraint k ON k.conindid = x.indexrelid AND k.contype IN ('p', 'u')
WHERE c.relname = ANY($1::text[])
"""
_FOREIGN_KEYS = """
SELECT c.relname AS tbl, k.conname AS name, pg_get_constraintdef(k.oid) AS sql, 'f' AS kind
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_class r ON r.oid = k.confrelid
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
WHERE k.contype = 'f' AND (c.relname = ANY($1::text[]) OR r.relname = ANY($1::text[]))
"""
_EVERYTHING = """
SELECT 'index' AS kind, tablename AS tbl, indexname AS name, indexdef AS sql
FROM pg_indexes WHERE schemaname = 'public'
UNION ALL
SELECT k.contype::text || CASE WHEN k.convalidated THEN '' ELSE ' not valid' END, c.relname,
       k.conname, pg_get_constraintdef(k.oid)
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
UNION ALL
SELECT 'options', c.relname, c.relname, coalesce(array_to_string(c.reloptions, ','), '')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
WHERE c.relkind = 'r'
ORDER BY 1, 2, 3
"""


def model_indexes() -> dict[str, str]:
    """CREATE INDEX of every index the models declare, by name."""
    import shared.db  # noqa: F401 - registers every model on the metadata

    ddl: dict[str, str] = {}
    for table in Base.metadata.tables.values():
        for index in table.indexes:
            text = str(CreateIndex(index).compile(dialect=postgresql.dialect()))  # type: ignore[no-untyped-call]
            name = re.search(r"INDEX (\S+) ON", text)
            if name:
                ddl[name.group(1).strip('"')] = text
    return ddl


async def snapshot(conn: asyncpg.Connection) -> list[tuple[str, str, str, str]]:
    """Every index, constraint and table option of the public schema, for an exact comparison."""
    return [tuple(row) for row in await conn.fetch(_EVERYTHING)]


async def take_off(conn: asyncpg.Connection, tables: Sequence[str] = LOADED) -> list[Definition]:
    """Drop foreign keys touching `tables`, then their constraints and indexes; autovacuum off.

    Returns what was dropped, for put_back."""
    keys = [
        Definition(r["kind"], r["tbl"], r["name"], r["sql"])
        for r in await conn.fetch(_FOREIGN_KEYS, list(tables))
    ]
    models = model_indexes()
    indexes = [
        # Postgres deparses a predicate or expression into a form that, created again, reads
        # back differently; the model's DDL gives back exactly what the migration made.
        Definition(
            r["kind"], r["tbl"], r["name"], models[r["name"]] if r["has_expressions"] else r["sql"]
        )
        for r in await conn.fetch(_INDEXES, list(tables))
    ]
    async with conn.transaction():
        for key in keys:
            await conn.execute(f'ALTER TABLE "{key.table}" DROP CONSTRAINT "{key.name}"')
        for index in indexes:
            if index.kind == "index":
                await conn.execute(f'DROP INDEX "{index.name}"')
            else:
                await conn.execute(f'ALTER TABLE "{index.table}" DROP CONSTRAINT "{index.name}"')
        for table in tables:
            await conn.execute(f'ALTER TABLE "{table}" SET (autovacuum_enabled = false)')
    return keys + indexes


Progress = Callable[[str], None]


async def put_back(
    conns: Sequence[asyncpg.Connection],
    dropped: Sequence[Definition],
    sizes: dict[str, int],
    *,
    validate: bool,
    say: Progress,
) -> None:
    """Build the indexes (largest table first, one per connection at a time), make the primary
    keys and unique constraints use them, then add the foreign keys back.

    With validate=False a foreign key is added NOT VALID and then marked valid in the catalog:
    the generator builds every reference from the same numbering, and a small run validates
    for real (tests/bench), so a full-size load skips scanning 200M rows per key."""
    indexes = sorted(
        (d for d in dropped if d.kind != "f"), key=lambda d: sizes.get(d.table, 0), reverse=True
    )
    await parallel(conns, [_create_index(d, say) for d in indexes])
    conn = conns[0]
    async with conn.transaction():
        for d in indexes:
            if d.kind in ("p", "u"):
                word = "PRIMARY KEY" if d.kind == "p" else "UNIQUE"
                await conn.execute(
                    f'ALTER TABLE "{d.table}" ADD CONSTRAINT "{d.name}" {word}'
                    f' USING INDEX "{d.name}"'
                )
        for table in LOADED:
            await conn.execute(f'ALTER TABLE "{table}" RESET (autovacuum_enabled)')
    keys = [d for d in dropped if d.kind == "f"]
    if validate:
        await parallel(conns, [_add_key(d, say) for d in keys])
        return
    async with conn.transaction():
        for d in keys:
            await conn.execute(
                f'ALTER TABLE "{d.table}" ADD CONSTRAINT "{d.name}" {d.sql} NOT VALID'
            )
            await conn.execute(
                "UPDATE pg_constraint SET convalidated = true"
                " WHERE conname = $1 AND conrelid = $2::regclass",
                d.name,
                f'"{d.table}"',
            )


Job = Callable[[asyncpg.Connection], Awaitable[None]]


def _create_index(d: Definition, say: Progress) -> Job:
    async def job(conn: asyncpg.Connection) -> None:
        started = asyncio.get_running_loop().time()
        await conn.execute(d.sql)
        say(f"index {d.name} ({asyncio.get_running_loop().time() - started:.1f}s)")

    return job


def _add_key(d: Definition, say: Progress) -> Job:
    async def job(conn: asyncpg.Connection) -> None:
        started = asyncio.get_running_loop().time()
        await conn.execute(f'ALTER TABLE "{d.table}" ADD CONSTRAINT "{d.name}" {d.sql}')
        say(f"foreign key {d.name} ({asyncio.get_running_loop().time() - started:.1f}s)")

    return job


async def parallel(conns: Sequence[asyncpg.Connection], jobs: Sequence[Job]) -> None:
    """Run jobs in order, each connection taking the next one when it is free."""
    queue = list(reversed(jobs))

    async def worker(conn: asyncpg.Connection) -> None:
        while queue:
            await queue.pop()(conn)

    await asyncio.gather(*(worker(conn) for conn in conns))
