"""Write what a transaction owes to other processes, and settle it from the consuming job."""

from __future__ import annotations

import contextlib
import random
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from shared import tracing
from shared.db.outbox import OutboxMessage
from shared.queue.contract import JOB_QUEUES, Job

REQUEST_ID_KEY = "_request_id"


def owe(
    session: AsyncSession, job: Job, payload: dict[str, Any], *, producer: str
) -> OutboxMessage:
    """Add an outbox row in the caller's transaction; the relay turns it into a job after commit."""
    carried = dict(payload)
    trace_context = tracing.carrier()
    if trace_context:
        carried[tracing.TRACE_KEY] = trace_context
    http_request = structlog.contextvars.get_contextvars().get("request_id")
    if http_request:  # the job's logs carry the same request ID as the call that owed it
        carried[REQUEST_ID_KEY] = str(http_request)
    message = OutboxMessage(
        id=uuid.uuid4(),
        queue=JOB_QUEUES[job].value,
        job=job.value,
        payload=carried,
        producer=producer,
    )
    session.add(message)
    return message


async def lock_pending(session: AsyncSession, outbox_id: str) -> OutboxMessage | None:
    """Lock the row a job was sent for; None if it is unknown or already settled (a repeat run)."""
    try:
        key = uuid.UUID(outbox_id)
    except ValueError:
        return None
    message = await session.scalar(
        select(OutboxMessage).where(OutboxMessage.id == key).with_for_update()
    )
    if message is None or message.status != "pending":
        return None
    if REQUEST_ID_KEY in message.payload:
        structlog.contextvars.bind_contextvars(request_id=message.payload[REQUEST_ID_KEY])
    return message


async def lock_pending_many(
    session: AsyncSession, outbox_ids: Sequence[str]
) -> list[OutboxMessage]:
    """`lock_pending` for a batch in one statement: the rows still pending, locked in id order."""
    keys: list[uuid.UUID] = []
    for outbox_id in outbox_ids:
        with contextlib.suppress(ValueError):
            keys.append(uuid.UUID(outbox_id))
    if not keys:
        return []
    rows = await session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.id.in_(keys), OutboxMessage.status == "pending")
        .order_by(OutboxMessage.id)
        .with_for_update()
    )
    return list(rows)


def settle(message: OutboxMessage, *, now: datetime | None = None) -> None:
    """Mark the owed work done, in the same transaction as its effect.

    A batch passes `now`: rows whose new values are all plain values are written with one
    executemany, while a SQL `now()` in each row costs one UPDATE (and round trip) per row."""
    message.status = "done"
    message.done_at = now if now is not None else func.now()


def give_up(message: OutboxMessage, error: str, *, now: datetime | None = None) -> None:
    """Park the work as dead: it will not be retried, and an operator can see why."""
    message.status = "dead"
    message.last_error = error[:2000]
    message.done_at = now if now is not None else func.now()


def backoff_seconds(attempt: int, *, base: float = 2.0, cap: float = 900.0) -> float:
    """Exponential backoff with jitter: base·2^(attempt-1), capped, times U(0.5, 1.5)."""
    delay = min(cap, base * 2.0 ** max(attempt - 1, 0))
    return float(delay * random.uniform(0.5, 1.5))  # noqa: S311 - jitter, not security


def retry_later(
    message: OutboxMessage, error: str, delay_seconds: float, *, now: datetime | None = None
) -> None:
    """Leave the work pending but not before `delay_seconds`; the relay will send it again."""
    message.last_error = error[:2000]
    message.available_at = (now if now is not None else func.now()) + timedelta(
        seconds=delay_seconds
    )
