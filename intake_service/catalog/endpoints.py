"""GET /v1/catalog: the tree residents pick a department and service from."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from intake_service.catalog.schemas import CatalogOut
from intake_service.catalog.service import CatalogCache
from intake_service.deps import DB

router = APIRouter(prefix="/v1/catalog", tags=["catalog"])


@router.get("", response_model=CatalogOut, summary="The catalog of agencies, departments, services")
async def get_catalog(request: Request, response: Response, db: DB) -> CatalogOut:
    """Public: anyone may browse what can be requested."""
    cache: CatalogCache = request.app.state.catalog_cache
    async with db.read() as session:
        tree = await cache.get(session)
    response.headers["Cache-Control"] = "public, max-age=60"
    return tree
