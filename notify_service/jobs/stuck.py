"""sweep_stuck (arq cron): a message accepted but never confirmed becomes temporary-failure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notify_service.settings import NotifySettings
from shared.db.notify import Notification

log = structlog.get_logger()


async def time_out_sending(
    sessions: async_sessionmaker[AsyncSession], *, now: datetime, timeout_seconds: float
) -> int:
    """Mark messages still 'sending' long after the provider took them (GOV.UK Notify: 72 h)."""
    async with sessions() as session, session.begin():
        result = await session.execute(
            update(Notification)
            .where(
                Notification.status == "sending",
                Notification.sent_at < now - timedelta(seconds=timeout_seconds),
            )
            .values(
                status="temporary-failure",
                last_error="no delivery receipt before the timeout",
                updated_at=now,
            )
            .returning(Notification.id)
        )
        count = len(result.all())
    if count:
        log.warning("notify.sending_timed_out", count=count)
    return count


# A message whose outbox row was parked dead (the relay sent its job too many times) will
# never be tried again; unless the provider took it, it has failed, and says so.
_ABANDONED = text(
    """
    UPDATE notifications n
    SET status = 'technical-failure', updated_at = :now,
        last_error = concat_ws(' ', n.last_error, '[gave up: the job was lost too many times]')
    FROM outbox o
    WHERE o.id::text = n.idempotency_key AND o.status = 'dead'
      AND n.status IN ('created', 'sending') AND n.sent_at IS NULL
      AND (n.claimed_at IS NULL OR n.claimed_at < :lease_before)
    RETURNING n.id
    """
)


async def fail_abandoned(
    sessions: async_sessionmaker[AsyncSession], *, now: datetime, lease_seconds: float
) -> int:
    """Finish messages nothing owes any more (their outbox row is dead) as technical-failure;
    a claim still inside its lease is left to the run that holds it."""
    async with sessions() as session, session.begin():
        result = await session.execute(
            _ABANDONED, {"now": now, "lease_before": now - timedelta(seconds=lease_seconds)}
        )
        count = len(result.all())
    if count:
        log.error("notify.abandoned_messages_failed", count=count)
    return count


async def sweep_stuck(ctx: dict[str, Any]) -> str:
    """arq cron entry point."""
    settings: NotifySettings = ctx["settings"]
    now = datetime.now(UTC)
    count = await time_out_sending(
        ctx["sessions"], now=now, timeout_seconds=settings.sms_sending_timeout
    )
    abandoned = await fail_abandoned(
        ctx["sessions"], now=now, lease_seconds=settings.sms_sending_lease
    )
    return f"timed_out={count} abandoned={abandoned}"
