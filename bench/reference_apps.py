"""Reference ceilings kept out of the product: a constant endpoint and a raw asyncpg insert."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI


def create_constant_app() -> FastAPI:
    """GET /constant returns a fixed JSON body: the framework's own ceiling.

    It answers GET /v1/catalog the same way, so a gateway whose INTAKE_URL points here
    measures the gateway alone in front of a constant upstream."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.shutting_down = False

    @app.get("/constant")
    @app.get("/v1/catalog")
    async def constant() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def ready() -> dict[str, str]:
        return {"status": "ok"}

    return app


def create_insert_app() -> FastAPI:
    """POST /insert writes one row with raw asyncpg: the database path's ceiling."""
    dsn = os.environ["BENCH_DSN"]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.pool = await asyncpg.create_pool(dsn, min_size=10, max_size=10)
        async with app.state.pool.acquire() as conn:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS bench_rows "
                "(id bigserial PRIMARY KEY, body text NOT NULL, at timestamptz DEFAULT now())"
            )
        yield
        await app.state.pool.close()

    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.shutting_down = False

    @app.post("/insert")
    async def insert() -> dict[str, int]:
        async with app.state.pool.acquire() as conn:
            row_id: int = await conn.fetchval(
                "INSERT INTO bench_rows (body) VALUES ($1) RETURNING id", "reference"
            )
        return {"id": row_id}

    @app.get("/readyz")
    async def ready() -> dict[str, str]:
        return {"status": "ok"}

    return app
