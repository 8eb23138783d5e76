"""What the outbox relay and a worker process promise about jobs (reliability checklist #4, #7,
#12): relays running at once never both take a row, jobs lost with a wiped queue are sent
again and run once, and a SIGTERM lets the running job finish without starting another."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import uuid
from typing import Any, cast

from arq.worker import func
from sqlalchemy import delete, text

from shared.db.outbox import OutboxMessage
from shared.queue.connections import create_arq_redis, deserialize
from shared.queue.contract import Job, Queue, arq_job_id, arq_queue_name
from shared.queue.outbox import owe
from shared.queue.relay import relay_once
from shared.queue.runner import WorkerSpec, serve
from shared.settings import CommonSettings
from tests.support.identities import mobile


class _Queue(str):
    """A queue no real outbox row names, so these relays and workers never take other work."""

    @property
    def value(self) -> str:
        """As Queue members give it."""
        return str(self)


async def _keys(redis: Any, pattern: str) -> list[bytes]:
    return [key async for key in redis.scan_iter(match=pattern, count=1000)]


async def test_two_relays_at_once_claim_each_row_once_and_enqueue_one_job_per_row(
    stack: Any,
) -> None:
    """#12: FOR UPDATE SKIP LOCKED splits the due rows between two relays; a row taken twice
    would show as a second attempt and a second job."""
    queue = _Queue(f"relay_test_{uuid.uuid4().hex[:8]}")
    prefix = f"{stack.prefix}:relays-{uuid.uuid4().hex[:8]}"
    rows = [
        OutboxMessage(id=uuid.uuid4(), queue=queue.value, job="probe", payload={}, producer="t")
        for _ in range(200)
    ]
    async with stack.sessions() as session, session.begin():
        session.add_all(rows)
    ids = {str(row.id) for row in rows}
    claimed = [0, 0]

    async def relay(index: int) -> None:
        while moved := await relay_once(
            stack.sessions,
            stack.redis,
            prefix=prefix,
            queues=[queue.value],
            redrive_after=600,
            max_attempts=25,
            batch=20,
        ):
            claimed[index] += moved

    try:
        await asyncio.gather(relay(0), relay(1))
        async with stack.sessions() as session:
            attempts = (
                await session.execute(
                    text("SELECT attempts, count(*) FROM outbox WHERE queue = :q GROUP BY 1"),
                    {"q": queue.value},
                )
            ).all()
        queued = {
            j.decode() for j in await stack.redis.zrange(arq_queue_name(prefix, queue), 0, -1)
        }
        carried: list[str] = []
        for job_id in queued:
            carried += deserialize(await stack.redis.get(f"arq:job:{job_id}"))["a"]
    finally:
        async with stack.sessions() as session, session.begin():
            await session.execute(delete(OutboxMessage).where(OutboxMessage.queue == queue.value))
        stale = await _keys(stack.redis, f"arq:job:{prefix}:*")
        await stack.redis.delete(arq_queue_name(prefix, queue), *stale)
    assert [tuple(row) for row in attempts] == [(1, 200)]
    assert sum(claimed) == 200
    assert min(claimed) > 0  # both relays really ran at once and shared the rows
    assert queued == {arq_job_id(prefix, outbox_id, 1) for outbox_id in ids}
    assert sorted(carried) == sorted(ids)


async def test_jobs_lost_with_a_wiped_queue_are_sent_again_and_run_once(
    stack: Any, sms: Any
) -> None:
    """#4: a Redis restarted without persistence loses queued jobs; their rows are still
    pending in Postgres, so the relay sends them again after `redrive_after`."""
    phone = mobile()
    async with stack.sessions() as session, session.begin():
        owed = [
            owe(
                session,
                Job.send_sms,
                {
                    "event": "request_submitted",
                    "phone": phone,
                    "language": "ar",
                    "values": {"reference": f"TW-2026-{n:08d}"},
                },
                producer="tests",
            )
            for n in range(60)
        ]
    ids = [str(row.id) for row in owed]
    queue = arq_queue_name(stack.prefix, Queue.notify)
    redrive_after = 1.0
    await relay_once(
        stack.sessions,
        stack.redis,
        prefix=stack.prefix,
        queues=[Queue.notify.value],
        redrive_after=redrive_after,
        max_attempts=25,
    )
    lost = await stack.redis.zrange(queue, 0, -1)
    assert len(lost) == 2  # 60 rows in batches of 50, queued and not started
    # The wipe, for this run's queue only (never FLUSHALL a shared Redis).
    await stack.redis.delete(queue, *[b"arq:job:" + job_id for job_id in lost])
    await asyncio.sleep(redrive_after + 0.2)
    await stack.drain()
    async with stack.sessions() as session:
        outcome = (
            await session.execute(
                text(
                    "SELECT o.status, o.attempts, n.status, n.attempts, count(*)"
                    " FROM outbox o JOIN notifications n ON n.idempotency_key = o.id::text"
                    " WHERE o.id = ANY(CAST(:ids AS uuid[])) GROUP BY 1, 2, 3, 4"
                ),
                {"ids": ids},
            )
        ).all()
        notification_ids = (
            await session.scalars(
                text("SELECT id::text FROM notifications WHERE idempotency_key = ANY(:ids)"),
                {"ids": ids},
            )
        ).all()
    assert [tuple(row) for row in outcome] == [("done", 2, "delivered", 1, 60)]
    sent = sms.ledger.count_by_id()
    assert [sent.get(n) for n in notification_ids] == [1] * 60
    assert len(sms.ledger.to(phone)) == 60
    assert await stack.redis.zcard(queue) == 0


async def test_sigterm_lets_the_running_job_finish_once_and_starts_no_other(
    backing: Any,
) -> None:
    """#7: a rollout's SIGTERM while a job runs; the job completes on its first try, nothing
    is re-run, and a job queued after the signal is left for the next worker."""
    runs: list[str] = []
    started = asyncio.Event()

    async def slow(ctx: dict[str, Any], name: str) -> str:
        runs.append(name)
        started.set()
        await asyncio.sleep(1.5)
        return name

    queue = _Queue("sigterm_test")
    prefix = f"{backing.prefix}:term-{uuid.uuid4().hex[:8]}"
    queue_name = arq_queue_name(prefix, queue)
    spec = WorkerSpec(
        name="sigterm-test",
        queue=cast(Queue, queue),
        functions=[func(slow, name="slow", timeout=30)],
        settings=CommonSettings(
            database_url=backing.database_url, redis_url=backing.redis_url, queue_prefix=prefix
        ),
        metrics_port=0,
        shutdown_grace=10,
    )
    loop = asyncio.get_running_loop()
    redis = create_arq_redis(backing.redis_url, default_queue_name=queue_name)
    worker = asyncio.create_task(serve(spec))
    try:
        first = await redis.enqueue_job("slow", "first", _job_id=f"{prefix}:first")
        assert first is not None
        await asyncio.wait_for(started.wait(), timeout=15)
        os.kill(os.getpid(), signal.SIGTERM)  # serve's own handler, as in a pod
        await asyncio.sleep(0.2)
        await redis.enqueue_job("slow", "second", _job_id=f"{prefix}:second")
        await asyncio.wait_for(worker, timeout=30)  # returns normally: the process exits 0
        result = await first.result_info()
        second_queued = await redis.zscore(queue_name, f"{prefix}:second")
        in_progress = await _keys(redis, f"arq:in-progress:{prefix}:*")
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        if not worker.done():
            worker.cancel()
            with contextlib.suppress(BaseException):
                await worker
        await redis.delete(queue_name, *await _keys(redis, f"arq:*:{prefix}:*"))
        await redis.aclose(close_connection_pool=True)
    assert runs == ["first"]
    assert result is not None
    assert (result.success, result.result, result.job_try) == (True, "first", 1)
    assert second_queued is not None
    assert in_progress == []
