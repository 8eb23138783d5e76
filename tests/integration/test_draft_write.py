"""A resident's draft is written in one raw statement: same answer, same rows, same errors."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text

DRAFT = {
    "department_code": "visas",
    "service_code": "final_exit",
    "description": "أرغب في إصدار تأشيرة خروج نهائي.",
}


@pytest.fixture
async def resident(client: httpx.AsyncClient, stack: Any, sms: Any) -> Any:
    """A freshly signed-in resident."""
    return await stack.sign_up(client, sms.ledger)


async def _rows(stack: Any, resident: Any) -> dict[str, int]:
    """How many requests, events and idempotency records the resident has."""
    async with stack.sessions() as session:
        row = (
            await session.execute(
                text(
                    "SELECT (SELECT count(*) FROM requests r WHERE r.resident_id = p.id),"
                    " (SELECT count(*) FROM request_events e JOIN requests r"
                    "    ON r.id = e.request_id WHERE r.resident_id = p.id),"
                    " (SELECT count(*) FROM idempotency_keys k WHERE k.resident_id = p.id)"
                    " FROM residents p WHERE p.national_id = :nid"
                ),
                {"nid": resident.national_id},
            )
        ).one()
    return {"requests": row[0], "events": row[1], "keys": row[2]}


async def test_the_answer_is_the_request_page_read_back(
    client: httpx.AsyncClient, resident: Any, stack: Any
) -> None:
    created = await client.post("/v1/requests", json=DRAFT, headers=resident.auth)
    assert created.status_code == 201, created.text
    page = await client.get(f"/v1/requests/{created.json()['id']}", headers=resident.auth)
    assert page.status_code == 200
    assert created.json() == page.json()
    assert await _rows(stack, resident) == {"requests": 1, "events": 1, "keys": 0}


async def test_an_inactive_service_or_department_writes_nothing(
    client: httpx.AsyncClient, resident: Any, stack: Any
) -> None:
    for table, code in (("service_types", "final_exit"), ("departments", "visas")):
        async with stack.sessions() as session, session.begin():
            await session.execute(
                text(f"UPDATE {table} SET active = false WHERE code = :code"),  # noqa: S608
                {"code": code},
            )
        try:
            refused = await client.post(
                "/v1/requests",
                json=DRAFT,
                headers={**resident.auth, "Idempotency-Key": str(uuid.uuid4())},
            )
        finally:
            async with stack.sessions() as session, session.begin():
                await session.execute(
                    text(f"UPDATE {table} SET active = true WHERE code = :code"),  # noqa: S608
                    {"code": code},
                )
        assert refused.status_code == 422, table
        assert refused.json()["code"] == "unknown_service"
    assert await _rows(stack, resident) == {"requests": 0, "events": 0, "keys": 0}


async def test_concurrent_calls_with_one_key_make_one_draft(
    client: httpx.AsyncClient, resident: Any, stack: Any
) -> None:
    headers = {**resident.auth, "Idempotency-Key": str(uuid.uuid4())}
    answers = await asyncio.gather(
        *(client.post("/v1/requests", json=DRAFT, headers=headers) for _ in range(6))
    )
    assert {a.status_code for a in answers} == {201}, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 5
    assert await _rows(stack, resident) == {"requests": 1, "events": 1, "keys": 1}


async def test_a_lock_held_too_long_answers_503_and_the_pool_recovers(
    client: httpx.AsyncClient, resident: Any, stack: Any
) -> None:
    """The draft's foreign-key check waits on a locked resident row until lock_timeout: that is
    contention the caller may retry (503), never a 500, and the connection stays usable."""
    async with stack.sessions() as session, session.begin():
        await session.execute(
            text("SELECT 1 FROM residents WHERE national_id = :nid FOR UPDATE"),
            {"nid": resident.national_id},
        )
        started = time.monotonic()
        blocked = await client.post("/v1/requests", json=DRAFT, headers=resident.auth)
        waited = time.monotonic() - started
    assert blocked.status_code == 503, blocked.text
    assert blocked.headers["retry-after"]
    assert blocked.json()["detail_ar"]
    assert waited < 10
    for _ in range(3):
        again = await client.post("/v1/requests", json=DRAFT, headers=resident.auth)
        assert again.status_code == 201, again.text
    assert await _rows(stack, resident) == {"requests": 3, "events": 3, "keys": 0}


async def test_drafts_after_postgres_dropped_every_intake_connection_succeed(
    client: httpx.AsyncClient, resident: Any, stack: Any
) -> None:
    """The raw connection comes from the same pool, whose checkout discards closed ones."""
    for _ in range(3):
        assert (await client.post("/v1/requests", json=DRAFT, headers=resident.auth)).is_success
    async with stack.sessions() as session:
        await session.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = 'intake'"
            )
        )
    await asyncio.sleep(0.2)
    for _ in range(3):
        response = await client.post("/v1/requests", json=DRAFT, headers=resident.auth)
        assert response.status_code == 201, response.text


async def test_a_lock_held_too_long_on_an_orm_path_answers_503_too(
    client: httpx.AsyncClient, resident: Any, stack: Any
) -> None:
    """Submission goes through SQLAlchemy, which wraps asyncpg's error: the same rule holds."""
    draft = (await client.post("/v1/requests", json=DRAFT, headers=resident.auth)).json()
    async with stack.sessions() as session, session.begin():
        await session.execute(
            text("SELECT 1 FROM requests WHERE id = :id FOR UPDATE"), {"id": draft["id"]}
        )
        blocked = await client.post(f"/v1/requests/{draft['id']}/submit", headers=resident.auth)
    assert blocked.status_code == 503, blocked.text
    submitted = await client.post(f"/v1/requests/{draft['id']}/submit", headers=resident.auth)
    assert submitted.status_code == 200, submitted.text
