"""Reads of the catalog tables (written by the catalog loader, never by intake)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.catalog import Agency, Department, ServiceType


async def active_tree(
    session: AsyncSession,
) -> tuple[Sequence[Agency], Sequence[Department], Sequence[ServiceType]]:
    """All active agencies, departments and services, in display order."""
    agencies = (
        await session.scalars(
            select(Agency).where(Agency.active).order_by(Agency.position, Agency.code)
        )
    ).all()
    departments = (
        await session.scalars(
            select(Department)
            .where(Department.active)
            .order_by(Department.position, Department.code)
        )
    ).all()
    services = (
        await session.scalars(
            select(ServiceType)
            .where(ServiceType.active)
            .order_by(ServiceType.position, ServiceType.code)
        )
    ).all()
    return agencies, departments, services


async def active_service(
    session: AsyncSession, department_code: str, service_code: str
) -> tuple[Department, ServiceType] | None:
    """The service if it is active and belongs to the active department named, else None."""
    row = (
        await session.execute(
            select(Department, ServiceType)
            .join(ServiceType, ServiceType.department_code == Department.code)
            .where(
                Department.code == department_code,
                ServiceType.code == service_code,
                Department.active,
                ServiceType.active,
            )
        )
    ).first()
    return (row[0], row[1]) if row else None
