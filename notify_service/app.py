"""Notify API app factory (health now; delivery receipts and message queries come next)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import text

from notify_service.settings import NotifySettings, get_settings
from notify_service.sms.templates import load_templates
from shared.db.session import create_engine
from shared.errors import install_error_handlers
from shared.http import RequestContextMiddleware, health_router
from shared.logging import configure_logging


def create_app(settings: NotifySettings | None = None) -> FastAPI:
    """Build the notify API; templates are validated at start so a bad one stops the deploy."""
    settings = settings or get_settings()
    configure_logging("notify", level=settings.log_level, json=settings.log_json)
    load_templates(max_parts=settings.sms_max_parts)
    engine = create_engine(settings, application_name="notify")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    app = FastAPI(
        title="Tawasul notify service",
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
