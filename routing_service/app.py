"""Routing API app factory (health now; departments, rules and staff work come next)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import text

from routing_service.settings import RoutingSettings, get_settings
from shared.db.session import create_engine
from shared.errors import install_error_handlers
from shared.http import RequestContextMiddleware, health_router
from shared.logging import configure_logging


def create_app(settings: RoutingSettings | None = None) -> FastAPI:
    """Build the routing API."""
    settings = settings or get_settings()
    configure_logging("routing", level=settings.log_level, json=settings.log_json)
    engine = create_engine(settings, application_name="routing")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    app = FastAPI(
        title="Tawasul routing service",
        version="1.0.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings

    async def database_ready() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    install_error_handlers(app)
    app.include_router(health_router({"database": database_ready}))
    app.add_middleware(RequestContextMiddleware)
    return app
