"""Intake API app factory: catalog, drafts, documents, submission, tracking."""

from __future__ import annotations

import structlog
from fastapi import FastAPI

from intake_service.catalog.endpoints import router as catalog_router
from intake_service.catalog.service import CatalogCache
from intake_service.documents.endpoints import router as documents_router
from intake_service.documents.scanner import ClamdScanner
from intake_service.partner.endpoints import router as partner_router
from intake_service.requests.endpoints import create_request
from intake_service.requests.endpoints import router as requests_router
from intake_service.requests.lane import DRAFT_LANE_MAX_BODY, draft_lane
from intake_service.settings import IntakeSettings, get_settings
from shared.db.database import Database
from shared.db.session import create_engine, create_sessionmaker
from shared.fast_lane import install as install_lane
from shared.http import BodyLimitMiddleware
from shared.logging import configure_logging
from shared.service_app import create_service_app
from shared.storage import DocumentStore

log = structlog.get_logger()


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    """Build the intake app; connections open lazily, the bucket is checked at start."""
    settings = settings or get_settings()
    configure_logging("intake", level=settings.log_level, json=settings.log_json)
    engine = create_engine(settings, application_name="intake")
    store = DocumentStore(settings)

    scanner = (
        ClamdScanner(settings.clamd_address, timeout=settings.clamd_timeout)
        if settings.clamd_address
        else None
    )

    async def startup() -> None:
        if settings.s3_create_bucket:
            await store.ensure_bucket()
        if scanner is None:
            log.warning("documents.scanning_off", reason="CLAMD_ADDRESS is not set")

    app = create_service_app(
        title="Tawasul intake service",
        settings=settings,
        engine=engine,
        checks={"s3": store.ping},
        on_startup=startup,
    )
    app.state.db = Database(create_sessionmaker(engine))
    app.state.store = store
    # Not a readiness check: with clamd down only uploads fail (503), everything else serves.
    app.state.scanner = scanner
    app.state.catalog_cache = CatalogCache()
    app.include_router(catalog_router)
    app.include_router(requests_router)
    app.include_router(documents_router)
    app.include_router(partner_router)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_document_bytes + 1024 * 1024)
    # Last, once every route and middleware is in: the lane copies them.
    secret = settings.internal_auth_secret.get_secret_value().encode()
    install_lane(
        app, {create_request: draft_lane(app.state.db, secret, max_body=DRAFT_LANE_MAX_BODY)}
    )
    return app
