"""SMS delivery through the outbox: retries on provider failure, never twice, never lost."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from redis.exceptions import RedisError
from sqlalchemy import text

from shared.queue.connections import create_arq_redis
from shared.queue.relay import relay_once


async def _notification_statuses(stack: Any, phone: str) -> list[tuple[str, int]]:
    async with stack.sessions() as session:
        rows = await session.execute(
            text("SELECT status, attempts FROM notifications WHERE phone = :p ORDER BY created_at"),
            {"p": phone},
        )
        return [(row[0], row[1]) for row in rows]


async def test_failing_provider_is_retried_and_sends_once(
    client: httpx.AsyncClient, stack: Any, sms: Any
) -> None:
    resident = await stack.sign_up(client, sms.ledger)
    sms.ledger.fail_next = 2
    draft = await client.post(
        "/v1/requests",
        json={"department_code": "visas", "service_code": "final_exit", "description": "x"},
        headers=resident.auth,
    )
    await client.post(f"/v1/requests/{draft.json()['id']}/submit", headers=resident.auth)
    await stack.drain()
    for _ in range(2):  # each failure backs off; make the retries due now instead of waiting
        await stack.make_pending_due()
        await stack.drain()
    statuses = await _notification_statuses(stack, resident.phone)
    assert [s for s, _ in statuses] == ["delivered"] * 4  # 2 codes, submitted, routed
    assert max(attempts for _, attempts in statuses) >= 2
    assert len(sms.ledger.to(resident.phone)) == 4
    assert await stack.pending_outbox() == 0


async def test_running_a_job_twice_sends_one_sms(
    client: httpx.AsyncClient, stack: Any, sms: Any
) -> None:
    resident = await stack.sign_up(client, sms.ledger)
    async with stack.sessions() as session:
        outbox_ids = (
            (
                await session.execute(
                    text(
                        "SELECT id FROM outbox WHERE job = 'send_otp' "
                        "AND payload->>'resident_id' IN (SELECT id::text FROM residents "
                        "WHERE phone = :p)"
                    ),
                    {"p": resident.phone},
                )
            )
            .scalars()
            .all()
        )
    from notify_service.jobs.deliver import send_otp

    before = len(sms.ledger.to(resident.phone))
    for outbox_id in outbox_ids:
        assert await send_otp(stack.ctx, str(outbox_id)) == "skipped"
    assert len(sms.ledger.to(resident.phone)) == before


async def test_codes_are_not_kept_after_sending(
    client: httpx.AsyncClient, stack: Any, sms: Any
) -> None:
    resident = await stack.sign_up(client, sms.ledger)
    async with stack.sessions() as session:
        bodies = (
            (
                await session.execute(
                    text("SELECT body FROM notifications WHERE phone = :p AND event = 'otp_code'"),
                    {"p": resident.phone},
                )
            )
            .scalars()
            .all()
        )
        payload_codes = (
            await session.execute(
                text(
                    "SELECT count(*) FROM outbox WHERE job = 'send_otp' "
                    "AND payload->'values' ? 'code' AND status <> 'pending'"
                )
            )
        ).scalar_one()
    assert bodies
    assert all("••••••" in body for body in bodies)
    assert payload_codes == 0


async def test_relay_keeps_rows_when_redis_is_unreachable(stack: Any) -> None:
    from shared.queue.contract import Job
    from shared.queue.outbox import owe

    async with stack.sessions() as session, session.begin():
        message = owe(session, Job.route_request, {"request_id": "nothing"}, producer="tests")
    dead_redis = create_arq_redis("redis://127.0.0.1:1/0", default_queue_name="x")
    with pytest.raises((RedisError, OSError)):
        await relay_once(
            stack.sessions,
            dead_redis,
            prefix=stack.prefix,
            queues=["routing"],
            redrive_after=60,
            max_attempts=25,
        )
    await dead_redis.aclose(close_connection_pool=True)
    async with stack.sessions() as session:
        row = (
            await session.execute(
                text("SELECT status, attempts FROM outbox WHERE id = :id"), {"id": message.id}
            )
        ).one()
    assert tuple(row) == ("pending", 0)
    await stack.drain()  # the routing job gives the bogus row up, leaving nothing pending
    async with stack.sessions() as session:
        status = await session.scalar(
            text("SELECT status FROM outbox WHERE id = :id"), {"id": message.id}
        )
    assert status == "dead"


async def test_a_row_sent_too_many_times_is_parked_dead(stack: Any) -> None:
    from shared.queue.contract import Job
    from shared.queue.outbox import owe

    async with stack.sessions() as session, session.begin():
        message = owe(session, Job.route_request, {"request_id": "x"}, producer="tests")
        message.attempts = 25
    moved = await relay_once(
        stack.sessions,
        stack.redis,
        prefix=stack.prefix,
        queues=["routing"],
        redrive_after=60,
        max_attempts=25,
    )
    assert moved == 1
    async with stack.sessions() as session:
        status = await session.scalar(
            text("SELECT status FROM outbox WHERE id = :id"), {"id": message.id}
        )
    assert status == "dead"
