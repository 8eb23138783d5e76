"""Notify API app factory: delivery receipts and the staff message log."""

from __future__ import annotations

from fastapi import FastAPI

from notify_service.messages.endpoints import router as messages_router
from notify_service.receipts.endpoints import router as receipts_router
from notify_service.settings import NotifySettings, check_production, get_settings
from notify_service.sms.templates import load_templates
from notify_service.webhooks.endpoints import router as webhooks_router
from shared.db.database import Database
from shared.db.session import create_engine, create_sessionmaker
from shared.logging import configure_logging
from shared.service_app import create_service_app


def create_app(settings: NotifySettings | None = None) -> FastAPI:
    """Build the notify API; templates are validated at start so a bad one stops the deploy."""
    settings = settings or get_settings()
    configure_logging("notify", level=settings.log_level, json=settings.log_json)
    check_production(settings)
    load_templates(max_parts=settings.sms_max_parts)
    engine = create_engine(settings, application_name="notify")
    app = create_service_app(title="Tawasul notify service", settings=settings, engine=engine)
    app.state.db = Database(create_sessionmaker(engine))
    app.include_router(receipts_router)
    app.include_router(messages_router)
    app.include_router(webhooks_router)
    return app
