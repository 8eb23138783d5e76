"""Writes one audit entry per partner call that passes through the gateway."""

from __future__ import annotations

import json
import re
import uuid

import structlog
from fastapi import Request
from starlette.responses import Response

from gateway.db import transaction
from gateway.deps import GatewayState
from gateway.partners.service import audit
from shared.identity import Identity

log = structlog.get_logger()
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _request_id(request: Request, response: Response) -> uuid.UUID | None:
    """The request the call was about: from the path, or the `id` of what it created."""
    match = _UUID.search(request.url.path)
    if match:
        return uuid.UUID(match.group())
    if response.status_code == 201 and response.headers.get("content-type", "").startswith(
        "application/json"
    ):
        try:
            created = json.loads(bytes(response.body)).get("id")
            return uuid.UUID(str(created)) if created else None
        except (ValueError, AttributeError):
            return None
    return None


async def audit_partner_call(
    state: GatewayState, identity: Identity, request: Request, response: Response, ip: str
) -> None:
    """Append (client, action, request, outcome); a failure to audit fails the call loudly."""
    async with transaction(state.sessions) as session:
        audit(
            session,
            uuid.UUID(identity.subject),
            f"{request.method} {request.url.path}",
            response.status_code,
            ip,
            _request_id(request, response),
        )
