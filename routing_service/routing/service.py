"""Routing rules and assignment: the competent queue, then the least-loaded officer on duty."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from routing_service.settings import TRIAGE_QUEUE
from shared.db.catalog import Department, ServiceType
from shared.db.requests import Request
from shared.db.routing import RequestAssignment, RoutingRule
from shared.request_status import Action, Status
from shared.sla import targets
from shared.workflow import transition

log = structlog.get_logger()
PRODUCER = "routing"
ACTIVE_STATES = (Status.routed.value, Status.in_progress.value, Status.awaiting_resident.value)

# Officers of the department on duty with their open load; the caller holds the department lock.
_CANDIDATES = text(
    """
    SELECT s.id, d.capacity,
           (SELECT count(*) FROM request_assignments a JOIN requests r ON r.id = a.request_id
            WHERE a.officer_id = s.id AND r.status IN ('routed', 'in_progress',
                                                       'awaiting_resident')) AS load
    FROM staff s
    JOIN staff_departments sd ON sd.staff_id = s.id AND sd.department_code = :department
    JOIN officer_duty d ON d.staff_id = s.id
    WHERE s.active AND s.role = 'officer' AND d.on_duty
    ORDER BY load, s.id
    """
)


@dataclass(frozen=True)
class Placement:
    """Where a request goes: a queue, whether to assign automatically."""

    department_code: str
    queue_code: str
    auto_assign: bool


async def place(session: AsyncSession, department_code: str, service_code: str) -> Placement:
    """The service's rule, else the department's, else the department's own queue; triage if
    the department is inactive or unknown, so no request is ever routed nowhere."""
    department = await session.get(Department, department_code)
    if department is None or not department.active:
        return Placement(department_code, TRIAGE_QUEUE, False)
    rules = (
        await session.scalars(
            select(RoutingRule).where(
                RoutingRule.department_code == department_code,
                RoutingRule.active,
                (RoutingRule.service_code == service_code) | RoutingRule.service_code.is_(None),
            )
        )
    ).all()
    rule = next((r for r in rules if r.service_code == service_code), None) or next(
        (r for r in rules if r.service_code is None), None
    )
    if rule is None:
        return Placement(department_code, department_code, True)
    return Placement(department_code, rule.queue_code, rule.auto_assign)


async def lock_department(session: AsyncSession, department_code: str) -> None:
    """Serialise assignment within one department so two routings never see a stale load."""
    await session.execute(
        select(func.pg_advisory_xact_lock(func.hashtext(f"assign:{department_code}")))
    )


async def least_loaded_officer(
    session: AsyncSession, department_code: str, *, exclude: uuid.UUID | None = None
) -> uuid.UUID | None:
    """The on-duty officer with the fewest open requests and room left, if any."""
    await lock_department(session, department_code)
    for row in (await session.execute(_CANDIDATES, {"department": department_code})).all():
        if row.load < row.capacity and row.id != exclude:
            officer: uuid.UUID = row.id
            return officer
    return None


async def assign_to_queue(
    session: AsyncSession, request: Request, placement: Placement, now: datetime
) -> uuid.UUID | None:
    """Record the request's queue (replacing any earlier one) and, if the rule says so, an
    officer; returns the officer chosen."""
    officer = (
        await least_loaded_officer(session, placement.department_code)
        if placement.auto_assign
        else None
    )
    values = {
        "department_code": placement.department_code,
        "queue_code": placement.queue_code,
        "officer_id": officer,
        "assigned_at": now if officer else None,
        "routed_at": now,
    }
    await session.execute(
        insert(RequestAssignment)
        .values(request_id=request.id, **values)
        .on_conflict_do_update(index_elements=["request_id"], set_=values)
    )
    return officer


def department_names(department: Department | None, code: str) -> dict[str, str]:
    """A department's name in both languages, for the resident's SMS."""
    if department is None:
        return {"ar": code, "en": code}
    return {"ar": department.name_ar, "en": department.name_en}


async def route(session: AsyncSession, request_id: uuid.UUID) -> str:
    """Route one submitted request in the caller's transaction; a routed one is left alone."""
    request = await session.scalar(
        select(Request).where(Request.id == request_id).with_for_update()
    )
    if request is None:
        return "missing"
    if request.status != Status.submitted.value:
        return "already_routed"
    now = datetime.now(UTC)
    service = await session.get(ServiceType, request.service_code)
    if service is not None and request.resolution_due_at is None:
        targets.set_targets(
            request,
            targets.default_calendar(),
            start=request.submitted_at or now,
            first_response_hours=service.response_time_hours,
            resolution_hours=service.resolution_hours,
        )
    placement = await place(session, request.department_code, request.service_code)
    officer = await assign_to_queue(session, request, placement, now)
    department = await session.get(Department, request.department_code)
    transition(
        session,
        request,
        Action.route,
        actor_type="system",
        actor_id="routing",
        producer=PRODUCER,
        data={
            "queue": placement.queue_code,
            "department_code": request.department_code,
            **({"officer_id": str(officer)} if officer else {}),
        },
        sms_values={"department": department_names(department, request.department_code)},
        now=now,
    )
    log.info(
        "routing.request_routed",
        request=str(request.id),
        queue=placement.queue_code,
        assigned=officer is not None,
    )
    return "routed"
