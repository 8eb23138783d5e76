"""send_sms / send_otp: one SMS per outbox row, claimed in Postgres, sent with no session open.

A claim that was left in `sending` without a recorded answer (the worker died mid-send) is in
doubt: the provider that had it is asked first, where it can be asked, so a message the
provider already holds is recorded, not sent twice.

A status-SMS job carries up to `BATCHES[send_sms]` rows (the relay groups them): the rows are
claimed in one transaction, sent concurrently, and recorded in one transaction, each row
keeping its own state, so a burst costs a few statements per batch instead of per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from arq import Retry
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notify_service.jobs.handover import Attempt, Claimed, hand_over
from notify_service.jobs.recovery import Recovery
from notify_service.jobs.slots import Slots, SlotsBusy, unlimited
from notify_service.settings import NotifySettings
from notify_service.sms.providers.base import Outcome
from notify_service.sms.providers.pool import ProviderPool
from notify_service.sms.templates import TemplateError, TemplateSet
from shared import faults
from shared.db.identity import Resident
from shared.db.notify import Notification
from shared.db.outbox import OutboxMessage
from shared.metrics import SMS
from shared.queue.outbox import (
    REQUEST_ID_KEY,
    backoff_seconds,
    give_up,
    lock_pending_many,
    retry_later,
    settle,
)

log = structlog.get_logger()

FINAL = {"delivered", "permanent-failure", "technical-failure", "temporary-failure"}
SECRET_VALUES = ("code",)
MASK = "••••••"
EXPIRED = "one-time code expired before it could be sent"
SLOT_WAIT = 5.0  # seconds a batch waits for room before arq runs it again a second later


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


def _notification_for(
    session: AsyncSession,
    message: OutboxMessage,
    residents: Mapping[uuid.UUID, Resident],
    existing: Notification | None,
    templates: TemplateSet,
) -> tuple[Notification, str]:
    """The message's notification row (created on first run) and the text to send."""
    payload = message.payload
    resident_id = payload.get("resident_id")
    resident = residents.get(uuid.UUID(resident_id)) if resident_id else None
    language = str(payload.get("language") or (resident.preferred_language if resident else "ar"))
    phone = str(payload.get("phone") or (resident.phone if resident else ""))
    values = localized(dict(payload.get("values", {})), language)
    rendered = templates.render(str(payload["event"]), language, values)
    if existing is not None:
        return existing, rendered.body
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
        attempts=0,
    )
    session.add(notification)  # inserted with the batch's other new rows at commit
    return notification, rendered.body


def _uuids(values: Iterable[Any]) -> set[uuid.UUID]:
    """The values that are UUIDs (a malformed one fails its own row later, not the batch)."""
    found: set[uuid.UUID] = set()
    for value in values:
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            found.add(uuid.UUID(str(value)))
    return found


def _sending_now(notification: Notification, settings: NotifySettings, now: datetime) -> bool:
    """Whether another run claimed this message within the lease and may be sending it now."""
    stale_before = now - timedelta(seconds=settings.sms_sending_lease)
    claimed_at = notification.claimed_at
    return notification.status == "sending" and claimed_at is not None and claimed_at > stale_before


def _claim_one(
    session: AsyncSession,
    message: OutboxMessage,
    residents: Mapping[uuid.UUID, Resident],
    existing: Notification | None,
    templates: TemplateSet,
    settings: NotifySettings,
    provider: str,
    now: datetime,
) -> Claimed | None:
    """Decide whether this run sends one row, and mark its notification 'sending'."""
    sent = existing is not None and (existing.status in FINAL or existing.sent_at is not None)
    if _expired(message.payload) and not sent:  # sent: settled below like any other
        if existing is not None and _sending_now(existing, settings, now):
            return None  # that run records the provider's answer; the next look finishes it
        _scrub(message)
        give_up(message, EXPIRED, now=now)
        if existing is not None:  # an earlier try made it: finish it too (INV-2)
            existing.status = "technical-failure"
            existing.last_error = EXPIRED
            existing.updated_at = now
        return None
    try:
        notification, body = _notification_for(session, message, residents, existing, templates)
    except (TemplateError, KeyError, ValueError) as exc:
        give_up(message, f"cannot render: {exc}", now=now)
        return None
    if notification.status in FINAL or notification.sent_at is not None:
        _scrub(message)
        settle(message, now=now)  # the provider has it already; receipts will say the rest
        return None
    in_doubt = notification.status == "sending" and notification.claimed_at is not None
    if _sending_now(notification, settings, now):
        return None  # another run is sending it right now; the relay will look again
    if notification.parts > settings.sms_max_parts or not notification.phone:
        notification.status = "permanent-failure"
        notification.last_error = "too long or no phone number"
        settle(message, now=now)
        return None
    doubt_provider = notification.provider if in_doubt else None
    doubt_since = notification.claimed_at if in_doubt else None
    notification.status = "sending"
    notification.claimed_at = now
    notification.updated_at = now
    notification.attempts += 1
    notification.provider = provider
    request_id = message.payload.get(REQUEST_ID_KEY)
    return Claimed(
        str(message.id),
        notification.id,
        notification.phone,
        body,
        notification.attempts,
        provider,
        doubt_provider,
        doubt_since,
        str(request_id) if request_id else None,
        now + send_window(settings),
    )


def send_window(settings: NotifySettings) -> timedelta:
    """How long after its claim a send may still start: a send that starts later could still
    be in flight when the lease runs out and another run asks the provider about it."""
    lease = settings.sms_sending_lease
    return timedelta(seconds=max(lease - settings.sms_timeout, lease / 2))


async def _claim(
    sessions: async_sessionmaker[AsyncSession],
    outbox_ids: Sequence[str],
    templates: TemplateSet,
    settings: NotifySettings,
    pool: ProviderPool,
) -> list[Claimed]:
    """First transaction: decide which rows this run sends, and mark them 'sending'.

    Three statements load the whole batch (outbox rows, then notifications, locked in that
    order like `_record`), and the new or changed notifications are written at commit."""
    async with sessions() as session, session.begin():
        messages = await lock_pending_many(session, outbox_ids)
        if not messages:
            return []
        resident_ids = _uuids(m.payload.get("resident_id") for m in messages)
        residents = (
            {
                r.id: r
                for r in await session.scalars(
                    select(Resident).where(Resident.id.in_(resident_ids))
                )
            }
            if resident_ids
            else {}
        )
        existing = {
            n.idempotency_key: n
            for n in await session.scalars(
                select(Notification)
                .where(Notification.idempotency_key.in_([str(m.id) for m in messages]))
                .order_by(Notification.id)
                .with_for_update()
            )
        }
        provider = (await pool.choose()).name
        now = datetime.now(UTC)
        claimed = [
            _claim_one(
                session,
                message,
                residents,
                existing.get(str(message.id)),
                templates,
                settings,
                provider,
                now,
            )
            for message in messages
        ]
        return [c for c in claimed if c is not None]


def _record_one(
    notification: Notification | None,
    message: OutboxMessage | None,
    attempt: Attempt,
    settings: NotifySettings,
) -> str:
    """The provider's answer decides one notification's status and what its outbox row owes."""
    if notification is None:
        return "missing"
    claimed, provider, result = attempt.claimed, attempt.provider, attempt.result
    now = datetime.now(UTC)
    notification.updated_at = now  # a value, not onupdate's now(): one UPDATE for the batch
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
        if message is None:
            # The outbox row no longer owes this message (given up, or settled by another
            # run): nothing will try again, so it must not be left looking retryable.
            if notification.sent_at is None and notification.status not in FINAL:
                notification.status = "technical-failure"
            return result.outcome.value
        if result.outcome is Outcome.retry:
            notification.status = "created"  # surely not sent: claim again freely
        delay = backoff_seconds(claimed.attempts)
        if result.outcome is Outcome.unknown:  # in doubt: ask before sending again
            delay = max(delay, settings.sms_sending_lease + 1)
        retry_later(message, result.error or "retry", delay, now=now)
        return result.outcome.value
    if message is not None:
        _scrub(message)
        if notification.status == "technical-failure":
            give_up(message, result.error or "gave up", now=now)
        else:
            settle(message, now=now)
    return notification.status


async def _record(
    sessions: async_sessionmaker[AsyncSession],
    attempts: Sequence[Attempt],
    settings: NotifySettings,
) -> list[str]:
    """Second transaction: the batch's answers recorded at once, rows locked as in `_claim`."""
    async with sessions() as session, session.begin():
        messages = {
            str(m.id): m
            for m in await lock_pending_many(session, [a.claimed.outbox_id for a in attempts])
        }
        notifications = {
            n.id: n
            for n in await session.scalars(
                select(Notification)
                .where(Notification.id.in_([a.claimed.notification_id for a in attempts]))
                .order_by(Notification.id)
                .with_for_update()
            )
        }
        return [
            _record_one(
                notifications.get(a.claimed.notification_id),
                messages.get(a.claimed.outbox_id),
                a,
                settings,
            )
            for a in attempts
        ]


async def deliver(ctx: dict[str, Any], outbox_id: str, *more_ids: str) -> str:
    """arq job shared by the SMS and one-time-code queues: one outbox row, or a batch of them."""
    sessions: async_sessionmaker[AsyncSession] = ctx["sessions"]
    settings: NotifySettings = ctx["settings"]
    pool: ProviderPool = ctx["pool"]
    templates: TemplateSet = ctx["templates"]
    outbox_ids = [outbox_id, *more_ids]
    slots: Slots | None = ctx.get("sms_slots")
    try:
        async with slots.hold(len(outbox_ids), wait=SLOT_WAIT) if slots else unlimited():
            claimed = await _claim(sessions, outbox_ids, templates, settings, pool)
            if len(claimed) == 1 and claimed[0].request_id:  # this job's logs carry the call's ID
                structlog.contextvars.bind_contextvars(request_id=claimed[0].request_id)
            attempts = list(await asyncio.gather(*(hand_over(pool, c) for c in claimed)))
            if attempts:
                faults.point("notify.after_send")  # the provider has it; our record does not
            outcomes = await _record(sessions, attempts, settings) if attempts else []
    except SlotsBusy as exc:  # nothing was claimed; arq runs the job again a second later
        raise Retry(defer=1) from exc
    # The worker's own (arq gives each job a copy of its context, so it is set at startup).
    recovery: Recovery | None = ctx.get("sms_recovery")
    if recovery is not None and recovery.due(a.result.outcome for a in attempts):
        await recovery.release(sessions)
    for attempt, outcome in zip(attempts, outcomes, strict=True):
        SMS.labels(attempt.provider.name, outcome).inc()
        request_id = attempt.claimed.request_id
        with structlog.contextvars.bound_contextvars(
            **({"request_id": request_id} if request_id else {})
        ):
            log.info(
                "notify.sms_attempted",
                notification_id=str(attempt.claimed.notification_id),
                outcome=outcome,
                provider=attempt.provider.name,
            )
    if not outcomes:
        return "skipped"
    if len(outbox_ids) == 1:
        return outcomes[0]
    counts = Counter(outcomes)
    return "batch=" + ",".join(f"{name}:{counts[name]}" for name in sorted(counts))


async def send_sms(ctx: dict[str, Any], outbox_id: str, *more_ids: str) -> str:
    """Status messages to residents or members of staff (the relay batches them)."""
    return await deliver(ctx, outbox_id, *more_ids)


async def send_otp(ctx: dict[str, Any], outbox_id: str) -> str:
    """A one-time code, on its own queue so status bursts never delay it."""
    return await deliver(ctx, outbox_id)
