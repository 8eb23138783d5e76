"""Intake API app factory: catalog, drafts, documents, submission, tracking."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import text

from intake_service.catalog.endpoints import router as catalog_router
from intake_service.catalog.service import CatalogCache
from intake_service.db import Database
from intake_service.documents.endpoints import router as documents_router
from intake_service.documents.storage import DocumentStore
from intake_service.requests.endpoints import router as requests_router
from intake_service.settings import IntakeSettings, get_settings
from shared.db.session import create_engine, create_sessionmaker
from shared.errors import install_error_handlers
from shared.http import BodyLimitMiddleware, RequestContextMiddleware, health_router
from shared.logging import configure_logging


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    """Build the intake app; connections open in the lifespan, not at import."""
    settings = settings or get_settings()
    configure_logging("intake", level=settings.log_level, json=settings.log_json)
    engine = create_engine(settings, application_name="intake")
    store = DocumentStore(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.s3_create_bucket:
            await store.ensure_bucket()
        yield
        await engine.dispose()

    app = FastAPI(
        title="Tawasul intake service",
        version="1.0.0",
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.db = Database(create_sessionmaker(engine))
    app.state.store = store
    app.state.catalog_cache = CatalogCache()

    async def database_ready() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    install_error_handlers(app)
    app.include_router(health_router({"database": database_ready, "s3": store.ping}))
    app.include_router(catalog_router)
    app.include_router(requests_router)
    app.include_router(documents_router)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_document_bytes + 1024 * 1024)
    app.add_middleware(RequestContextMiddleware)
    return app
