"""An upload's time budget: its checks, scan and storage end by UPLOAD_TIMEOUT, or as soon as
the caller hangs up, and its record by RECORD_BOUND after that; it leaves nothing behind
whichever passes (issue 17).

The record is cut only up to its commit. A commit cut short cannot be told from one that
happened, so the commit itself runs whole, bounded by Postgres' statement_timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import structlog
from starlette.types import Receive

from intake_service.documents.errors import ClientGone, UploadTimedOut

log = structlog.get_logger()

T = TypeVar("T")

RECORD_BOUND = 5.0
"""Seconds the record may take up to its commit (`recording`). Postgres bounds each wait on its
own (a pooled connection 2 s, the request's row lock 3 s, a statement 5 s: shared/db/session.py)
but not their sum; its statements take ms."""

_CLEAN_UPS: set[asyncio.Task[None]] = set()


async def until_hung_up(receive: Receive) -> None:
    """Return once the client hangs up; only to be awaited once the body was read whole."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def bounded(
    work: Coroutine[Any, Any, T],
    *,
    within: float,
    hung_up: Callable[[], Awaitable[None]] | None = None,
) -> T:
    """`work`'s result; UploadTimedOut after `within` seconds, ClientGone once `hung_up`
    returns. `work` is then cancelled and awaited, so its own clean-up has run."""
    task = asyncio.ensure_future(work)
    waits: set[asyncio.Future[Any]] = {task}
    watch = asyncio.ensure_future(hung_up()) if hung_up is not None else None
    if watch is not None:
        waits.add(watch)
    try:
        done, _ = await asyncio.wait(waits, timeout=within, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if watch is not None:
            watch.cancel()
        if not task.done():
            task.cancel()
            await asyncio.wait({task})  # quick: it closes a socket or leaves an S3 write
    if task in done:
        return task.result()
    if watch is not None and watch in done:
        log.info("documents.upload_abandoned", reason="client_gone")
        raise ClientGone()
    log.warning("documents.upload_timed_out", within=within)
    raise UploadTimedOut()


@contextlib.asynccontextmanager
async def recording() -> AsyncIterator[None]:
    """Cut the block at RECORD_BOUND with UploadTimedOut. To be entered inside the transaction,
    so it ends before the commit: cut, the transaction rolls back; the commit is never cut."""
    within = RECORD_BOUND
    bound = asyncio.timeout(within)
    try:
        async with bound:
            yield
    except TimeoutError:
        if not bound.expired():
            raise  # a timeout of the block's own (asyncpg's connect), not ours
        log.warning("documents.record_timed_out", within=within)
        raise UploadTimedOut() from None


def clean_up_after(work: asyncio.Future[Any], clean_up: Callable[[], Awaitable[None]]) -> None:
    """Run `clean_up` once `work` has ended, however it ends, with nobody waiting for either:
    a boto3 call in a thread cannot be stopped, so what it writes may land after we gave up."""

    async def run() -> None:
        with contextlib.suppress(Exception):
            await work
        await clean_up()

    task = asyncio.create_task(run())
    _CLEAN_UPS.add(task)  # the loop keeps only a weak reference to a task
    task.add_done_callback(_CLEAN_UPS.discard)
