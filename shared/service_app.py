"""The common shape of a service app: engine, health, problem+json errors, request IDs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import tracing
from shared.errors import install_error_handlers
from shared.fast_lane import ServiceApp
from shared.http import RequestContextMiddleware, health_router
from shared.metrics import MetricsMiddleware, metrics_endpoint
from shared.openapi import install_problem_responses
from shared.settings import CommonSettings

Check = Callable[[], Awaitable[object]]


def database_check(engine: AsyncEngine) -> Check:
    """A readiness check that Postgres answers."""

    async def check() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    return check


def create_service_app(
    *,
    title: str,
    settings: CommonSettings,
    engine: AsyncEngine,
    checks: Mapping[str, Check] | None = None,
    on_startup: Callable[[], Awaitable[None]] | None = None,
) -> FastAPI:
    """A FastAPI app that disposes `engine` on shutdown and reports `checks` on /readyz."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if on_startup is not None:
            await on_startup()
        yield
        await engine.dispose()

    app = ServiceApp(title=title, version="1.0.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.settings = settings
    install_error_handlers(app)
    install_problem_responses(app)
    app.include_router(health_router({"database": database_check(engine), **(checks or {})}))
    instrument(app, title.split()[1] if len(title.split()) > 1 else title)
    return app


def instrument(app: FastAPI, service: str) -> None:
    """/metrics, request metrics, request IDs and (when configured) traces."""
    tracing.setup(service, app)
    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)
    app.add_middleware(MetricsMiddleware)
    app.add_middleware(RequestContextMiddleware)
