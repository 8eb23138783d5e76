"""Loads the validated catalog into Postgres: upserts what the file has, retires what it lost."""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from services.loader import load_catalog_file
from services.schema import Catalog
from shared.db.catalog import Agency, Department, DocumentType, ServiceType


@dataclass(frozen=True)
class LoadResult:
    """What a load touched, for the operator's log line."""

    agencies: int
    departments: int
    services: int
    document_types: int


async def _upsert(conn: AsyncConnection, model: type, rows: Sequence[Mapping[str, object]]) -> None:
    """Insert rows or update them in place, keyed by their code."""
    if not rows:
        return
    table = model.__table__  # type: ignore[attr-defined]
    statement = insert(table).values(rows)
    columns = {key: statement.excluded[key] for key in rows[0] if key != "code"}
    await conn.execute(statement.on_conflict_do_update(index_elements=["code"], set_=columns))


async def _retire(conn: AsyncConnection, model: type, keep: list[str]) -> None:
    """Deactivate rows the file no longer lists; requests that point at them stay valid."""
    table = model.__table__  # type: ignore[attr-defined]
    await conn.execute(update(table).where(table.c.code.not_in(keep)).values(active=False))


async def load_catalog(conn: AsyncConnection, catalog: Catalog) -> LoadResult:
    """Write the whole catalog in the caller's transaction."""
    documents = [
        {"code": d.code, "name_ar": d.name_ar, "name_en": d.name_en} for d in catalog.document_types
    ]
    agencies, departments, services = [], [], []
    for a, agency in enumerate(catalog.agencies):
        agencies.append(
            {
                "code": agency.code,
                "name_ar": agency.name_ar,
                "name_en": agency.name_en,
                "position": a,
                "active": True,
            }
        )
        for d, department in enumerate(agency.departments):
            departments.append(
                {
                    "code": department.code,
                    "agency_code": agency.code,
                    "name_ar": department.name_ar,
                    "name_en": department.name_en,
                    "description_ar": department.description_ar,
                    "description_en": department.description_en,
                    "position": d,
                    "active": True,
                }
            )
            for s, service in enumerate(department.services):
                services.append(
                    {
                        "code": service.code,
                        "department_code": department.code,
                        "name_ar": service.name_ar,
                        "name_en": service.name_en,
                        "description_ar": service.description_ar,
                        "description_en": service.description_en,
                        "required_documents": [
                            {"code": doc.code, "name_ar": doc.name_ar, "name_en": doc.name_en}
                            for doc in catalog.documents_for(service)
                        ],
                        "response_time_hours": service.response_time_hours,
                        "resolution_hours": service.resolution_hours,
                        "position": s,
                        "active": service.active,
                    }
                )
    await _upsert(conn, DocumentType, documents)
    await _upsert(conn, Agency, agencies)
    await _upsert(conn, Department, departments)
    await _upsert(conn, ServiceType, services)
    await _retire(conn, Agency, [row["code"] for row in agencies])  # type: ignore[misc]
    await _retire(conn, Department, [row["code"] for row in departments])  # type: ignore[misc]
    await _retire(conn, ServiceType, [row["code"] for row in services])  # type: ignore[misc]
    return LoadResult(len(agencies), len(departments), len(services), len(documents))


async def load_into(database_url: str, path: Path | None = None) -> LoadResult:
    """Validate the file, then load it in one transaction (all or nothing)."""
    catalog = load_catalog_file(path)
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            return await load_catalog(conn, catalog)
    finally:
        await engine.dispose()


def main() -> None:
    """`python -m services.db_loader [--file PATH]`: validate and load the catalog."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--file", type=Path, default=None, help="catalog YAML (default: shipped)")
    args = parser.parse_args()
    result = asyncio.run(load_into(os.environ["DATABASE_URL"], args.file))
    print(
        f"catalog loaded: {result.agencies} agencies, {result.departments} departments, "
        f"{result.services} services, {result.document_types} document types"
    )


if __name__ == "__main__":
    main()
