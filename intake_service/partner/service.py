"""Partner rules: scopes, the resident they act for, and which requests they may see."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from intake_service.catalog.repository import active_service
from intake_service.partner.schemas import HandoffIn, ResidentRef
from intake_service.requests import repository
from intake_service.requests.errors import RequestNotFound, UnknownService
from shared.db.identity import Resident
from shared.db.requests import Request
from shared.errors import AppError, Forbidden, NotFound
from shared.identity import Identity, PrincipalKind
from shared.queue.contract import Job
from shared.queue.outbox import owe
from shared.request_status import Status

PRODUCER = "intake"


class ResidentNotFound(NotFound):
    """No resident has this national ID with this phone."""

    code = "resident_not_found"
    message_en = "No resident is registered with this national ID and phone."
    message_ar = "لا يوجد مستفيد مسجل بهذا الرقم وهذا الجوال."


class MissingScope(Forbidden):
    """The token lacks the scope this call needs."""

    code = "insufficient_scope"

    def __init__(self, scope: str) -> None:
        super().__init__(
            f"This call needs the '{scope}' scope.",
            f"يتطلب هذا الإجراء صلاحية «{scope}».",
            extra={"required_scope": scope},
        )


class OutOfScope(AppError):
    """The department is not one the partner may reach."""

    status = 403
    code = "department_out_of_scope"
    message_en = "This department is outside your scope."
    message_ar = "هذه الإدارة خارج نطاق صلاحياتك."


def require_partner(identity: Identity, scope: str) -> Identity:
    """A partner token with `scope`; anyone else gets 403."""
    if identity.kind is not PrincipalKind.partner:
        raise Forbidden()
    if scope not in identity.scopes:
        raise MissingScope(scope)
    return identity


def require_department(identity: Identity, department_code: str) -> None:
    """Filing is allowed only into departments the partner's scope covers."""
    if department_code not in identity.departments:
        raise OutOfScope()


async def resident_for(session: AsyncSession, ref: ResidentRef) -> Resident:
    """The resident with this ID and phone; a mismatch looks the same as no resident."""
    resident = await session.scalar(select(Resident).where(Resident.national_id == ref.national_id))
    if resident is None or resident.phone != ref.phone:
        raise ResidentNotFound()
    return resident


def _visible(identity: Identity) -> ColumnElement[bool]:
    """Requests the partner filed or handed off, and submitted ones its scope covers: a draft
    is the resident's own until submitted (withdrawn unsubmitted ones stay so)."""
    return or_(
        Request.partner_client_id == uuid.UUID(identity.subject),
        Request.department_code.in_(sorted(identity.departments))
        & Request.submitted_at.is_not(None),
    )


async def readable(session: AsyncSession, identity: Identity, request_id: uuid.UUID) -> Request:
    """A request the partner filed or its scope covers once submitted; any other ID is 404."""
    return await _one(session, request_id, _visible(identity), lock=False)


async def filed(
    session: AsyncSession, identity: Identity, request_id: uuid.UUID, *, lock: bool = False
) -> Request:
    """A request this partner filed: the only ones it may write to. A request its scope only
    lets it read answers 404 to writes, exactly as a missing one does."""
    mine = Request.partner_client_id == uuid.UUID(identity.subject)
    return await _one(session, request_id, mine, lock=lock)


async def _one(
    session: AsyncSession, request_id: uuid.UUID, allowed: ColumnElement[bool], *, lock: bool
) -> Request:
    query = select(Request).where(Request.id == request_id, allowed)
    if lock:
        query = query.with_for_update()
    request = await session.scalar(query)
    if request is None:
        raise RequestNotFound()
    return request


async def page(
    session: AsyncSession,
    identity: Identity,
    *,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> Sequence[Request]:
    """Requests the partner may read, newest first."""
    query = select(Request).where(_visible(identity))
    if after is not None:
        created, last = after
        query = query.where(
            or_(Request.created_at < created, (Request.created_at == created) & (Request.id < last))
        )
    return (
        await session.scalars(
            query.order_by(Request.created_at.desc(), Request.id.desc()).limit(limit)
        )
    ).all()


async def handoff(session: AsyncSession, identity: Identity, body: HandoffIn) -> Request:
    """A draft pre-filled from a failed e-service; the resident is told by SMS."""
    require_department(identity, body.department_code)
    if await active_service(session, body.department_code, body.service_code) is None:
        raise UnknownService()
    resident = await resident_for(session, body.resident)
    request = Request(
        id=uuid.uuid4(),
        resident_id=resident.id,
        department_code=body.department_code,
        service_code=body.service_code,
        description=body.description.strip(),
        status=Status.draft.value,
        partner_client_id=uuid.UUID(identity.subject),
        origin_service=body.origin.service,
        origin_error_code=body.origin.error_code,
        origin_reference=body.origin.transaction_reference,
        origin_data=body.origin.data,
    )
    session.add(request)
    await session.flush()
    repository.add_event(
        session,
        request,
        "created",
        from_status=None,
        to_status=Status.draft.value,
        actor_type="partner",
        actor_id=identity.subject,
        data={"origin_service": body.origin.service, "origin_error_code": body.origin.error_code},
    )
    owe(
        session,
        Job.send_sms,
        {
            "event": "handoff_draft_created",
            "resident_id": str(resident.id),
            "request_id": str(request.id),
            "values": {"service": body.origin.service},
        },
        producer=PRODUCER,
    )
    await session.flush()
    return request
