"""Reliability checklist #8: a job whose handler runs past its timeout is failed by arq and
not retried by it (arq #401), so the outbox must bring it back: the row stays owed, the relay
publishes it again under a new job ID (the failed one's result blocks its old ID), and the
real handler then does the work exactly once."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from arq.worker import func
from sqlalchemy import text

from shared.queue.contract import Queue

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
    assert await stack.relay(Queue.routing) >= 1
    first = await _route_row(stack, draft["id"])
    assert (first["status"], first["attempts"]) == ("pending", 1)

    hanging = func(_hanging_route_request, name="route_request", timeout=1, max_tries=5)
    stuck = await stack.run_worker(Queue.routing, functions=[hanging])
    assert (stuck.jobs_failed, stuck.jobs_retried) == (1, 0)  # arq gave up on it at once
    page = (await client.get(f"/v1/requests/{draft['id']}", headers=resident.auth)).json()
    assert page["status"] == "submitted"
    assert (await _route_row(stack, draft["id"]))["status"] == "pending"  # still owed

    async with stack.sessions() as session, session.begin():  # its re-drive time has come
        await session.execute(
            text("UPDATE outbox SET available_at = now() WHERE id = :id"), {"id": first["id"]}
        )
    assert await stack.relay(Queue.routing) >= 1
    assert (await _route_row(stack, draft["id"]))["attempts"] == 2  # a new job ID
    await stack.run_worker(Queue.routing)
    page = (await client.get(f"/v1/requests/{draft['id']}", headers=resident.auth)).json()
    assert page["status"] == "routed"
    assert [e["type"] for e in page["timeline"]].count("routed") == 1
    assert (await _route_row(stack, draft["id"]))["status"] == "done"
    await stack.drain()  # its SMS too, so the next test finds nothing owed
