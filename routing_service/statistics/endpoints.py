"""GET /v1/staff/statistics: supervisors' figures for their departments, JSON or CSV."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import func, select

from routing_service.deps import DB, Supervisor
from routing_service.statistics import service
from shared.db.catalog import Department
from shared.db.requests import Request
from shared.errors import AppError
from shared.validation import StorableText

router = APIRouter(prefix="/v1/staff", tags=["statistics"])
MAX_DAYS = 366


class InvalidPeriod(AppError):
    """`from` must be before `to`, and the period at most a year."""

    status = 422
    code = "invalid_period"
    message_en = "The period must start before it ends and last at most a year."
    message_ar = "يجب أن تبدأ الفترة قبل نهايتها وألا تتجاوز سنة."


@router.get(
    "/statistics",
    response_model=service.Statistics,
    responses={200: {"content": {"text/csv": {}}}},
    summary="Backlog, response times, targets met, breaches and satisfaction",
)
async def statistics(
    staff: Supervisor,
    db: DB,
    start: Annotated[date, Query(alias="from")],
    end: Annotated[date, Query(alias="to", description="Exclusive.")],
    department: Annotated[StorableText | None, Query(max_length=64)] = None,
    format: Literal["json", "csv"] = "json",
    officers: Annotated[
        bool,
        Query(
            description="false: department figures only, at a cost that follows neither the "
            "period's requests nor the staff (the officer breakdown costs a row per officer)."
        ),
    ] = True,
) -> service.Statistics | Response:
    """Over requests submitted in [from, to); supervisors see their departments, admins all."""
    if end <= start or end - start > timedelta(days=MAX_DAYS):
        raise InvalidPeriod()
    async with db.read() as session:
        if staff.is_admin:
            scope = list(await session.scalars(select(Department.code)))
        else:
            scope = sorted(staff.departments)
        if department is not None:
            scope = [code for code in scope if code == department]
        result = await service.compute(
            session,
            scope,
            datetime.combine(start, time(), tzinfo=UTC),
            datetime.combine(end, time(), tzinfo=UTC),
            officers=officers,
        )
    if format == "csv":
        return Response(
            service.to_csv(result),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="statistics-{start}-{end}.csv"'},
        )
    return result


class OriginCount(BaseModel):
    """How many requests came from one failing e-service with one error code."""

    origin_service: str
    origin_error_code: str | None
    requests: int
    submitted: int


@router.get(
    "/statistics/origins",
    response_model=list[OriginCount],
    summary="Requests handed off by failing e-services, by service and error code",
)
async def origins(
    staff: Supervisor,
    db: DB,
    start: Annotated[date, Query(alias="from")],
    end: Annotated[date, Query(alias="to", description="Exclusive.")],
) -> list[OriginCount]:
    """Recurring failures made visible: hand-offs created in [from, to) in the caller's scope."""
    if end <= start or end - start > timedelta(days=MAX_DAYS):
        raise InvalidPeriod()
    query = (
        select(
            Request.origin_service,
            Request.origin_error_code,
            func.count(),
            func.count(Request.submitted_at),
        )
        .where(
            Request.origin_service.is_not(None),
            Request.created_at >= datetime.combine(start, time(), tzinfo=UTC),
            Request.created_at < datetime.combine(end, time(), tzinfo=UTC),
        )
        .group_by(Request.origin_service, Request.origin_error_code)
        .order_by(func.count().desc())
    )
    if not staff.is_admin:
        query = query.where(Request.department_code.in_(sorted(staff.departments)))
    async with db.read() as session:
        rows = (await session.execute(query)).all()
    return [
        OriginCount(origin_service=r[0], origin_error_code=r[1], requests=r[2], submitted=r[3])
        for r in rows
    ]
