"""sweep_stuck (arq cron): a message accepted but never confirmed becomes temporary-failure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import update
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


async def sweep_stuck(ctx: dict[str, Any]) -> str:
    """arq cron entry point."""
    settings: NotifySettings = ctx["settings"]
    count = await time_out_sending(
        ctx["sessions"], now=datetime.now(UTC), timeout_seconds=settings.sms_sending_timeout
    )
    return f"timed_out={count}"
