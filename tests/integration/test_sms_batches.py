"""A batch of status SMS in one job: each message sent once, whatever ran before."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import text

from notify_service.jobs.deliver import send_sms
from shared.queue.contract import Job
from shared.queue.outbox import owe


async def _owe_status_sms(stack: Any, phone: str, count: int) -> list[str]:
    async with stack.sessions() as session, session.begin():
        resident_id = await session.scalar(
            text("SELECT id FROM residents WHERE phone = :p"), {"p": phone}
        )
        rows = [
            owe(
                session,
                Job.send_sms,
                {
                    "event": "request_resolved",
                    "resident_id": str(resident_id),
                    "request_id": str(uuid.uuid4()),
                    "values": {"reference": f"TW-2026-{n:08d}"},
                },
                producer="tests",
            )
            for n in range(count)
        ]
    return [str(row.id) for row in rows]


async def _outbox_statuses(stack: Any, ids: list[str]) -> list[str]:
    async with stack.sessions() as session:
        rows = await session.execute(
            text("SELECT status FROM outbox WHERE id = ANY(CAST(:ids AS uuid[]))"), {"ids": ids}
        )
        return [row[0] for row in rows]


async def test_a_batch_run_twice_sends_each_message_once(
    client: httpx.AsyncClient, stack: Any, sms: Any
) -> None:
    resident = await stack.sign_up(client, sms.ledger)
    ids = await _owe_status_sms(stack, resident.phone, 3)
    before = len(sms.ledger.to(resident.phone))
    assert await send_sms(stack.ctx, *ids) == "batch=delivered:3"
    assert await send_sms(stack.ctx, *ids) == "skipped"
    assert len(sms.ledger.to(resident.phone)) == before + 3
    assert await _outbox_statuses(stack, ids) == ["done"] * 3


async def test_a_batch_skips_the_rows_an_earlier_job_already_sent(
    client: httpx.AsyncClient, stack: Any, sms: Any
) -> None:
    resident = await stack.sign_up(client, sms.ledger)
    ids = await _owe_status_sms(stack, resident.phone, 3)
    before = len(sms.ledger.to(resident.phone))
    assert await send_sms(stack.ctx, ids[0]) == "delivered"
    assert await send_sms(stack.ctx, *ids, "not-a-uuid") == "batch=delivered:2"
    received = [m["id"] for m in sms.ledger.to(resident.phone)[before:]]
    assert len(received) == len(set(received)) == 3


async def test_a_failing_provider_leaves_each_row_of_the_batch_to_retry(
    client: httpx.AsyncClient, stack: Any, sms: Any
) -> None:
    resident = await stack.sign_up(client, sms.ledger)
    ids = await _owe_status_sms(stack, resident.phone, 2)
    before = len(sms.ledger.to(resident.phone))
    sms.ledger.fail_next = 2
    assert await send_sms(stack.ctx, *ids) == "batch=retry:2"
    assert await _outbox_statuses(stack, ids) == ["pending"] * 2
    await stack.make_pending_due()
    await stack.drain()
    assert len(sms.ledger.to(resident.phone)) == before + 2
    assert await _outbox_statuses(stack, ids) == ["done"] * 2
