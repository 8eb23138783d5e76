"""Pooled connections the server closed are never handed to a request."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import event, text


async def test_a_read_after_postgres_dropped_every_intake_connection_succeeds(
    client: httpx.AsyncClient, stack: Any, sms: Any
) -> None:
    """Without a ping per checkout, a closed connection must still be noticed and replaced."""
    resident = await stack.sign_up(client, sms.ledger)
    for _ in range(3):  # fill intake's pool with connections that have served
        assert (await client.get("/v1/requests", headers=resident.auth)).status_code == 200
    async with stack.sessions() as session:
        dropped = await session.scalar(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND application_name = 'intake'"
            )
        )
    assert dropped
    await asyncio.sleep(0.2)  # the server's goodbye reaches the pooled sockets
    for _ in range(3):
        response = await client.get("/v1/requests", headers=resident.auth)
        assert response.status_code == 200, response.text


async def test_a_burst_at_the_connection_budget_opens_no_connection_per_call(stack: Any) -> None:
    """Overflow connections are closed on return, so a load that stays above the pool's size
    would fork a Postgres backend per call: every connection of the budget stays pooled."""
    db = stack.intake.state.db
    settings = stack.intake_settings
    budget = settings.db_pool_size + settings.db_max_overflow
    engine = db.engine.sync_engine
    opened: list[object] = []

    def on_connect(*args: object) -> None:
        opened.append(args)

    async def hold() -> None:
        async with db.read() as session:
            await session.execute(text("SELECT pg_sleep(0.05)"))

    await asyncio.gather(*(hold() for _ in range(budget)))  # every connection opened once
    event.listen(engine, "connect", on_connect)
    try:
        for _ in range(3):
            await asyncio.gather(*(hold() for _ in range(budget)))
    finally:
        event.remove(engine, "connect", on_connect)
    assert opened == []
