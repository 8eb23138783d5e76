"""Routing API app factory (health now; departments, rules and staff work come next)."""

from __future__ import annotations

from fastapi import FastAPI

from routing_service.settings import RoutingSettings, get_settings
from shared.db.session import create_engine
from shared.logging import configure_logging
from shared.service_app import create_service_app


def create_app(settings: RoutingSettings | None = None) -> FastAPI:
    """Build the routing API."""
    settings = settings or get_settings()
    configure_logging("routing", level=settings.log_level, json=settings.log_json)
    engine = create_engine(settings, application_name="routing")
    return create_service_app(title="Tawasul routing service", settings=settings, engine=engine)
