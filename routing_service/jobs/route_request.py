"""route_request: put a submitted request in its queue, once, and tell the resident."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from routing_service.routing.service import route
from shared.queue.outbox import give_up, lock_pending, settle


async def route_request(ctx: dict[str, Any], outbox_id: str) -> str:
    """arq job: settle the outbox row together with the routing it asked for."""
    sessions: async_sessionmaker[AsyncSession] = ctx["sessions"]
    async with sessions() as session, session.begin():
        message = await lock_pending(session, outbox_id)
        if message is None:
            return "skipped"
        try:
            request_id = uuid.UUID(str(message.payload.get("request_id")))
        except ValueError:
            give_up(message, "payload has no valid request_id")
            return "invalid"
        outcome = await route(session, request_id)
        if outcome == "missing":
            give_up(message, f"request {request_id} does not exist")
        else:
            settle(message)
        return outcome
