"""Reliability checklist #8: a job whose handler runs past its timeout is failed by arq and
not retried by it (arq #401), so the outbox must bring it back: the row stays owed, the relay
publishes it again under a new job ID (the failed one's result blocks its old ID), and the
real handler then does the work exactly once."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from arq.worker import Worker, func
from sqlalchemy import text

from shared.queue.connections import deserialize, redis_settings, serialize
from shared.queue.contract import Queue, arq_queue_name
from shared.queue.relay import relay_once

DRAFT = {"department_code": "visas", "service_code": "final_exit", "description": "طلب."}


async def _route_row(stack: Any, request_id: str) -> dict[str, Any]:
    async with stack.sessions() as session:
        row = (
            await session.execute(
                text(
                    "SELECT id::text AS id, status, attempts FROM outbox"
                    " WHERE job = 'route_request' AND payload->>'request_id' = :id"
                ),
                {"id": request_id},
            )
        ).one()
    return dict(row._mapping)


async def _relay(stack: Any) -> int:
    return await relay_once(
        stack.sessions,
        stack.redis,
        prefix=stack.prefix,
        queues=[Queue.routing.value],
        redrive_after=60,
        max_attempts=25,
    )


async def _hanging_route_request(ctx: dict[str, Any], *args: Any) -> None:
    """Stands in for a handler stuck past its timeout (a hung dependency)."""
    await asyncio.sleep(30)


async def test_a_job_that_times_out_is_published_again_and_done_once(
    client: httpx.AsyncClient, stack: Any, sms: Any
) -> None:
    resident = await stack.sign_up(client, sms.ledger)
    draft = (await client.post("/v1/requests", json=DRAFT, headers=resident.auth)).json()
    submitted = await client.post(f"/v1/requests/{draft['id']}/submit", headers=resident.auth)
    assert submitted.status_code == 200
    assert await _relay(stack) >= 1
    first = await _route_row(stack, draft["id"])
    assert (first["status"], first["attempts"]) == ("pending", 1)

    stuck = Worker(
        functions=[func(_hanging_route_request, name="route_request", timeout=1, max_tries=5)],
        queue_name=arq_queue_name(stack.prefix, Queue.routing),
        redis_settings=redis_settings(stack.backing.redis_url),
        burst=True,
        handle_signals=False,
        poll_delay=0.01,
        keep_result=60,
        job_serializer=serialize,
        job_deserializer=deserialize,
    )
    try:
        await stuck.main()
    finally:
        await stuck.close()
    assert (stuck.jobs_failed, stuck.jobs_retried) == (1, 0)  # arq gave up on it at once
    page = (await client.get(f"/v1/requests/{draft['id']}", headers=resident.auth)).json()
    assert page["status"] == "submitted"
    assert (await _route_row(stack, draft["id"]))["status"] == "pending"  # still owed

    async with stack.sessions() as session, session.begin():  # its re-drive time has come
        await session.execute(
            text("UPDATE outbox SET available_at = now() WHERE id = :id"), {"id": first["id"]}
        )
    assert await _relay(stack) >= 1
    assert (await _route_row(stack, draft["id"]))["attempts"] == 2  # a new job ID
    await stack.run_worker(Queue.routing)
    page = (await client.get(f"/v1/requests/{draft['id']}", headers=resident.auth)).json()
    assert page["status"] == "routed"
    assert [e["type"] for e in page["timeline"]].count("routed") == 1
    assert (await _route_row(stack, draft["id"]))["status"] == "done"
