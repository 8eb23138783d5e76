"""/v1/staff: the department queue, one request in full, and every staff action on it."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlalchemy.ext.asyncio import AsyncSession

from routing_service.deps import DB, Staff
from routing_service.workspace import service
from routing_service.workspace.schemas import (
    AssignIn,
    DutyIn,
    DutyOut,
    MessageIn,
    NoteIn,
    QueueItemOut,
    QueuePageOut,
    ReasonIn,
    StaffDocumentOut,
    StaffEventOut,
    StaffRequestOut,
    TransferIn,
)
from shared import pagination
from shared.db.requests import Request
from shared.db.routing import OfficerDuty, RequestAssignment
from shared.request_status import Action
from shared.validation import StorableText

router = APIRouter(prefix="/v1/staff", tags=["staff workspace"])


def _item(request: Request, assignment: RequestAssignment | None) -> QueueItemOut:
    return QueueItemOut(
        id=request.id,
        reference=request.reference,
        status=request.status,
        department_code=request.department_code,
        service_code=request.service_code,
        queue_code=assignment.queue_code if assignment else None,
        officer_id=assignment.officer_id if assignment else None,
        submitted_at=request.submitted_at,
        first_response_due_at=request.first_response_due_at,
        resolution_due_at=request.resolution_due_at,
        breached=request.breached_at is not None,
    )


async def _full(session: AsyncSession, request: Request) -> StaffRequestOut:
    assignment = await session.get(RequestAssignment, request.id)
    documents, events = await service.documents_and_events(session, request.id)
    return StaffRequestOut(
        **_item(request, assignment).model_dump(),
        description=request.description,
        resident_language=await service.resident_language(session, request),
        version=request.version,
        first_response_at=request.first_response_at,
        resolved_at=request.resolved_at,
        rating=request.rating,
        origin=(
            {
                "service": request.origin_service,
                "error_code": request.origin_error_code,
                "transaction_reference": request.origin_reference,
                "data": request.origin_data or {},
            }
            if request.origin_service
            else None
        ),
        documents=[StaffDocumentOut.model_validate(d) for d in documents],
        timeline=[
            StaffEventOut(
                type=e.type,
                from_status=e.from_status,
                to_status=e.to_status,
                actor_type=e.actor_type,
                actor_id=e.actor_id,
                internal=e.internal,
                at=e.created_at,
                data=e.data,
            )
            for e in events
        ],
    )


@router.get("/requests", response_model=QueuePageOut, summary="The queue of your departments")
async def list_queue(
    staff: Staff,
    db: DB,
    status: Annotated[StorableText | None, Query(max_length=32)] = None,
    department: Annotated[StorableText | None, Query(max_length=64)] = None,
    assigned: Literal["me", "unassigned", "any"] = "any",
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> QueuePageOut:
    """Active requests by default, oldest submission first; filters narrow it."""
    async with db.read() as session:
        rows = await service.queue(
            session,
            staff,
            status=status,
            department=department,
            assigned=assigned,
            limit=limit,
            cursor=cursor,
        )
    page = rows[:limit]
    last = page[-1][0] if page else None
    next_cursor = (
        pagination.encode_cursor(last.submitted_at, last.id)
        if len(rows) > limit and last is not None and last.submitted_at is not None
        else None
    )
    return QueuePageOut(items=[_item(r, a) for r, a in page], next_cursor=next_cursor)


@router.get("/requests/{request_id}", response_model=StaffRequestOut)
async def get_request(request_id: uuid.UUID, staff: Staff, db: DB) -> StaffRequestOut:
    """One request with documents and the whole timeline, internal notes included."""
    async with db.read() as session:
        request, _ = await service.load(session, staff, request_id)
        return await _full(session, request)


@router.post("/requests/{request_id}/claim", response_model=StaffRequestOut)
async def claim(request_id: uuid.UUID, staff: Staff, db: DB) -> StaffRequestOut:
    """Start working a routed request (two officers claiming at once: one wins, one gets 409)."""
    async with db.transaction() as session:
        return await _full(session, await service.claim(session, staff, request_id))


async def _handler_action(
    db: DB,
    staff: Staff,
    request_id: uuid.UUID,
    action: Action,
    data: dict[str, object],
    *,
    internal: bool = False,
) -> StaffRequestOut:
    async with db.transaction() as session:
        request = await service.act_as_handler(
            session, staff, request_id, action, data=data, internal=internal
        )
        return await _full(session, request)


@router.post("/requests/{request_id}/reply", response_model=StaffRequestOut)
async def reply(request_id: uuid.UUID, body: MessageIn, staff: Staff, db: DB) -> StaffRequestOut:
    """Answer the resident; they are told by SMS."""
    return await _handler_action(db, staff, request_id, Action.reply, {"message": body.message})


@router.post("/requests/{request_id}/request-info", response_model=StaffRequestOut)
async def request_info(
    request_id: uuid.UUID, body: MessageIn, staff: Staff, db: DB
) -> StaffRequestOut:
    """Ask the resident for more information or documents (status awaiting_resident)."""
    return await _handler_action(
        db, staff, request_id, Action.request_info, {"message": body.message}
    )


@router.post("/requests/{request_id}/resolve", response_model=StaffRequestOut)
async def resolve(request_id: uuid.UUID, body: MessageIn, staff: Staff, db: DB) -> StaffRequestOut:
    """Close the matter with the answer the resident reads."""
    return await _handler_action(db, staff, request_id, Action.resolve, {"message": body.message})


@router.post("/requests/{request_id}/reject", response_model=StaffRequestOut)
async def reject(request_id: uuid.UUID, body: ReasonIn, staff: Staff, db: DB) -> StaffRequestOut:
    """Refuse the request, with the reason the resident reads."""
    return await _handler_action(db, staff, request_id, Action.reject, {"reason": body.reason})


@router.post("/requests/{request_id}/notes", response_model=StaffRequestOut)
async def add_note(request_id: uuid.UUID, body: NoteIn, staff: Staff, db: DB) -> StaffRequestOut:
    """An internal note: staff see it, the resident never does."""
    return await _handler_action(
        db, staff, request_id, Action.note, {"note": body.text}, internal=True
    )


@router.post("/requests/{request_id}/transfer", response_model=StaffRequestOut)
async def transfer(
    request_id: uuid.UUID, body: TransferIn, staff: Staff, db: DB
) -> StaffRequestOut:
    """Send it to the competent department; it is routed again there."""
    async with db.transaction() as session:
        request = await service.transfer(
            session, staff, request_id, body.department_code, body.reason
        )
        return await _full(session, request)


@router.post("/requests/{request_id}/assign", response_model=StaffRequestOut)
async def assign(request_id: uuid.UUID, body: AssignIn, staff: Staff, db: DB) -> StaffRequestOut:
    """Supervisors: give the request to an officer of its department."""
    async with db.transaction() as session:
        request = await service.assign(session, staff, request_id, body.officer_id)
        return await _full(session, request)


@router.put("/me/duty", response_model=DutyOut)
async def set_duty(body: DutyIn, staff: Staff, db: DB) -> DutyOut:
    """Go on or off duty; only officers on duty receive new requests automatically."""
    async with db.transaction() as session:
        duty = await service.set_duty(session, staff, body.on_duty, body.capacity)
        load = await service.open_load(session, staff.id)
    return DutyOut(on_duty=duty.on_duty, capacity=duty.capacity, open_requests=load)


@router.get("/me/duty", response_model=DutyOut)
async def get_duty(staff: Staff, db: DB) -> DutyOut:
    """Your availability and how many active requests you hold."""
    async with db.read() as session:
        duty = await session.get(OfficerDuty, staff.id)
        load = await service.open_load(session, staff.id)
    return DutyOut(
        on_duty=duty.on_duty if duty else False,
        capacity=duty.capacity if duty else 20,
        open_requests=load,
    )
