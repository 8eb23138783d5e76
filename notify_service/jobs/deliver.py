"""send_sms / send_otp: one SMS per outbox row, claimed in Postgres, sent with no session open.

A claim that was left in `sending` without a recorded answer (the worker died mid-send) is in
doubt: the provider that had it is asked first, where it can be asked, so a message the
provider already holds is recorded, not sent twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notify_service.settings import NotifySettings
from notify_service.sms.providers.base import Outcome, SendResult, SmsProvider
from notify_service.sms.providers.pool import ProviderPool
from notify_service.sms.templates import TemplateError, TemplateSet
from shared.db.identity import Resident
from shared.db.notify import Notification
from shared.db.outbox import OutboxMessage
from shared.metrics import SMS
from shared.queue.outbox import backoff_seconds, give_up, lock_pending, retry_later, settle

log = structlog.get_logger()

FINAL = {"delivered", "permanent-failure", "technical-failure", "temporary-failure"}
SECRET_VALUES = ("code",)
MASK = "••••••"


@dataclass(frozen=True)
class Claimed:
    """A notification this run has the right to send, and what an earlier run left behind."""

    notification_id: uuid.UUID
    phone: str
    body: str
    attempts: int
    provider: str
    in_doubt_provider: str | None
    in_doubt_since: datetime | None


def localized(values: dict[str, Any], language: str) -> dict[str, str]:
    """Pick each value's text in the reader's language when it comes in both."""
    result: dict[str, str] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            result[key] = str(value.get(language) or value.get("ar") or "")
        else:
            result[key] = str(value)
    return result


def _expired(payload: dict[str, Any]) -> bool:
    """A one-time code past its lifetime is useless: never send it late."""
    expires = payload.get("expires_at")
    return bool(expires) and datetime.fromisoformat(str(expires)) <= datetime.now(UTC)


def _scrub(message: OutboxMessage) -> None:
    """Remove the one-time code from the outbox row once it no longer needs sending."""
    values = dict(message.payload.get("values", {}))
    if any(key in values for key in SECRET_VALUES):
        for key in SECRET_VALUES:
            values.pop(key, None)
        message.payload = {**message.payload, "values": values}


async def _notification_for(
    session: AsyncSession, message: OutboxMessage, templates: TemplateSet
) -> tuple[Notification, str]:
    """The message's notification row (created on first run) and the text to send."""
    payload = message.payload
    resident_id = payload.get("resident_id")
    resident = await session.get(Resident, uuid.UUID(resident_id)) if resident_id else None
    language = str(payload.get("language") or (resident.preferred_language if resident else "ar"))
    phone = str(payload.get("phone") or (resident.phone if resident else ""))
    values = localized(dict(payload.get("values", {})), language)
    rendered = templates.render(str(payload["event"]), language, values)
    notification = await session.scalar(
        select(Notification)
        .where(Notification.idempotency_key == str(message.id))
        .with_for_update()
    )
    if notification is None:
        stored_values = {k: (MASK if k in SECRET_VALUES else v) for k, v in values.items()}
        stored = templates.render(rendered.event, rendered.language, stored_values)
        notification = Notification(
            id=uuid.uuid4(),
            idempotency_key=str(message.id),
            event=rendered.event,
            resident_id=resident.id if resident else None,
            request_id=uuid.UUID(payload["request_id"]) if payload.get("request_id") else None,
            phone=phone,
            language=rendered.language,
            body=stored.body,
            encoding=rendered.length.encoding.value,
            parts=rendered.length.parts,
            status="created",
        )
        session.add(notification)
        await session.flush()
    return notification, rendered.body


async def _claim(
    sessions: async_sessionmaker[AsyncSession],
    outbox_id: str,
    templates: TemplateSet,
    settings: NotifySettings,
    pool: ProviderPool,
) -> Claimed | None:
    """First transaction: decide whether this run sends, and mark the notification 'sending'."""
    async with sessions() as session, session.begin():
        message = await lock_pending(session, outbox_id)
        if message is None:
            return None
        if _expired(message.payload):
            _scrub(message)
            give_up(message, "one-time code expired before it could be sent")
            return None
        try:
            notification, body = await _notification_for(session, message, templates)
        except (TemplateError, KeyError, ValueError) as exc:
            give_up(message, f"cannot render: {exc}")
            return None
        if notification.status in FINAL or notification.sent_at is not None:
            _scrub(message)
            settle(message)  # the provider has it already; receipts will say the rest
            return None
        now = datetime.now(UTC)
        stale_before = now - timedelta(seconds=settings.sms_sending_lease)
        in_doubt = notification.status == "sending" and notification.claimed_at is not None
        if in_doubt and notification.claimed_at and notification.claimed_at > stale_before:
            return None  # another run is sending it right now; the relay will look again
        if notification.parts > settings.sms_max_parts or not notification.phone:
            notification.status = "permanent-failure"
            notification.last_error = "too long or no phone number"
            settle(message)
            return None
        doubt_provider = notification.provider if in_doubt else None
        doubt_since = notification.claimed_at if in_doubt else None
        provider = await pool.choose()
        notification.status = "sending"
        notification.claimed_at = now
        notification.attempts += 1
        notification.provider = provider.name
        return Claimed(
            notification.id,
            notification.phone,
            body,
            notification.attempts,
            provider.name,
            doubt_provider,
            doubt_since,
        )


async def _record(
    sessions: async_sessionmaker[AsyncSession],
    outbox_id: str,
    claimed: Claimed,
    provider: SmsProvider,
    result: SendResult,
    settings: NotifySettings,
) -> str:
    """Second transaction: the provider's answer decides the status and what the outbox owes."""
    async with sessions() as session, session.begin():
        notification = await session.get(
            Notification, claimed.notification_id, with_for_update=True
        )
        message = await lock_pending(session, outbox_id)
        if notification is None:
            return "missing"
        now = datetime.now(UTC)
        notification.provider = provider.name
        if result.outcome is Outcome.accepted:
            notification.sent_at = notification.sent_at or now
            notification.provider_reference = result.reference
            notification.last_error = None
            if notification.status not in FINAL:  # a receipt may have come first
                notification.status = "sending" if provider.has_receipts else "delivered"
                if not provider.has_receipts:
                    notification.delivered_at = now
        elif result.outcome is Outcome.rejected:
            notification.status = "permanent-failure"
            notification.last_error = result.error
        elif claimed.attempts >= settings.sms_max_attempts:
            notification.status = "technical-failure"
            notification.last_error = result.error
        else:
            notification.last_error = result.error
            if result.outcome is Outcome.retry:
                notification.status = "created"  # surely not sent: claim again freely
            delay = backoff_seconds(claimed.attempts)
            if result.outcome is Outcome.unknown:  # in doubt: ask before sending again
                delay = max(delay, settings.sms_sending_lease + 1)
            if message is not None:
                retry_later(message, result.error or "retry", delay)
            return result.outcome.value
        if message is not None:
            _scrub(message)
            if notification.status == "technical-failure":
                give_up(message, result.error or "gave up")
            else:
                settle(message)
        return notification.status


async def _resolve_doubt(
    pool: ProviderPool, claimed: Claimed
) -> tuple[SmsProvider, SendResult] | None:
    """If an earlier run may have handed this message over, ask that provider first."""
    previous = pool.get(claimed.in_doubt_provider)
    if previous is None or claimed.in_doubt_since is None:
        return None
    answer = await previous.lookup(
        str(claimed.notification_id), claimed.phone, claimed.body, claimed.in_doubt_since
    )
    if answer is not None and answer.outcome is Outcome.accepted:
        log.info(
            "notify.sms_found_at_provider",
            notification_id=str(claimed.notification_id),
            provider=previous.name,
        )
        return previous, answer
    return None


async def deliver(ctx: dict[str, Any], outbox_id: str) -> str:
    """arq job shared by the SMS and one-time-code queues."""
    sessions: async_sessionmaker[AsyncSession] = ctx["sessions"]
    settings: NotifySettings = ctx["settings"]
    pool: ProviderPool = ctx["pool"]
    templates: TemplateSet = ctx["templates"]
    claimed = await _claim(sessions, outbox_id, templates, settings, pool)
    if claimed is None:
        return "skipped"
    found = await _resolve_doubt(pool, claimed)
    if found is not None:
        provider, result = found
    else:
        provider = pool.get(claimed.provider) or pool.providers[0]
        result = await provider.send(str(claimed.notification_id), claimed.phone, claimed.body)
        await pool.record(provider, result.outcome in (Outcome.accepted, Outcome.rejected))
    outcome = await _record(sessions, outbox_id, claimed, provider, result, settings)
    SMS.labels(provider.name, outcome).inc()
    log.info(
        "notify.sms_attempted",
        notification_id=str(claimed.notification_id),
        outcome=outcome,
        provider=provider.name,
    )
    return outcome


async def send_sms(ctx: dict[str, Any], outbox_id: str) -> str:
    """A status message to a resident or a member of staff."""
    return await deliver(ctx, outbox_id)


async def send_otp(ctx: dict[str, Any], outbox_id: str) -> str:
    """A one-time code, on its own queue so status bursts never delay it."""
    return await deliver(ctx, outbox_id)
