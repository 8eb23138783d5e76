"""Builds the catalog tree; cached briefly since it changes only when the loader runs."""

from __future__ import annotations

import time

from sqlalchemy.ext.asyncio import AsyncSession

from intake_service.catalog import repository
from intake_service.catalog.schemas import (
    AgencyOut,
    CatalogOut,
    DepartmentOut,
    RequiredDocumentOut,
    ServiceOut,
)

CACHE_SECONDS = 30.0


class CatalogCache:
    """Per-process cache of the catalog tree; a loader change shows within CACHE_SECONDS."""

    def __init__(self) -> None:
        self._value: CatalogOut | None = None
        self._loaded_at = 0.0

    async def get(self, session: AsyncSession) -> CatalogOut:
        """The cached tree, rebuilt from Postgres when stale."""
        if self._value is None or time.monotonic() - self._loaded_at > CACHE_SECONDS:
            self._value = await build_tree(session)
            self._loaded_at = time.monotonic()
        return self._value


async def build_tree(session: AsyncSession) -> CatalogOut:
    """Nest active services under their departments and departments under agencies."""
    agencies, departments, services = await repository.active_tree(session)
    services_by_department: dict[str, list[ServiceOut]] = {}
    for service in services:
        services_by_department.setdefault(service.department_code, []).append(
            ServiceOut(
                code=service.code,
                name_ar=service.name_ar,
                name_en=service.name_en,
                description_ar=service.description_ar,
                description_en=service.description_en,
                required_documents=[
                    RequiredDocumentOut.model_validate(doc) for doc in service.required_documents
                ],
                response_time_hours=service.response_time_hours,
                resolution_hours=service.resolution_hours,
            )
        )
    departments_by_agency: dict[str, list[DepartmentOut]] = {}
    for department in departments:
        departments_by_agency.setdefault(department.agency_code, []).append(
            DepartmentOut(
                code=department.code,
                name_ar=department.name_ar,
                name_en=department.name_en,
                description_ar=department.description_ar,
                description_en=department.description_en,
                services=services_by_department.get(department.code, []),
            )
        )
    return CatalogOut(
        agencies=[
            AgencyOut(
                code=agency.code,
                name_ar=agency.name_ar,
                name_en=agency.name_en,
                departments=departments_by_agency.get(agency.code, []),
            )
            for agency in agencies
        ]
    )
