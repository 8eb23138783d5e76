"""What a worker measures: each job's time and outcome, its queue's depth, its outbox's age."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import structlog
from arq.connections import ArqRedis
from arq.worker import Function
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from shared import tracing
from shared.metrics import JOB_DURATION, JOBS, OUTBOX_OLDEST, QUEUE_DEPTH

log = structlog.get_logger()
Collector = Callable[[async_sessionmaker[AsyncSession]], Awaitable[None]]

_OLDEST = text(
    "SELECT coalesce(extract(epoch FROM now() - min(available_at)), 0) FROM outbox "
    "WHERE status = 'pending' AND queue = ANY(:queues) AND available_at <= now()"
)


def timed(functions: Sequence[Function]) -> list[Function]:
    """The same jobs, each counted by outcome and timed."""

    def wrap(name: str, job: Any) -> Any:
        async def run(ctx: dict[Any, Any], *args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            outcome = "error"
            context = await _trace_context(ctx, args) if tracing.enabled() else None
            try:
                with tracing.job_span(name, context):
                    result = await job(ctx, *args, **kwargs)
                outcome = str(result).split("=")[0][:32] if isinstance(result, str) else "ok"
                return result
            finally:
                JOBS.labels(name, outcome).inc()
                JOB_DURATION.labels(name).observe(time.perf_counter() - start)

        return run

    return [dataclasses.replace(f, coroutine=wrap(f.name, f.coroutine)) for f in functions]


async def _trace_context(ctx: dict[Any, Any], args: tuple[Any, ...]) -> dict[str, str] | None:
    """The traceparent stored with the outbox row this job was sent for."""
    if not args:
        return None
    try:
        async with ctx["sessions"]() as session:
            value = await session.scalar(
                text("SELECT payload -> :key FROM outbox WHERE id = CAST(:id AS uuid)"),
                {"key": tracing.TRACE_KEY, "id": str(args[0])},
            )
    except Exception:  # tracing must never fail a job
        return None
    return dict(value) if isinstance(value, dict) else None


async def watch(
    sessions: async_sessionmaker[AsyncSession],
    redis: ArqRedis,
    *,
    queue: str,
    queue_name: str,
    collectors: Sequence[Collector],
    stop: asyncio.Event,
    interval: float = 15.0,
) -> None:
    """Refresh the gauges until stopped; a failed read keeps the last value."""
    while not stop.is_set():
        try:
            QUEUE_DEPTH.labels(queue).set(await redis.zcard(queue_name))
            async with sessions() as session:
                oldest = await session.scalar(_OLDEST, {"queues": [queue]})
            OUTBOX_OLDEST.labels(queue).set(float(oldest or 0))
            for collect in collectors:
                await collect(sessions)
        except Exception as exc:  # a gauge is best effort; the work goes on
            log.debug("worker.gauges_failed", error=type(exc).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)
