"""Pooled connections the server closed are never handed to a request."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import text


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
