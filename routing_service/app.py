"""Routing API app factory: the staff workspace and the admin's routing rules."""

from __future__ import annotations

from fastapi import FastAPI

from routing_service.documents.endpoints import router as documents_router
from routing_service.rules.endpoints import router as rules_router
from routing_service.settings import RoutingSettings, get_settings
from routing_service.statistics.endpoints import router as statistics_router
from routing_service.workspace.endpoints import router as workspace_router
from shared.db.database import Database
from shared.db.session import create_engine, create_sessionmaker
from shared.logging import configure_logging
from shared.service_app import create_service_app
from shared.storage import DocumentStore


def create_app(settings: RoutingSettings | None = None) -> FastAPI:
    """Build the routing API."""
    settings = settings or get_settings()
    configure_logging("routing", level=settings.log_level, json=settings.log_json)
    engine = create_engine(settings, application_name="routing")
    app = create_service_app(title="Tawasul routing service", settings=settings, engine=engine)
    app.state.db = Database(create_sessionmaker(engine))
    # Read only, for staff downloads; not a readiness check, so an S3 outage fails downloads
    # (503) and leaves the rest of the workspace serving.
    app.state.store = DocumentStore(settings)
    app.include_router(workspace_router)
    app.include_router(documents_router)
    app.include_router(rules_router)
    app.include_router(statistics_router)
    return app
