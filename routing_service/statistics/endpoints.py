"""GET /v1/staff/statistics: supervisors' figures for their departments, JSON or CSV."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from sqlalchemy import select

from routing_service.deps import DB, Staff
from routing_service.statistics import service
from shared.db.catalog import Department
from shared.errors import AppError, Forbidden

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
    staff: Staff,
    db: DB,
    start: Annotated[date, Query(alias="from")],
    end: Annotated[date, Query(alias="to", description="Exclusive.")],
    department: Annotated[str | None, Query(max_length=64)] = None,
    format: Literal["json", "csv"] = "json",
) -> service.Statistics | Response:
    """Over requests submitted in [from, to); supervisors see their departments, admins all."""
    if not staff.supervises:
        raise Forbidden()
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
        )
    if format == "csv":
        return Response(
            service.to_csv(result),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="statistics-{start}-{end}.csv"'},
        )
    return result
