"""Catalog as the API shows it: agency → department → service, names in Arabic and English."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RequiredDocumentOut(BaseModel):
    """A document a service asks for."""

    code: str
    name_ar: str
    name_en: str


class ServiceOut(BaseModel):
    """An e-service with its response-time target."""

    code: str
    name_ar: str
    name_en: str
    description_ar: str
    description_en: str
    required_documents: list[RequiredDocumentOut]
    response_time_hours: int = Field(description="Working hours to the first response.")
    resolution_hours: int = Field(description="Working hours to resolution.")


class DepartmentOut(BaseModel):
    """A department and the services it handles."""

    code: str
    name_ar: str
    name_en: str
    description_ar: str
    description_en: str
    services: list[ServiceOut]


class AgencyOut(BaseModel):
    """A government agency and its departments."""

    code: str
    name_ar: str
    name_en: str
    departments: list[DepartmentOut]


class CatalogOut(BaseModel):
    """The whole catalog of active agencies, departments and services."""

    agencies: list[AgencyOut]
