"""The generator on a tiny database: consistent rows, the same schema, and the queue page."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from bench.scale.generate import generate
from bench.stack import asyncpg_dsn, base_env, fresh_database
from routing_service.deps import StaffMember
from routing_service.statistics.blocks import LEVELS
from routing_service.workspace.service import queue
from shared.validation import is_valid_national_id

RESIDENTS, REQUESTS = 3_000, 12_000
PAGE = 3


@pytest.fixture(scope="module")
def database() -> Iterator[tuple[str, dict[str, object]]]:
    """A database filled by the generator (its foreign keys validated by Postgres)."""
    with fresh_database(base_env(), label="scale_test") as env:
        yield env["DATABASE_URL"], generate(env, residents=RESIDENTS, requests=REQUESTS)


async def _fetch(url: str, query: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(asyncpg_dsn({"DATABASE_URL": url}))
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


def test_every_request_is_where_its_timeline_left_it(
    database: tuple[str, dict[str, object]],
) -> None:
    url, report = database
    broken = asyncio.run(
        _fetch(
            url,
            """
            SELECT r.id FROM requests r
            JOIN LATERAL (SELECT count(*) AS n,
                                 (array_agg(e.to_status ORDER BY e.id DESC))[1] AS last
                          FROM request_events e WHERE e.request_id = r.id) t ON true
            WHERE t.last <> r.status OR t.n <> r.version
               OR (r.status <> 'draft') <> (r.reference IS NOT NULL)
            """,
        )
    )

    assert report["rows"]["requests"] == REQUESTS  # type: ignore[index]
    assert broken == []


def test_statuses_follow_age(database: tuple[str, dict[str, object]]) -> None:
    url, _ = database
    rows = asyncio.run(
        _fetch(
            url,
            """
            SELECT created_at < now() - interval '60 days' AS old,
                   avg((status IN ('routed', 'in_progress', 'awaiting_resident'))::int) AS open
            FROM requests GROUP BY 1
            """,
        )
    )
    share = {row["old"]: float(row["open"]) for row in rows}

    assert share[True] < 0.01
    assert share[False] > 5 * share[True]


def test_residents_have_valid_unique_ids_and_phones(
    database: tuple[str, dict[str, object]],
) -> None:
    url, _ = database
    rows = asyncio.run(
        _fetch(url, "SELECT national_id, phone, verified_at IS NOT NULL AS ok FROM residents")
    )

    assert all(is_valid_national_id(r["national_id"]) for r in rows)
    assert len({r["phone"] for r in rows}) == len(rows) == RESIDENTS
    assert all(r["ok"] for r in rows)


def test_queue_page_merges_departments_in_submission_order(
    database: tuple[str, dict[str, object]],
) -> None:
    url, _ = database
    officer = asyncio.run(
        _fetch(
            url,
            """
            WITH two AS (
                SELECT s.id, array_agg(d.department_code ORDER BY d.department_code) AS deps
                FROM staff s JOIN staff_departments d ON d.staff_id = s.id
                WHERE s.role = 'officer' GROUP BY s.id HAVING count(*) = 2)
            SELECT id, deps AS departments FROM two
            ORDER BY (SELECT count(*) FROM requests r WHERE r.department_code = ANY(deps)
                      AND r.status IN ('routed', 'in_progress', 'awaiting_resident')) DESC, id
            LIMIT 1
            """,
        )
    )[0]
    departments = list(officer["departments"])
    expected = asyncio.run(
        _fetch(
            url,
            """
            SELECT id FROM requests
            WHERE department_code = ANY($1::text[])
              AND status IN ('routed', 'in_progress', 'awaiting_resident')
            ORDER BY submitted_at, id
            """,
            departments,
        )
    )
    member = StaffMember(officer["id"], "officer", frozenset(departments))

    async def pages() -> list[uuid.UUID]:
        from shared import pagination

        engine = create_async_engine(url)
        seen: list[uuid.UUID] = []
        cursor = None
        async with AsyncSession(engine) as session:
            while True:
                rows = await queue(
                    session,
                    member,
                    status=None,
                    department=None,
                    assigned="any",
                    limit=PAGE,
                    cursor=cursor,
                )
                seen += [request.id for request, _ in rows[:PAGE]]
                if len(rows) <= PAGE:
                    break
                last = rows[PAGE - 1][0]
                assert last.submitted_at is not None
                cursor = pagination.encode_cursor(last.submitted_at, last.id)
        await engine.dispose()
        return seen

    assert len(expected) > 2 * PAGE  # more than two pages
    assert asyncio.run(pages()) == [r["id"] for r in expected]


def test_the_rollup_counts_every_submitted_request_once(
    database: tuple[str, dict[str, object]],
) -> None:
    url, report = database
    (row,) = asyncio.run(
        _fetch(
            url,
            """
            SELECT (SELECT count(*) FROM requests WHERE submitted_at IS NOT NULL) AS submitted,
                   (SELECT sum(submitted) FROM statistics_daily) AS counted,
                   (SELECT count(*) FROM statistics_changes) AS pending,
                   (SELECT sum(ratings) FROM statistics_daily) AS ratings,
                   (SELECT count(rating) FROM requests WHERE submitted_at IS NOT NULL) AS rated
            """,
        )
    )
    assert report["statistics"]["requests"] == row["submitted"] > 0  # type: ignore[index]
    assert (row["counted"], row["pending"]) == (row["submitted"], 0)
    assert row["ratings"] == row["rated"]
    levels = asyncio.run(
        _fetch(url, "SELECT level, sum(submitted) AS n FROM statistics_blocks GROUP BY level")
    )
    assert {r["level"]: r["n"] for r in levels} == dict.fromkeys(range(LEVELS), row["submitted"])
