"""GET /v1/staff/messages?phone=: what we sent to a phone, when, and whether it arrived."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy import and_, or_, select

from notify_service.settings import NotifySettings
from shared import pagination
from shared.db.database import Database
from shared.db.notify import Notification
from shared.db.requests import Request as ResidentRequest
from shared.errors import AppError, Forbidden
from shared.http import identity_from
from shared.identity import Identity, PrincipalKind
from shared.validation import StorableText, normalize_saudi_mobile

router = APIRouter(prefix="/v1/staff", tags=["message log"])


class InvalidPhone(AppError):
    """The phone is not a Saudi mobile number."""

    status = 422
    code = "invalid_phone"
    message_en = "The phone must be a Saudi mobile number."
    message_ar = "يجب أن يكون رقم الجوال سعودياً."


class MessageOut(BaseModel):
    """One SMS as staff see it (one-time codes are stored masked)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    event: str
    phone: str
    language: str
    body: str
    encoding: str
    parts: int
    status: str
    provider: str | None
    attempts: int
    last_error: str | None
    request_id: uuid.UUID | None
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None


class MessagePageOut(BaseModel):
    """Newest first; pass next_cursor back for more."""

    items: list[MessageOut]
    next_cursor: str | None


async def supervisor_or_admin(request: Request) -> Identity:
    """Supervisors and admins only, checked before the call's parameters are."""
    settings: NotifySettings = request.app.state.settings
    identity = identity_from(request, settings.internal_auth_secret.get_secret_value().encode())
    role = identity.roles[0] if identity.roles else ""
    if identity.kind is not PrincipalKind.staff or role not in {"supervisor", "admin"}:
        raise Forbidden()
    return identity


@router.get("/messages", response_model=MessagePageOut)
async def message_log(
    request: Request,
    identity: Annotated[Identity, Depends(supervisor_or_admin)],
    phone: Annotated[StorableText, Query(max_length=32)],
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> MessagePageOut:
    """Supervisors see messages about their departments' requests; admins see all."""
    role = identity.roles[0] if identity.roles else ""
    number = normalize_saudi_mobile(phone)
    if number is None:
        raise InvalidPhone()
    query = select(Notification).where(Notification.phone == number)
    if role != "admin":
        query = query.join(ResidentRequest, ResidentRequest.id == Notification.request_id).where(
            ResidentRequest.department_code.in_(sorted(identity.departments))
        )
    if cursor:
        moment, last = pagination.decode_cursor(cursor)
        query = query.where(
            or_(
                Notification.created_at < moment,
                and_(Notification.created_at == moment, Notification.id < last),
            )
        )
    query = query.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit + 1)
    db: Database = request.app.state.db
    async with db.read() as session:
        rows = list(await session.scalars(query))
    page = rows[:limit]
    next_cursor = (
        pagination.encode_cursor(page[-1].created_at, page[-1].id) if len(rows) > limit else None
    )
    return MessagePageOut(
        items=[MessageOut.model_validate(r) for r in page], next_cursor=next_cursor
    )
