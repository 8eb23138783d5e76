"""The provider call: one claimed message handed over, or found with the provider already."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from notify_service.sms.providers.base import Outcome, SendResult, SmsProvider
from notify_service.sms.providers.pool import ProviderPool

log = structlog.get_logger()


@dataclass(frozen=True)
class Claimed:
    """A notification this run has the right to send, and what an earlier run left behind."""

    outbox_id: str
    notification_id: uuid.UUID
    phone: str
    body: str
    attempts: int
    provider: str
    in_doubt_provider: str | None
    in_doubt_since: datetime | None
    request_id: str | None = None
    send_by: datetime | None = None
    """Past this moment the claim is too old to start a send: another run may soon take the
    message as in doubt, and two runs must never both hand it over."""


@dataclass(frozen=True)
class Attempt:
    """What one provider answered for one claimed message."""

    claimed: Claimed
    provider: SmsProvider
    result: SendResult


async def resolve_doubt(
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


async def hand_over(pool: ProviderPool, claimed: Claimed) -> Attempt:
    """Hand one claimed message to a provider (or find that one already has it)."""
    provider = pool.get(claimed.provider) or pool.providers[0]
    try:
        found = await resolve_doubt(pool, claimed)
        if found is not None:
            return Attempt(claimed, *found)
        if claimed.send_by is not None and datetime.now(UTC) > claimed.send_by:
            log.warning("notify.sms_claim_stale", notification_id=str(claimed.notification_id))
            stale = SendResult(Outcome.unknown, error="claim too old to send safely; not sent")
            return Attempt(claimed, provider, stale)
        result = await provider.send(str(claimed.notification_id), claimed.phone, claimed.body)
    except Exception as exc:  # one message's surprise must not leave the batch unrecorded
        log.exception("notify.sms_attempt_failed", notification_id=str(claimed.notification_id))
        return Attempt(claimed, provider, SendResult(Outcome.unknown, error=repr(exc)[:200]))
    await pool.record(provider, result.outcome in (Outcome.accepted, Outcome.rejected))
    return Attempt(claimed, provider, result)
