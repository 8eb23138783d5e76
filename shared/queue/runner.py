"""One queue's worker process: the outbox relay plus an arq worker rebuilt after Redis drops."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from arq.cron import CronJob
from arq.worker import Function, Worker

from shared import tracing
from shared.db.session import create_engine, create_sessionmaker
from shared.logging import configure_logging
from shared.queue.connections import create_arq_redis, deserialize, redis_settings, serialize
from shared.queue.contract import Queue, arq_queue_name
from shared.queue.observe import Collector, timed, watch
from shared.queue.probe import ProbeServer
from shared.settings import CommonSettings

log = structlog.get_logger()

Startup = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker process consumes and how: its queue, jobs and limits."""

    name: str
    queue: Queue
    functions: Sequence[Function]
    settings: CommonSettings
    max_jobs: int = 50
    relay_interval: float = 0.1
    redrive_after: float = 60.0
    max_attempts: int = 25
    shutdown_grace: float = 25.0
    metrics_port: int = field(default_factory=lambda: int(os.environ.get("METRICS_PORT", "9100")))
    on_startup: Startup | None = None
    on_shutdown: Startup | None = None
    extra_queues: Sequence[Queue] = field(default_factory=tuple)
    cron_jobs: Sequence[CronJob] = field(default_factory=tuple)
    collectors: Sequence[Collector] = field(default_factory=tuple)


def worker_options(spec: WorkerSpec) -> dict[str, Any]:
    """arq's Worker settings for one queue's worker; the drain benchmark gives arq the same."""
    return {
        "handle_signals": False,
        "max_jobs": spec.max_jobs,
        "poll_delay": 0.05,
        "keep_result": 60,
        "max_tries": 3,
        "health_check_interval": 30,
        "job_serializer": serialize,
        "job_deserializer": deserialize,
    }


async def _drain(worker: Worker, grace: float) -> None:
    """Stop taking jobs, let running ones finish within the grace period, then close."""
    worker.allow_pick_jobs = False
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(grace):
            while any(not task.done() for task in worker.tasks.values()):  # noqa: ASYNC110
                await asyncio.sleep(0.05)  # arq exposes no completion event to wait on
    with contextlib.suppress(Exception):
        await worker.close()
    if worker.pool is not None:  # close() stopped at a Redis call: Redis is gone
        with contextlib.suppress(Exception):
            await worker.pool.aclose(close_connection_pool=True)


async def serve(spec: WorkerSpec) -> None:
    """Serve until SIGTERM/SIGINT; Redis outages restart the arq loop, the relay keeps trying."""
    settings = spec.settings
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    tracing.setup(spec.name)
    engine = create_engine(settings, application_name=spec.name)
    sessions = create_sessionmaker(engine)
    queue_name = arq_queue_name(settings.queue_prefix, spec.queue)
    relay_redis = create_arq_redis(settings.redis_url, default_queue_name=queue_name)
    ctx: dict[str, Any] = {"sessions": sessions, "settings": settings, "worker_name": spec.name}
    if spec.on_startup:
        await spec.on_startup(ctx)

    from shared.queue.relay import run_relay

    relay = asyncio.create_task(
        run_relay(
            sessions,
            relay_redis,
            prefix=settings.queue_prefix,
            queues=[spec.queue.value, *[q.value for q in spec.extra_queues]],
            redrive_after=spec.redrive_after,
            max_attempts=spec.max_attempts,
            interval=spec.relay_interval,
            stop=stop,
        )
    )
    connected = False
    probe = ProbeServer(spec.metrics_port, lambda: connected and not stop.is_set())
    if spec.metrics_port:
        await probe.start()
    gauges = asyncio.create_task(
        watch(
            sessions,
            relay_redis,
            queue=spec.queue.value,
            queue_name=queue_name,
            collectors=spec.collectors,
            stop=stop,
        )
    )
    log.info("worker.started", worker=spec.name, queue=queue_name)
    try:
        while not stop.is_set():
            worker = Worker(
                functions=timed(spec.functions),
                cron_jobs=list(spec.cron_jobs) or None,
                queue_name=queue_name,
                redis_settings=redis_settings(settings.redis_url),
                ctx=ctx,
                **worker_options(spec),
            )
            main = asyncio.create_task(worker.main())
            stopper = asyncio.create_task(stop.wait())
            connected = True
            await asyncio.wait({main, stopper}, return_when=asyncio.FIRST_COMPLETED)
            if stopper.done():
                await _drain(worker, spec.shutdown_grace)
                main.cancel()
                with contextlib.suppress(BaseException):
                    await main
                break
            stopper.cancel()
            connected = False
            error = main.exception() if not main.cancelled() else None
            log.warning("worker.queue_connection_lost", worker=spec.name, error=repr(error)[:300])
            # Jobs already running need Postgres and the provider, not Redis: let them finish.
            # Closing at once would cancel them, and an SMS cancelled between its claim and
            # its record is in doubt (held for the lease, then sent again if the provider
            # cannot be asked).
            await _drain(worker, spec.shutdown_grace)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)
    finally:
        stop.set()
        await probe.stop()
        with contextlib.suppress(BaseException):
            await gauges
        with contextlib.suppress(BaseException):
            await relay
        if spec.on_shutdown:
            await spec.on_shutdown(ctx)
        await relay_redis.aclose(close_connection_pool=True)
        await engine.dispose()
        tracing.shutdown()
        log.info("worker.stopped", worker=spec.name)


def run(spec_factory: Callable[[], WorkerSpec]) -> None:
    """Entry point for `python -m <service>.worker`: logging, then serve until told to stop."""
    spec = spec_factory()
    configure_logging(spec.name, level=spec.settings.log_level, json=spec.settings.log_json)
    asyncio.run(serve(spec))
