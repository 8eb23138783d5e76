"""A worker process's arq loop when its Redis goes away under running jobs."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import uuid
from collections.abc import Iterator
from typing import Any, cast

import pytest
from arq.worker import func

from shared.queue.connections import create_arq_redis
from shared.queue.contract import Queue, arq_queue_name
from shared.queue.runner import WorkerSpec, serve
from shared.settings import CommonSettings
from tests.support.live import PrivateRedis


class _Queue(str):
    """A queue no outbox row names, so this worker's relay never takes another test's rows."""

    @property
    def value(self) -> str:
        """As Queue members give it."""
        return str(self)


QUEUE = _Queue("runner_test")


@pytest.fixture
def redis_server() -> Iterator[PrivateRedis]:
    """A Redis this test may kill."""
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


async def test_a_job_running_when_redis_drops_is_finished_not_cancelled(
    backing: Any, redis_server: PrivateRedis
) -> None:
    """An SMS job cancelled between its claim and its record would be in doubt and could be
    sent twice; jobs need Postgres and the provider, not Redis, so they run to the end."""
    started = asyncio.Event()
    finished: list[str] = []

    async def slow(ctx: dict[str, Any]) -> str:
        started.set()
        await asyncio.sleep(2)
        finished.append("done")
        return "done"

    prefix = f"runner-{uuid.uuid4().hex[:8]}"
    settings = CommonSettings(
        database_url=backing.database_url, redis_url=redis_server.url, queue_prefix=prefix
    )
    spec = WorkerSpec(
        name="runner-test",
        queue=cast(Queue, QUEUE),
        functions=[func(slow, name="slow", timeout=30)],
        settings=settings,
        metrics_port=0,
        shutdown_grace=10,
    )
    loop = asyncio.get_running_loop()
    worker = asyncio.create_task(serve(spec))
    try:
        queue = create_arq_redis(redis_server.url, default_queue_name="unused")
        await queue.enqueue_job("slow", _queue_name=arq_queue_name(prefix, QUEUE))
        await queue.aclose(close_connection_pool=True)
        await asyncio.wait_for(started.wait(), timeout=15)
        redis_server.stop()
        await asyncio.sleep(4)  # the loop notices within a poll (50 ms); the job needs 2 s
        assert finished == ["done"]
    finally:
        os.kill(os.getpid(), signal.SIGTERM)  # serve's own handler: a graceful stop
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(worker, timeout=30)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
