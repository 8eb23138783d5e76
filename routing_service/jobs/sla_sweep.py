"""sla_sweep (arq cron, every minute): warn at 80% of a target, mark and escalate breaches."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from routing_service.routing.service import PRODUCER, least_loaded_officer
from routing_service.settings import RoutingSettings
from shared.db.identity import Staff, StaffDepartment
from shared.db.requests import Request, RequestEvent
from shared.db.routing import RequestAssignment
from shared.metrics import SLA_BREACHES
from shared.queue.contract import Job
from shared.queue.outbox import owe
from shared.sla.targets import riyadh_text

log = structlog.get_logger()
WATCHED = ("routed", "in_progress")  # awaiting_resident is paused; closed states are done


@dataclass(frozen=True)
class SweepResult:
    """How many requests one sweep warned about and marked breached."""

    warned: int
    breached: int


def _text_staff(session: AsyncSession, staff: Staff, event: str, values: dict[str, str]) -> None:
    """Owe an SMS to a staff member (their own phone and language)."""
    owe(
        session,
        Job.send_sms,
        {
            "event": event,
            "phone": staff.phone,
            "language": staff.preferred_language,
            "values": values,
        },
        producer=PRODUCER,
    )


def _event(request: Request, kind: str, now: datetime, data: dict[str, object]) -> RequestEvent:
    return RequestEvent(
        request_id=request.id,
        type=kind,
        from_status=request.status,
        to_status=request.status,
        actor_type="system",
        actor_id="sla",
        internal=True,
        data=data,
        created_at=now,
    )


async def _watched(
    session: AsyncSession, batch: int, *conditions: ColumnElement[bool]
) -> list[tuple[Request, RequestAssignment | None]]:
    """Open requests matching `conditions`, locked; rows another sweep holds are skipped."""
    rows = await session.execute(
        select(Request, RequestAssignment)
        .outerjoin(RequestAssignment, RequestAssignment.request_id == Request.id)
        .where(Request.status.in_(WATCHED), Request.breached_at.is_(None), *conditions)
        .with_for_update(of=Request, skip_locked=True)
        .limit(batch)
    )
    return [(row[0], row[1]) for row in rows.all()]


async def _warn(session: AsyncSession, now: datetime, batch: int) -> int:
    """Tell the assigned officer that 80% of the current target's time has passed."""
    rows = await _watched(
        session,
        batch,
        Request.warned_at.is_(None),
        or_(
            and_(Request.first_response_at.is_(None), Request.first_response_warn_at <= now),
            and_(Request.first_response_at.is_not(None), Request.resolution_warn_at <= now),
        ),
    )
    for request, assignment in rows:
        request.warned_at = now
        due = (
            request.first_response_due_at
            if request.first_response_at is None
            else (request.resolution_due_at)
        )
        session.add(
            _event(request, "sla_warning", now, {"due_at": due.isoformat() if due else None})
        )
        officer = (
            await session.get(Staff, assignment.officer_id)
            if assignment is not None and assignment.officer_id
            else None
        )
        if officer is not None and due is not None and request.reference:
            _text_staff(
                session,
                officer,
                "response_due_soon",
                {"reference": request.reference, "due": riyadh_text(due)},
            )
    return len(rows)


async def _breach(session: AsyncSession, now: datetime, batch: int, reassign: bool) -> int:
    """Mark breaches, tell the department's supervisors, and reassign if configured."""
    rows = await _watched(
        session,
        batch,
        or_(
            and_(Request.first_response_at.is_(None), Request.first_response_due_at <= now),
            Request.resolution_due_at <= now,
        ),
    )
    for request, assignment in rows:
        request.breached_at = now
        target = "first_response" if request.first_response_at is None else "resolution"
        session.add(_event(request, "sla_breached", now, {"target": target}))
        supervisors = await session.scalars(
            select(Staff)
            .join(StaffDepartment, StaffDepartment.staff_id == Staff.id)
            .where(
                StaffDepartment.department_code == request.department_code,
                Staff.role == "supervisor",
                Staff.active,
            )
        )
        for supervisor in supervisors:
            if request.reference:
                _text_staff(
                    session, supervisor, "response_overdue", {"reference": request.reference}
                )
        if reassign and assignment is not None and assignment.officer_id is not None:
            await _reassign(session, request, assignment, now)
    return len(rows)


async def _reassign(
    session: AsyncSession, request: Request, assignment: RequestAssignment, now: datetime
) -> None:
    previous: uuid.UUID | None = assignment.officer_id
    successor = await least_loaded_officer(session, request.department_code, exclude=previous)
    if successor is None:
        return
    assignment.officer_id = successor
    assignment.assigned_at = now
    session.add(
        _event(
            request,
            "reassigned",
            now,
            {"from_officer": str(previous), "to_officer": str(successor), "reason": "sla_breach"},
        )
    )


async def sweep(
    sessions: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    reassign: bool,
    batch: int = 500,
) -> SweepResult:
    """One pass; each step is its own short transaction, and skips rows others hold."""
    async with sessions() as session, session.begin():
        warned = await _warn(session, now, batch)
    async with sessions() as session, session.begin():
        breached = await _breach(session, now, batch, reassign)
    SLA_BREACHES.inc(breached)
    if warned or breached:
        log.info("sla.swept", warned=warned, breached=breached)
    return SweepResult(warned, breached)


async def sla_sweep(ctx: dict[str, Any]) -> str:
    """arq cron entry point; the clock is passed in so tests can control it."""
    settings: RoutingSettings = ctx["settings"]
    result = await sweep(
        ctx["sessions"],
        now=datetime.now(UTC),
        reassign=settings.sla_reassign_on_breach,
        batch=settings.sla_sweep_batch,
    )
    return f"warned={result.warned} breached={result.breached}"
