"""fan_out_event and deliver_webhook: partners hear of status changes, on their own queue."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import structlog
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notify_service.settings import NotifySettings
from notify_service.webhooks.security import (
    SIGNATURE_HEADER,
    UnsafeTarget,
    check_target,
    sign,
    webhook_secret,
)
from shared.db.catalog import Department
from shared.db.partners import PartnerClient
from shared.db.requests import Request
from shared.db.webhooks import PartnerWebhook, WebhookDelivery
from shared.metrics import WEBHOOK_DEAD
from shared.queue.contract import Job
from shared.queue.outbox import (
    backoff_seconds,
    give_up,
    lock_pending,
    lock_pending_many,
    owe,
    retry_later,
    settle,
)
from shared.request_status import label

log = structlog.get_logger()
PRODUCER = "notify"


@dataclass(frozen=True)
class Subscriber:
    """An active webhook of an active partner, with what the partner may read."""

    webhook_id: uuid.UUID
    client_id: uuid.UUID
    reads_requests: bool
    departments: frozenset[str]
    agencies: frozenset[str]

    def hears(self, request: Request, agency: str) -> bool:
        """Partners hear of requests they filed, and of those their read scope covers."""
        if request.partner_client_id == self.client_id:
            return True
        return self.reads_requests and (
            request.department_code in self.departments or agency in self.agencies
        )


async def _subscribers(session: AsyncSession) -> list[Subscriber]:
    """Every active webhook of an active partner: a handful, read once per batch."""
    rows = await session.execute(
        select(
            PartnerWebhook.id,
            PartnerClient.id,
            PartnerClient.scopes,
            PartnerClient.departments,
            PartnerClient.agencies,
        )
        .join(PartnerClient, PartnerClient.id == PartnerWebhook.client_id)
        .where(PartnerWebhook.active, PartnerClient.active)
    )
    return [
        Subscriber(
            webhook_id=hook_id,
            client_id=client_id,
            reads_requests="requests:read" in (scopes or []),
            departments=frozenset(departments or []),
            agencies=frozenset(agencies or []),
        )
        for hook_id, client_id, scopes, departments, agencies in rows
    ]


async def fan_out_event(ctx: dict[str, Any], outbox_id: str, *more_ids: str) -> str:
    """One delivery per subscribed webhook and event, each owed to the queue in the same commit.

    A job carries up to `BATCHES[fan_out_event]` events (the relay groups them): the requests,
    their agencies and the subscribers are read once per batch, so an event nobody subscribed
    to costs a share of a few statements rather than a job of its own."""
    sessions: async_sessionmaker[AsyncSession] = ctx["sessions"]
    async with sessions() as session, session.begin():
        messages = await lock_pending_many(session, [outbox_id, *more_ids])
        if not messages:
            return "skipped"
        requests = {
            r.id: r
            for r in await session.scalars(
                select(Request).where(
                    Request.id.in_({uuid.UUID(m.payload["request_id"]) for m in messages})
                )
            )
        }
        agencies: dict[str, str] = {
            code: agency
            for code, agency in await session.execute(
                select(Department.code, Department.agency_code).where(
                    Department.code.in_({r.department_code for r in requests.values()})
                )
            )
        }
        subscribers = await _subscribers(session) if requests else []
        created = missing = 0
        for message in messages:
            event = message.payload
            request = requests.get(uuid.UUID(event["request_id"]))
            if request is None:
                give_up(message, "request does not exist")
                missing += 1
                continue
            agency = agencies.get(request.department_code, "")
            hearing = [s for s in subscribers if s.hears(request, agency)]
            created += await _deliveries(session, event, request, hearing)
            settle(message)
        return f"events={len(messages)} deliveries={created} missing={missing}"


async def _deliveries(
    session: AsyncSession, event: dict[str, Any], request: Request, hearing: list[Subscriber]
) -> int:
    """Record one event's delivery to each subscriber (once, however often it is fanned out)."""
    payload = {
        "event": "request.status_changed",
        "event_key": event["event_key"],
        "request_id": str(request.id),
        "reference": request.reference,
        "type": event["type"],
        "from_status": event["from_status"],
        "status": event["to_status"],
        "status_label": label(event["to_status"]),
        "occurred_at": event["occurred_at"],
    }
    created = 0
    for subscriber in hearing:
        delivery_id = await session.scalar(
            insert(WebhookDelivery)
            .values(
                id=uuid.uuid4(),
                webhook_id=subscriber.webhook_id,
                event_key=event["event_key"],
                request_id=request.id,
                payload=payload,
            )
            .on_conflict_do_nothing(constraint="uq_webhook_deliveries_event")
            .returning(WebhookDelivery.id)
        )
        if delivery_id is not None:
            owe(session, Job.deliver_webhook, {"delivery_id": str(delivery_id)}, producer=PRODUCER)
            created += 1
    return created


async def deliver_webhook(ctx: dict[str, Any], outbox_id: str) -> str:
    """POST one signed delivery; retry with backoff for a day, then park it as dead."""
    sessions: async_sessionmaker[AsyncSession] = ctx["sessions"]
    settings: NotifySettings = ctx["settings"]
    client: httpx.AsyncClient = ctx["webhook_client"]
    async with sessions() as session, session.begin():
        message = await lock_pending(session, outbox_id)
        if message is None:
            return "skipped"
        delivery = await session.get(
            WebhookDelivery, uuid.UUID(message.payload["delivery_id"]), with_for_update=True
        )
        hook = await session.get(PartnerWebhook, delivery.webhook_id) if delivery else None
        if delivery is None or delivery.status != "pending":
            settle(message)
            return "skipped"
        if hook is None or not hook.active:
            delivery.status = "dead"
            delivery.last_error = "webhook removed"
            settle(message)
            return "dead"
        delivery.attempts += 1
        attempt, url, created_at = delivery.attempts, hook.url, delivery.created_at
        body = json.dumps({"delivery_id": str(delivery.id), **delivery.payload}).encode()
        secret = webhook_secret(
            settings.webhook_signing_key.get_secret_value().encode(),
            str(hook.id),
            hook.secret_version,
        )
        delivery_id = delivery.id
    status_code, error = await _post(client, settings, url, body, secret, delivery_id)
    async with sessions() as session, session.begin():
        message = await lock_pending(session, outbox_id)
        delivery = await session.get(WebhookDelivery, delivery_id, with_for_update=True)
        if delivery is None:
            return "missing"
        delivery.last_status_code = status_code
        delivery.last_error = error
        if status_code is not None and 200 <= status_code < 300:
            delivery.status = "delivered"
            delivery.delivered_at = datetime.now(UTC)
            if message is not None:
                settle(message)
            return "delivered"
        expired = datetime.now(UTC) - created_at > timedelta(seconds=settings.webhook_retry_window)
        if expired or error == "unsafe target":
            delivery.status = "dead"
            if message is not None:
                give_up(message, error or f"http {status_code}")
            WEBHOOK_DEAD.inc()
            log.warning("webhook.dead_letter", delivery_id=str(delivery_id), attempts=attempt)
            return "dead"
        if message is not None:
            retry_later(
                message,
                error or f"http {status_code}",
                backoff_seconds(attempt, base=5.0, cap=3600.0),
            )
        return "retry"


async def _post(
    client: httpx.AsyncClient,
    settings: NotifySettings,
    url: str,
    body: bytes,
    secret: str,
    delivery_id: uuid.UUID,
) -> tuple[int | None, str | None]:
    """The receiver's status, or the reason there is none; the target is re-checked each time."""
    try:
        await check_target(url, allow_private=settings.webhook_allow_private_targets)
    except UnsafeTarget:
        return None, "unsafe target"
    try:
        response = await client.post(
            url,
            content=body,
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(secret, body),
                "X-Tawasul-Delivery": str(delivery_id),
            },
        )
    except (httpx.HTTPError, OSError) as exc:
        return None, f"network: {type(exc).__name__}"
    return response.status_code, None if response.is_success else f"http {response.status_code}"
