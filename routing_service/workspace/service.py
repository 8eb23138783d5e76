"""Staff actions on a request: scope and role checks, then one transition each."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import Select, func, select, text, tuple_, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from routing_service.deps import StaffMember
from routing_service.routing.service import (
    ACTIVE_STATES,
    PRODUCER,
    assign_to_queue,
    department_names,
    place,
)
from shared import pagination
from shared.db.catalog import Department
from shared.db.identity import Resident, StaffDepartment
from shared.db.identity import Staff as StaffRow
from shared.db.requests import IN_QUEUE, Document, Request, RequestEvent
from shared.db.routing import OfficerDuty, RequestAssignment
from shared.errors import AppError, Forbidden, NotFound
from shared.request_status import Action, next_status
from shared.workflow import transition


class RequestNotFound(NotFound):
    """Not in the caller's departments, or not at all (the two look the same)."""

    code = "request_not_found"
    message_en = "Request not found."
    message_ar = "الطلب غير موجود."


class NotYourRequest(Forbidden):
    """An officer may act only on requests assigned to them."""

    code = "not_assigned_to_you"
    message_en = "This request is assigned to another officer."
    message_ar = "هذا الطلب مسند إلى موظف آخر."


class UnknownDepartment(AppError):
    """Transfer target is not an active department."""

    status = 422
    code = "unknown_department"
    message_en = "The department does not exist or is not active."
    message_ar = "الإدارة غير موجودة أو غير مفعلة."


class NotAnOfficerHere(AppError):
    """Assignment target is not an active officer of the request's department."""

    status = 422
    code = "not_an_officer_of_department"
    message_en = "That person is not an active officer of this department."
    message_ar = "هذا الشخص ليس موظفاً فعالاً في هذه الإدارة."


async def load(
    session: AsyncSession, staff: StaffMember, request_id: uuid.UUID, *, lock: bool = False
) -> tuple[Request, RequestAssignment | None]:
    """The request and its assignment if the caller's departments cover it, else 404."""
    query = select(Request).where(Request.id == request_id, Request.status != "draft")
    if lock:
        query = query.with_for_update()
    request = await session.scalar(query)
    if request is None or not staff.covers(request.department_code):
        raise RequestNotFound()
    assignment = await session.get(RequestAssignment, request.id)
    return request, assignment


def require_handler(staff: StaffMember, assignment: RequestAssignment | None) -> None:
    """Officers act on their own requests; supervisors and admins on any in scope."""
    if staff.supervises:
        return
    if assignment is None or assignment.officer_id != staff.id:
        raise NotYourRequest()


def _act(
    session: AsyncSession,
    staff: StaffMember,
    request: Request,
    action: Action,
    *,
    data: dict[str, object] | None = None,
    internal: bool = False,
    sms_values: dict[str, object] | None = None,
) -> None:
    transition(
        session,
        request,
        action,
        actor_type="staff",
        actor_id=str(staff.id),
        producer=PRODUCER,
        data=data,
        internal=internal,
        sms_values=sms_values,
    )


async def claim(session: AsyncSession, staff: StaffMember, request_id: uuid.UUID) -> Request:
    """Take a routed request: unassigned, or already assigned to the caller."""
    request, assignment = await load(session, staff, request_id, lock=True)
    next_status(Action.claim, request.status)  # a lost race answers 409 with the new state
    taken = assignment is not None and assignment.officer_id not in (None, staff.id)
    if taken and not staff.supervises:
        raise NotYourRequest()
    _act(session, staff, request, Action.claim)
    if assignment is not None:
        assignment.officer_id = staff.id
        assignment.assigned_at = datetime.now(UTC)
    return request


async def act_as_handler(
    session: AsyncSession,
    staff: StaffMember,
    request_id: uuid.UUID,
    action: Action,
    *,
    data: dict[str, object] | None = None,
    internal: bool = False,
) -> Request:
    """reply, request_info, resolve, reject, note: checked for scope and assignment."""
    request, assignment = await load(session, staff, request_id, lock=True)
    if action is not Action.note:
        require_handler(staff, assignment)
    _act(session, staff, request, action, data=data, internal=internal)
    return request


async def transfer(
    session: AsyncSession,
    staff: StaffMember,
    request_id: uuid.UUID,
    department_code: str,
    reason: str,
) -> Request:
    """Send the request to another department and route it again there."""
    request, assignment = await load(session, staff, request_id, lock=True)
    require_handler(staff, assignment)
    target = await session.get(Department, department_code)
    if target is None or not target.active:
        raise UnknownDepartment()
    previous = request.department_code
    request.department_code = target.code
    placement = await place(session, target.code, request.service_code)
    officer = await assign_to_queue(session, request, placement, datetime.now(UTC))
    _act(
        session,
        staff,
        request,
        Action.transfer,
        data={
            "from_department": previous,
            "to_department": target.code,
            "reason": reason,
            "queue": placement.queue_code,
            **({"officer_id": str(officer)} if officer else {}),
        },
        sms_values={"department": department_names(target, target.code)},
    )
    return request


async def assign(
    session: AsyncSession, staff: StaffMember, request_id: uuid.UUID, officer_id: uuid.UUID
) -> Request:
    """A supervisor gives the request to an active officer of its department."""
    if not staff.supervises:
        raise Forbidden()
    request, assignment = await load(session, staff, request_id, lock=True)
    member = await session.scalar(
        select(StaffRow.id)
        .join(StaffDepartment, StaffDepartment.staff_id == StaffRow.id)
        .where(
            StaffRow.id == officer_id,
            StaffRow.active,
            StaffRow.role == "officer",
            StaffDepartment.department_code == request.department_code,
        )
    )
    if member is None or assignment is None:
        raise NotAnOfficerHere()
    previous = assignment.officer_id
    assignment.officer_id = officer_id
    assignment.assigned_at = datetime.now(UTC)
    _act(
        session,
        staff,
        request,
        Action.reassign,
        data={"from_officer": str(previous) if previous else None, "to_officer": str(officer_id)},
        internal=True,
    )
    return request


async def open_load(session: AsyncSession, officer_id: uuid.UUID) -> int:
    """How many active requests an officer holds."""
    count = await session.scalar(
        select(func.count())
        .select_from(RequestAssignment)
        .join(Request, Request.id == RequestAssignment.request_id)
        .where(RequestAssignment.officer_id == officer_id, Request.status.in_(ACTIVE_STATES))
    )
    return int(count or 0)


async def set_duty(
    session: AsyncSession, staff: StaffMember, on_duty: bool, capacity: int | None
) -> OfficerDuty:
    """An officer goes on or off duty (and may change how many requests they can hold)."""
    duty = await session.get(OfficerDuty, staff.id, with_for_update=True)
    if duty is None:
        duty = OfficerDuty(staff_id=staff.id, on_duty=on_duty, capacity=capacity or 20)
        session.add(duty)
    else:
        duty.on_duty = on_duty
        if capacity is not None:
            duty.capacity = capacity
    await session.flush()
    return duty


async def queue(
    session: AsyncSession,
    staff: StaffMember,
    *,
    status: str | None,
    department: str | None,
    assigned: str,
    limit: int,
    cursor: str | None,
) -> list[tuple[Request, RequestAssignment | None]]:
    """Requests in the caller's departments, oldest submission first, with filters.

    Each department's page is read on its own, in index order, and the pages are merged:
    so a page costs `limit` rows per department, however many requests are open or closed."""
    if staff.is_admin:
        scopes: list[str | None] = [department]
    else:
        scopes = [code for code in sorted(staff.departments) if department in (None, code)]
    if not scopes:
        return []
    conditions = [
        text(IN_QUEUE) if status is None else Request.status == status,
        Request.status != "draft",
        Request.submitted_at.is_not(None),
    ]
    if assigned == "me":
        conditions.append(RequestAssignment.officer_id == staff.id)
    elif assigned == "unassigned":
        conditions.append(RequestAssignment.officer_id.is_(None))
    if cursor:
        moment, last_id = pagination.decode_cursor(cursor)
        conditions.append(tuple_(Request.submitted_at, Request.id) > tuple_(moment, last_id))

    def page_of(code: str | None) -> Select[uuid.UUID]:
        page = select(Request.id).where(*conditions)
        if assigned != "any":
            page = page.outerjoin(RequestAssignment, RequestAssignment.request_id == Request.id)
        if code is not None:
            page = page.where(Request.department_code == code)
        return page.order_by(Request.submitted_at, Request.id).limit(limit + 1)

    pages = [page_of(code).subquery() for code in scopes]
    ids = pages[0] if len(pages) == 1 else union_all(*(select(p.c.id) for p in pages)).subquery()
    query = (
        select(Request, RequestAssignment)
        .join(ids, ids.c.id == Request.id)
        .outerjoin(RequestAssignment, RequestAssignment.request_id == Request.id)
        .order_by(Request.submitted_at, Request.id)
        .limit(limit + 1)
    )
    return [(row[0], row[1]) for row in (await session.execute(query)).all()]


async def resident_language(session: AsyncSession, request: Request) -> str:
    """The language the resident reads (for staff composing replies)."""
    resident = await session.get(Resident, request.resident_id)
    return resident.preferred_language if resident else "ar"


async def documents_and_events(
    session: AsyncSession, request_id: uuid.UUID
) -> tuple[list[Document], list[RequestEvent]]:
    """The request's documents and full timeline (internal notes included)."""
    documents = list(
        await session.scalars(
            select(Document).where(Document.request_id == request_id).order_by(Document.created_at)
        )
    )
    events = list(
        await session.scalars(
            select(RequestEvent)
            .where(RequestEvent.request_id == request_id)
            .order_by(RequestEvent.id)
        )
    )
    return documents, events
