"""Turns a provider's receipt into our status; a final status is never changed again."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Mapping
from datetime import datetime

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from notify_service.jobs.deliver import FINAL
from notify_service.sms.providers.aggregators import UNIFONIC_PERMANENT
from shared.db.notify import Notification

log = structlog.get_logger()
TWILIO_PERMANENT_DELIVERY = {"30005", "30006", "30007", "21211", "21614", "21610"}
IN_FLIGHT = {"queued", "accepted", "scheduled", "sending", "sent"}


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """Twilio's X-Twilio-Signature: HMAC-SHA1 over the URL and the sorted form parameters."""
    data = url + "".join(f"{key}{params[key]}" for key in sorted(params))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def twilio_status(status: str, error_code: str | None) -> str | None:
    """Our status for Twilio's MessageStatus; None while the message is still on its way."""
    status = status.lower()
    if status in IN_FLIGHT:
        return None
    if status == "delivered":
        return "delivered"
    permanent = (error_code or "") in TWILIO_PERMANENT_DELIVERY
    if status == "undelivered":
        return "permanent-failure" if permanent else "temporary-failure"
    if status == "failed":
        return "permanent-failure" if permanent else "technical-failure"
    return None


def unifonic_status(status: str, error_code: str | None) -> str | None:
    """Our status for a Unifonic delivery report; None while still on its way."""
    status = status.lower()
    if status in IN_FLIGHT:
        return None
    if status == "delivered":
        return "delivered"
    if status in {"undelivered", "failed", "rejected"}:
        return "permanent-failure" if error_code in UNIFONIC_PERMANENT else "temporary-failure"
    return None


async def apply_receipt(
    session: AsyncSession,
    *,
    provider: str,
    notification_id: str | None,
    reference: str | None,
    status: str | None,
    error: str | None,
    now: datetime,
) -> str:
    """Record a receipt; returns recorded, in_flight, duplicate or unknown."""
    query = select(Notification).with_for_update()
    try:
        key = uuid.UUID(notification_id) if notification_id else None
    except ValueError:
        key = None
    if key is not None:
        query = query.where(Notification.id == key)
    elif reference:
        query = query.where(
            Notification.provider == provider, Notification.provider_reference == reference
        )
    else:
        return "unknown"
    notification = await session.scalar(query)
    if notification is None:
        log.warning("notify.receipt_for_unknown_message", provider=provider)
        return "unknown"
    if status is None:
        return "in_flight"
    if notification.status in FINAL:
        return "duplicate"  # statuses never move backwards, nor between final states
    notification.status = status
    notification.updated_at = now
    if reference and not notification.provider_reference:
        notification.provider_reference = reference
    if status == "delivered":
        notification.delivered_at = now
    else:
        notification.last_error = error
    log.info(
        "notify.receipt_recorded",
        provider=provider,
        status=status,
        notification_id=str(notification.id),
    )
    return "recorded"
