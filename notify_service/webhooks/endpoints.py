"""/v1/partner/webhooks (partners subscribe) and /v1/admin/webhooks (dead letters, replay)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from notify_service.settings import NotifySettings
from notify_service.webhooks.security import check_target, webhook_secret
from shared.db.database import Database
from shared.db.webhooks import PartnerWebhook, WebhookDelivery
from shared.errors import Forbidden, NotFound
from shared.http import identity_from
from shared.identity import Identity, PrincipalKind
from shared.queue.contract import Job
from shared.queue.outbox import owe
from shared.validation import InputModel

router = APIRouter(tags=["partner webhooks"])


class WebhookIn(InputModel):
    """Where to send status changes."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=10, max_length=2000, examples=["https://cases.example.gov.sa/hook"])


class WebhookOut(BaseModel):
    """A subscription (its secret is shown once, at creation)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    url: str
    active: bool
    created_at: datetime


class CreatedWebhookOut(WebhookOut):
    """The new subscription and the secret that signs its deliveries."""

    secret: str


class DeliveryOut(BaseModel):
    """A delivery as admins see it."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    webhook_id: uuid.UUID
    request_id: uuid.UUID | None
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime


class WebhookNotFound(NotFound):
    """No such subscription of this partner."""

    code = "webhook_not_found"


def _identity(request: Request) -> Identity:
    settings: NotifySettings = request.app.state.settings
    return identity_from(request, settings.internal_auth_secret.get_secret_value().encode())


async def webhook_manager(request: Request) -> Identity:
    """A partner with the webhooks:manage scope."""
    identity = _identity(request)
    if identity.kind is not PrincipalKind.partner or "webhooks:manage" not in identity.scopes:
        raise Forbidden()
    return identity


async def admin(request: Request) -> Identity:
    """An admin."""
    identity = _identity(request)
    if identity.kind is not PrincipalKind.staff or "admin" not in identity.roles:
        raise Forbidden()
    return identity


Manager = Annotated[Identity, Depends(webhook_manager)]
Admin = Annotated[Identity, Depends(admin)]


def _db(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


@router.post("/v1/partner/webhooks", status_code=201, response_model=CreatedWebhookOut)
async def subscribe(body: WebhookIn, partner: Manager, request: Request) -> CreatedWebhookOut:
    """Subscribe a public HTTPS URL; deliveries carry X-Tawasul-Signature (HMAC-SHA256)."""
    settings: NotifySettings = request.app.state.settings
    await check_target(body.url, allow_private=settings.webhook_allow_private_targets)
    async with _db(request).transaction() as session:
        hook = PartnerWebhook(id=uuid.uuid4(), client_id=uuid.UUID(partner.subject), url=body.url)
        session.add(hook)
        await session.flush()
        secret = webhook_secret(
            settings.webhook_signing_key.get_secret_value().encode(), str(hook.id), 1
        )
        return CreatedWebhookOut(**WebhookOut.model_validate(hook).model_dump(), secret=secret)


@router.get("/v1/partner/webhooks", response_model=list[WebhookOut])
async def list_webhooks(partner: Manager, request: Request) -> list[WebhookOut]:
    """The partner's subscriptions."""
    async with _db(request).read() as session:
        hooks = await session.scalars(
            select(PartnerWebhook).where(PartnerWebhook.client_id == uuid.UUID(partner.subject))
        )
        return [WebhookOut.model_validate(h) for h in hooks]


@router.delete("/v1/partner/webhooks/{webhook_id}", status_code=204, response_class=Response)
async def unsubscribe(webhook_id: uuid.UUID, partner: Manager, request: Request) -> Response:
    """Stop deliveries to this URL."""
    async with _db(request).transaction() as session:
        hook = await session.get(PartnerWebhook, webhook_id, with_for_update=True)
        if hook is None or hook.client_id != uuid.UUID(partner.subject):
            raise WebhookNotFound()
        hook.active = False
    return Response(status_code=204)


@router.get("/v1/admin/webhooks/dead-letters", response_model=list[DeliveryOut])
async def dead_letters(
    _: Admin, request: Request, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[DeliveryOut]:
    """Deliveries that failed for a whole day, newest first."""
    async with _db(request).read() as session:
        rows = await session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.status == "dead")
            .order_by(WebhookDelivery.created_at.desc())
            .limit(limit)
        )
        return [DeliveryOut.model_validate(r) for r in rows]


@router.post("/v1/admin/webhooks/dead-letters/{delivery_id}/replay", response_model=DeliveryOut)
async def replay(delivery_id: uuid.UUID, _: Admin, request: Request) -> DeliveryOut:
    """Send a dead delivery again, with a fresh day of retries."""
    async with _db(request).transaction() as session:
        delivery = await session.get(WebhookDelivery, delivery_id, with_for_update=True)
        if delivery is None or delivery.status != "dead":
            raise NotFound()
        delivery.status = "pending"
        delivery.attempts = 0
        delivery.created_at = datetime.now(delivery.created_at.tzinfo)
        owe(session, Job.deliver_webhook, {"delivery_id": str(delivery.id)}, producer="notify")
        await session.flush()
        return DeliveryOut.model_validate(delivery)
