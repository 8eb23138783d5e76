"""The active catalog, read straight from the gateway's database session."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.open311.mapping import split_service_code
from shared.db.catalog import Department, ServiceType


async def active_services(session: AsyncSession) -> list[tuple[Department, ServiceType]]:
    """Every active service of an active department (intake's rule for filing), in order."""
    rows = await session.execute(
        select(Department, ServiceType)
        .join(ServiceType, ServiceType.department_code == Department.code)
        .where(Department.active, ServiceType.active)
        .order_by(Department.position, Department.code, ServiceType.position, ServiceType.code)
    )
    return [(department, service) for department, service in rows]


async def active_service(
    session: AsyncSession, open311_code: str
) -> tuple[Department, ServiceType] | None:
    """The service behind `<department>.<service>` if it can be filed now, else None."""
    parts = split_service_code(open311_code)
    if parts is None:
        return None
    department_code, code = parts
    row = (
        await session.execute(
            select(Department, ServiceType)
            .join(ServiceType, ServiceType.department_code == Department.code)
            .where(
                Department.code == department_code,
                ServiceType.code == code,
                Department.active,
                ServiceType.active,
            )
        )
    ).first()
    return (row[0], row[1]) if row else None
