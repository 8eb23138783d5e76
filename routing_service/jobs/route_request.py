"""route_request: put a submitted request in its department's queue, once, and tell the resident."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from routing_service.settings import TRIAGE_QUEUE
from shared.db.catalog import Department
from shared.db.requests import Request, RequestEvent
from shared.db.routing import RequestAssignment
from shared.queue.contract import Job
from shared.queue.outbox import give_up, lock_pending, owe, settle
from shared.request_status import Status

log = structlog.get_logger()
PRODUCER = "routing"


async def route(session: AsyncSession, request_id: uuid.UUID) -> str:
    """Route one request in the caller's transaction; a request already routed is left alone."""
    request = await session.scalar(
        select(Request).where(Request.id == request_id).with_for_update()
    )
    if request is None:
        return "missing"
    if request.status != Status.submitted.value:
        return "already_routed"
    department = await session.get(Department, request.department_code)
    active = department is not None and department.active
    queue_code = request.department_code if active else TRIAGE_QUEUE
    await session.execute(
        insert(RequestAssignment)
        .values(
            request_id=request.id, department_code=request.department_code, queue_code=queue_code
        )
        .on_conflict_do_nothing(index_elements=["request_id"])
    )
    request.status = Status.routed.value
    request.version += 1
    request.updated_at = datetime.now(UTC)
    session.add(
        RequestEvent(
            request_id=request.id,
            type="routed",
            from_status=Status.submitted.value,
            to_status=Status.routed.value,
            actor_type="system",
            actor_id="routing",
            data={"queue": queue_code, "department_code": request.department_code},
        )
    )
    owe(
        session,
        Job.send_sms,
        {
            "event": "request_routed",
            "resident_id": str(request.resident_id),
            "request_id": str(request.id),
            "values": {
                "reference": request.reference,
                "department": {
                    "ar": department.name_ar if department else request.department_code,
                    "en": department.name_en if department else request.department_code,
                },
            },
        },
        producer=PRODUCER,
    )
    log.info("routing.request_routed", request_id=str(request.id), queue=queue_code)
    return "routed"


async def route_request(ctx: dict[str, Any], outbox_id: str) -> str:
    """arq job: settle the outbox row together with the routing it asked for."""
    sessions: async_sessionmaker[AsyncSession] = ctx["sessions"]
    async with sessions() as session, session.begin():
        message = await lock_pending(session, outbox_id)
        if message is None:
            return "skipped"
        try:
            request_id = uuid.UUID(str(message.payload.get("request_id")))
        except ValueError:
            give_up(message, "payload has no valid request_id")
            return "invalid"
        outcome = await route(session, request_id)
        if outcome == "missing":
            give_up(message, f"request {request_id} does not exist")
        else:
            settle(message)
        return outcome
