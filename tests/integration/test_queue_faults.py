"""Jobs that must not run as queued (reliability checklist #11 and #14): garbage in the queue
fails alone while real work flows past it, and a one-time code that waited past its
lifetime is never texted late."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from sqlalchemy import text

from shared.queue.contract import Queue, arq_queue_name
from tests.support.identities import mobile, national_id

DRAFT = {"department_code": "visas", "service_code": "final_exit", "description": "طلب."}


async def test_poison_jobs_fail_alone_and_real_work_flows_past_them(
    client: httpx.AsyncClient, stack: Any, sms: Any
) -> None:
    resident = await stack.sign_up(client, sms.ledger)
    redis = stack.redis
    poisoned = []
    for queue in (Queue.routing, Queue.notify):
        name = arq_queue_name(stack.prefix, queue)
        for job_id, payload in (
            (f"poison-bytes-{queue.value}", b"\x00not a job at all\xff"),
            (f"poison-fn-{queue.value}", json.dumps({"t": 1, "f": "no_such_job"}).encode()),
        ):
            await redis.set(f"arq:job:{job_id}", payload, ex=600)
            await redis.zadd(name, {job_id: int(time.time() * 1000)})  # due now, as arq scores
            poisoned.append((name, job_id))
    draft = (await client.post("/v1/requests", json=DRAFT, headers=resident.auth)).json()
    submitted = await client.post(f"/v1/requests/{draft['id']}/submit", headers=resident.auth)
    assert submitted.status_code == 200
    seen = len(sms.ledger.to(resident.phone))
    await stack.drain()
    page = await client.get(f"/v1/requests/{draft['id']}", headers=resident.auth)
    assert page.json()["status"] == "routed"
    assert len(sms.ledger.to(resident.phone)) == seen + 2  # submitted, routed
    for name, job_id in poisoned:  # taken off the queue, not retried forever
        assert await redis.zscore(name, job_id) is None
    assert await stack.pending_outbox() == 0


async def test_a_code_that_waited_past_its_lifetime_is_never_sent(
    client: httpx.AsyncClient, stack: Any, sms: Any
) -> None:
    nid, phone = national_id(), mobile()
    registered = await client.post(
        "/v1/auth/register", json={"national_id": nid, "phone": phone, "password": "pw-long-123"}
    )
    assert registered.status_code == 202
    async with stack.sessions() as session, session.begin():
        aged = await session.execute(
            text(
                "UPDATE outbox SET payload = jsonb_set(payload, '{expires_at}',"
                " to_jsonb(CAST(now() - interval '1 second' AS text)))"
                " WHERE job = 'send_otp' AND status = 'pending' AND payload->>'phone' = :phone"
                " RETURNING id"
            ),
            {"phone": phone},
        )
        [outbox_id] = [row[0] for row in aged]
    await stack.drain()
    assert sms.ledger.to(phone) == []  # a late code is worse than none: the resident asks again
    async with stack.sessions() as session:
        row = (
            await session.execute(
                text("SELECT status, last_error, payload FROM outbox WHERE id = :id"),
                {"id": outbox_id},
            )
        ).one()
    assert row[0] == "dead"
    assert "expired" in row[1]
    assert "code" not in row[2].get("values", {})  # the secret does not linger in the outbox
