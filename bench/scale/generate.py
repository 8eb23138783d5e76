"""Fill a migrated, catalog-loaded database with residents, staff and requests at any size.

13M residents and 40M requests (with ~215M timeline events) in minutes: rows are made by
Postgres itself from generate_series on two connections, into tables whose indexes and keys
are off for the load and rebuilt (with exactly their old definitions) after it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from argon2 import PasswordHasher

from bench.scale import schema
from bench.scale.shape import (
    Service,
    StaffPlan,
    resident_tiers,
    service_mix,
    slots,
    staff_plan,
    zipf_weights,
)
from bench.scale.sql import (
    requests_sql,
    residents_sql,
    staff_ids_sql,
    staff_rows,
    staff_sql,
)

SPAN = timedelta(days=3 * 365)
"""Requests are spread over the last three years; residents' accounts are older."""
RESIDENT_CHUNK = 1_000_000
REQUEST_CHUNK = 200_000
VALIDATE_UP_TO = 2_000_000
"""Foreign keys are validated by Postgres up to this many requests; above, see schema.put_back."""
CONNECTIONS = 2
BYTES_PER_REQUEST = 2_300
"""Disk per generated request at its peak: ~2.0 KB of tables and indexes (measured: 811 MB at
400,000 requests, events being two thirds of it) plus the index builds' sort files."""
PASSWORD = "bench-password-1"  # noqa: S105 - every generated account, benchmark data only
SESSION = (
    "SET synchronous_commit = off",
    "SET statement_timeout = 0",
    "SET work_mem = '512MB'",
    "SET maintenance_work_mem = '1536MB'",
    "SET max_parallel_maintenance_workers = 0",
    "SET jit = off",  # compiling the generator's expressions costs more than it saves
    # No statistics triggers while loading (a note per row would double the load); the
    # rollup is built afterwards by the product's own fold, see _statistics.
    "SET session_replication_role = replica",
)


def say(message: str) -> None:
    """Progress on stderr, so stdout stays JSON for `python -m bench.scale`."""
    print(f"[scale {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def generate(
    env: Mapping[str, str], *, residents: int, requests: int, seed: int = 7
) -> dict[str, Any]:
    """Fill env's DATABASE_URL; returns row counts and the time of each phase (seconds)."""
    dsn = env["DATABASE_URL"].replace("+asyncpg", "")
    result = asyncio.run(_generate(dsn, residents=residents, requests=requests, seed=seed))
    result["statistics"] = asyncio.run(_statistics(env["DATABASE_URL"]))
    return result


async def _statistics(url: str) -> dict[str, Any]:
    """Build the supervisors' rollup as production does after migration 0008: a note for
    every submitted request, folded by routing's own fold (batch by batch, as the cron)."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    from routing_service.statistics.rollup import fold_all

    engine = create_async_engine(url)
    try:
        async with AsyncSession(engine) as session:
            mark = time.monotonic()
            async with session.begin():
                await session.execute(
                    text(
                        "INSERT INTO statistics_changes (request_id) SELECT id FROM requests"
                        " WHERE submitted_at IS NOT NULL"
                    )
                )
            noted = time.monotonic() - mark
            say("statistics: notes written, folding")
            mark = time.monotonic()
            folded = await fold_all(session)
            seconds = time.monotonic() - mark
            cells = await session.scalar(text("SELECT count(*) FROM statistics_daily"))
            await session.commit()
        async with engine.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
            await conn.execute(text("VACUUM ANALYZE statistics_daily"))
            await conn.execute(text("VACUUM ANALYZE statistics_contributions"))
            await conn.execute(text("VACUUM ANALYZE statistics_changes"))
    finally:
        await engine.dispose()
    say(f"statistics: {folded} requests folded into {cells} cells in {seconds:.0f}s")
    return {
        "requests": folded,
        "cells": cells,
        "seconds_notes": round(noted, 1),
        "seconds_fold": round(seconds, 1),
        "requests_per_second": round(folded / seconds) if seconds else None,
    }


async def _connect(dsn: str) -> asyncpg.Connection:
    conn: asyncpg.Connection = await asyncpg.connect(dsn)
    for statement in SESSION:
        await conn.execute(statement)
    return conn


async def catalog(conn: asyncpg.Connection) -> list[tuple[str, list[Service]]]:
    """Active departments in catalog order, each with its active services in order."""
    departments = await conn.fetch(
        "SELECT code FROM departments WHERE active ORDER BY position, code"
    )
    services = await conn.fetch(
        "SELECT code, department_code, response_time_hours, resolution_hours FROM service_types"
        " WHERE active ORDER BY position, code"
    )
    return [
        (
            d["code"],
            [
                Service(
                    s["department_code"], s["code"], s["response_time_hours"], s["resolution_hours"]
                )
                for s in services
                if s["department_code"] == d["code"]
            ],
        )
        for d in departments
    ]


async def _generate(dsn: str, *, residents: int, requests: int, seed: int) -> dict[str, Any]:
    timings: dict[str, float] = {}
    started = time.monotonic()
    conns = [await _connect(dsn) for _ in range(CONNECTIONS)]
    try:
        conn = conns[0]
        await _check_disk(conn, requests)
        before = await schema.snapshot(conn)
        departments = [(code, services) for code, services in await catalog(conn) if services]
        codes = [code for code, _ in departments]
        mix = service_mix(departments)
        plans = staff_plan(codes, zipf_weights(len(codes)), residents)
        tiers = resident_tiers(residents, requests)
        now = datetime.now(UTC)
        start = now - SPAN
        password = PasswordHasher(memory_cost=19456, time_cost=2, parallelism=1).hash(PASSWORD)

        mark = time.monotonic()
        dropped = await schema.take_off(conn)
        officers = await _staff(conn, plans, codes, seed, password)
        timings["prepare"] = time.monotonic() - mark

        mark = time.monotonic()
        statement = requests_sql(
            seed=seed,
            total=requests,
            services=[service for service, _ in mix],
            service_slots=slots([weight for _, weight in mix]),
            departments=codes,
            staff=plans,
            officers=officers,
            tiers=tiers,
        )
        load = _Load(residents, requests)
        jobs = [
            _residents_job(
                residents_sql(seed),
                lo,
                min(lo + RESIDENT_CHUNK, residents),
                password,
                start - timedelta(days=365),
                start,
                load,
            )
            for lo in range(0, residents, RESIDENT_CHUNK)
        ]
        jobs += [
            _requests_job(
                statement, index, lo, min(lo + REQUEST_CHUNK, requests), now, start, seed, load
            )
            for index, lo in enumerate(range(0, requests, REQUEST_CHUNK))
        ]
        await schema.parallel(conns, jobs)
        timings["load"] = time.monotonic() - mark

        mark = time.monotonic()
        sizes = {
            r["relname"]: int(r["size"])
            for r in await conn.fetch(
                "SELECT relname, pg_relation_size(oid) AS size FROM pg_class"
                " WHERE relname = ANY($1::text[])",
                list(schema.LOADED),
            )
        }
        await schema.put_back(conns, dropped, sizes, validate=requests <= VALIDATE_UP_TO, say=say)
        await conn.execute(f"SELECT setval('request_reference_seq', {max(requests, 1)})")
        timings["indexes"] = time.monotonic() - mark

        mark = time.monotonic()
        await schema.parallel(
            conns,
            [_vacuum(table) for table in sorted(sizes, key=sizes.__getitem__, reverse=True)],
        )
        await conn.execute("ANALYZE")
        timings["vacuum_analyze"] = time.monotonic() - mark

        after = await schema.snapshot(conn)
        if after != before:
            missing = sorted(set(before) - set(after))
            extra = sorted(set(after) - set(before))
            raise RuntimeError(f"schema differs after the load: missing {missing}, extra {extra}")
        counts = {**load.rows, **await _staff_counts(conn)}
    finally:
        for c in conns:
            await c.close()
    timings["total"] = time.monotonic() - started
    say(f"done in {timings['total']:.0f}s: {counts}")
    return {
        "residents": residents,
        "requests": requests,
        "seed": seed,
        "rows": counts,
        "seconds": {k: round(v, 1) for k, v in timings.items()},
        "requests_per_second": round(requests / timings["load"]) if timings["load"] else None,
        "tiers": {t.name: {"residents": t.size, "requests": t.requests} for t in tiers},
        "staff": {p.department: p.officers for p in plans},
    }


def _free_bytes(directory: str) -> int | None:
    """Free bytes on the disk holding `directory`, if it is on this machine."""
    return shutil.disk_usage(directory).free if os.path.isdir(directory) else None


async def _check_disk(conn: asyncpg.Connection, requests: int) -> None:
    """Refuse to start a load that would fill the database server's disk (a full disk stops
    Postgres for everyone using it); checked only when the server's data directory is local."""
    try:
        directory = str(await conn.fetchval("SHOW data_directory"))
    except asyncpg.PostgresError:
        return  # not a superuser: the server's disk cannot be seen from here
    free = _free_bytes(directory)
    if free is None:
        return
    needed = requests * BYTES_PER_REQUEST
    if needed > free:
        raise RuntimeError(
            f"{requests:,} requests need about {needed / 1e9:.0f} GB on the database server's "
            f"disk ({directory}); {free / 1e9:.0f} GB are free: use a smaller --scale"
        )
    say(f"disk: about {needed / 1e9:.1f} GB needed, {free / 1e9:.0f} GB free")


class _Load:
    """Counts the rows the chunks have written (exactly), and says so every few seconds."""

    def __init__(self, residents: int, requests: int) -> None:
        self.totals = {"residents": residents, "requests": requests}
        self.rows = dict.fromkeys(
            ("residents", "requests", "request_events", "request_assignments", "documents"), 0
        )
        self.started = time.monotonic()
        self.last = 0.0

    def add(self, **rows: int) -> None:
        """Rows one chunk wrote, by table."""
        for table, count in rows.items():
            self.rows[table] += count
        now = time.monotonic()
        finished = all(self.rows[k] >= v for k, v in self.totals.items())
        if now - self.last >= 10 or finished:
            self.last = now
            done = self.rows
            say(
                f"residents {done['residents']:,}/{self.totals['residents']:,}, requests "
                f"{done['requests']:,}/{self.totals['requests']:,} "
                f"({done['requests'] / (now - self.started):,.0f}/s), "
                f"events {done['request_events']:,}"
            )


def _residents_job(
    statement: str,
    lo: int,
    hi: int,
    password: str,
    earliest: datetime,
    latest: datetime,
    load: _Load,
) -> schema.Job:
    async def job(conn: asyncpg.Connection) -> None:
        await conn.execute(statement, lo, hi, password, earliest, latest)
        load.add(residents=hi - lo)

    return job


def _requests_job(
    statement: str,
    index: int,
    lo: int,
    hi: int,
    now: datetime,
    start: datetime,
    seed: int,
    load: _Load,
) -> schema.Job:
    async def job(conn: asyncpg.Connection) -> None:
        await conn.execute("SELECT setseed($1)", _seed_value(seed, index))
        counts = await conn.fetchrow(statement, lo, hi, now, start)
        load.add(
            requests=hi - lo,
            request_events=counts["events"],
            request_assignments=counts["assignments"],
            documents=counts["documents"],
        )

    return job


def _seed_value(seed: int, index: int) -> float:
    """setseed's argument in [-1, 1], different per chunk, the same on every run."""
    return ((seed * 1_000_003 + index * 7_919) % 2_000_001) / 1_000_000 - 1


def _vacuum(table: str) -> schema.Job:
    async def job(conn: asyncpg.Connection) -> None:
        mark = time.monotonic()
        await conn.execute(f'VACUUM (ANALYZE) "{table}"')
        say(f"vacuum analyze {table} ({time.monotonic() - mark:.1f}s)")

    return job


async def _staff(
    conn: asyncpg.Connection,
    plans: Sequence[StaffPlan],
    codes: Sequence[str],
    seed: int,
    password: str,
) -> list[uuid.UUID]:
    """Officers and supervisors with their departments; every tenth officer also works in the
    next department, and two officers in three are on duty. Returns the officers' IDs by
    number, for the requests they handle."""
    rows = staff_rows(plans, seed)
    numbers = [n for n, _, _, _ in rows]
    await conn.execute(
        staff_sql(seed), numbers, [r[1] for r in rows], [r[2] for r in rows], password
    )
    ids = dict(
        zip(numbers, [r[0] for r in await conn.fetch(staff_ids_sql(seed), numbers)], strict=True)
    )
    memberships = [(ids[n], dept) for n, _, _, dept in rows]
    for n, username, role, dept in rows:
        index = int(username.rsplit(".", 1)[1])
        if role == "officer" and index % 10 == 0 and len(codes) > 1:
            memberships.append((ids[n], codes[(codes.index(dept) + 1) % len(codes)]))
    await conn.copy_records_to_table(
        "staff_departments", records=memberships, columns=["staff_id", "department_code"]
    )
    officers = [n for n, _, role, _ in rows if role == "officer"]
    await conn.copy_records_to_table(
        "officer_duty",
        records=[(ids[n], n % 3 != 0, 20) for n in officers],
        columns=["staff_id", "on_duty", "capacity"],
    )
    return [ids[n] for n in sorted(officers)]


async def _staff_counts(conn: asyncpg.Connection) -> dict[str, int]:
    """Staff rows, counted (a few thousand at most)."""
    return {
        table: int(await conn.fetchval(f"SELECT count(*) FROM {table}"))  # noqa: S608 - fixed names
        for table in ("staff", "staff_departments", "officer_duty")
    }
