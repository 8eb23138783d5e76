"""Moves due outbox rows onto their arq queues; re-drives rows whose job never finished."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from arq.connections import ArqRedis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import faults
from shared.queue.contract import arq_job_id, arq_queue_name, batch_size

log = structlog.get_logger()

# One statement claims a batch: it pushes each row's next visit `redrive_after` seconds ahead,
# so a job lost in Redis (restart, killed worker) is sent again then, unless it settled first.
# A row already sent `max_attempts` times is parked as dead instead (a poison message).
_CLAIM = text(
    """
    UPDATE outbox SET
        attempts = attempts + 1,
        available_at = now() + make_interval(secs => :redrive_after),
        status = CASE WHEN attempts >= :max_attempts THEN 'dead' ELSE status END,
        done_at = CASE WHEN attempts >= :max_attempts THEN now() ELSE done_at END,
        last_error = CASE WHEN attempts >= :max_attempts
                          THEN concat_ws(' ', last_error, '[gave up: sent too many times]')
                          ELSE last_error END
    WHERE id IN (
        SELECT id FROM outbox
        WHERE status = 'pending' AND queue = ANY(:queues) AND available_at <= now()
        ORDER BY available_at
        LIMIT :batch
        FOR UPDATE SKIP LOCKED
    )
    RETURNING id, queue, job, attempts, status
    """
)


@dataclass(frozen=True)
class DueRow:
    """One claimed outbox row still to be sent, as the claim statement returns it."""

    id: str
    queue: str
    job: str
    attempts: int


@dataclass(frozen=True)
class ArqJob:
    """One arq job to enqueue: its function, the outbox row ids it carries, its own id."""

    function: str
    queue: str
    outbox_ids: tuple[str, ...]
    job_id: str


def plan_jobs(rows: Sequence[DueRow], prefix: str) -> list[ArqJob]:
    """One job per row, or per up to `BATCHES[job]` rows of the same job and queue.

    A job is named after its first row and that row's attempt, which no other job shares:
    each (row, attempt) is claimed once."""
    groups: dict[tuple[str, str], list[DueRow]] = {}
    for row in rows:
        groups.setdefault((row.queue, row.job), []).append(row)
    jobs: list[ArqJob] = []
    for (queue, job), members in groups.items():
        size = batch_size(job)
        for start in range(0, len(members), size):
            chunk = members[start : start + size]
            jobs.append(
                ArqJob(
                    function=job,
                    queue=queue,
                    outbox_ids=tuple(row.id for row in chunk),
                    job_id=arq_job_id(prefix, chunk[0].id, chunk[0].attempts),
                )
            )
    return jobs


async def relay_once(
    sessions: async_sessionmaker[AsyncSession],
    redis: ArqRedis,
    *,
    prefix: str,
    queues: Sequence[str],
    redrive_after: float,
    max_attempts: int,
    batch: int = 200,
) -> int:
    """Enqueue one batch of due rows; if Redis refuses, the transaction rolls back and waits."""
    async with sessions() as session, session.begin():
        rows = (
            await session.execute(
                _CLAIM,
                {
                    "queues": list(queues),
                    "redrive_after": redrive_after,
                    "batch": batch,
                    "max_attempts": max_attempts,
                },
            )
        ).all()
        due: list[DueRow] = []
        for row in rows:
            if row.status != "pending":
                log.error("outbox.gave_up", outbox_id=str(row.id), job=row.job)
                continue
            due.append(DueRow(str(row.id), row.queue, row.job, row.attempts))
        for job in plan_jobs(due, prefix):
            async with asyncio.timeout(2):
                await redis.enqueue_job(
                    job.function,
                    *job.outbox_ids,
                    _job_id=job.job_id,
                    _queue_name=arq_queue_name(prefix, job.queue),
                )
        if due:
            faults.point("relay.after_enqueue")  # enqueued, the claim not yet committed
    return len(rows)


async def run_relay(
    sessions: async_sessionmaker[AsyncSession],
    redis: ArqRedis,
    *,
    prefix: str,
    queues: Sequence[str],
    redrive_after: float,
    max_attempts: int,
    interval: float,
    stop: asyncio.Event,
) -> None:
    """Relay until `stop` is set; a failing Redis or Postgres only delays, never loses, work."""
    failures = 0
    while not stop.is_set():
        try:
            moved = await relay_once(
                sessions,
                redis,
                prefix=prefix,
                queues=queues,
                redrive_after=redrive_after,
                max_attempts=max_attempts,
            )
            if failures:
                log.info("outbox.relay_recovered", queues=list(queues))
            failures = 0
        except Exception as exc:  # any outage of Redis or Postgres: wait and try again
            failures += 1
            moved = 0
            if failures == 1 or failures % 30 == 0:
                log.warning("outbox.relay_failed", error=repr(exc)[:300], failures=failures)
        if moved == 0:
            delay = interval if failures == 0 else min(5.0, interval * 2**failures)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
