"""Notify API app factory (health now; delivery receipts and message queries come next)."""

from __future__ import annotations

from fastapi import FastAPI

from notify_service.settings import NotifySettings, get_settings
from notify_service.sms.templates import load_templates
from shared.db.session import create_engine
from shared.logging import configure_logging
from shared.service_app import create_service_app


def create_app(settings: NotifySettings | None = None) -> FastAPI:
    """Build the notify API; templates are validated at start so a bad one stops the deploy."""
    settings = settings or get_settings()
    configure_logging("notify", level=settings.log_level, json=settings.log_json)
    load_templates(max_parts=settings.sms_max_parts)
    engine = create_engine(settings, application_name="notify")
    return create_service_app(title="Tawasul notify service", settings=settings, engine=engine)
