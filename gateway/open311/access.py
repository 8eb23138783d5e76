"""The Open311 `api_key`: a partner client's secret, checked like the OAuth token endpoint does."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import Request
from sqlalchemy import select

from gateway.db import transaction
from gateway.deps import GatewayState, client_ip
from gateway.open311.render import Open311Error
from gateway.partners.service import audit, identity_for, secret_hash
from gateway.ratelimit import Limit
from shared.db.partners import PartnerClient, PartnerSecret
from shared.errors import TooManyRequests
from shared.identity import Identity


@dataclass(frozen=True)
class Partner:
    """The partner behind an api_key, and the identity intake will see."""

    client_id: uuid.UUID
    identity: Identity


def _missing() -> Open311Error:
    return Open311Error.one(
        403, "api_key_required", "An api_key is required.", "مفتاح الواجهة (api_key) مطلوب."
    )


def _invalid() -> Open311Error:
    return Open311Error.one(
        403, "invalid_api_key", "The api_key is not valid.", "مفتاح الواجهة (api_key) غير صالح."
    )


async def authenticate(state: GatewayState, api_key: str) -> Partner:
    """The active client whose live secret is this key (no client_id: the key is unique)."""
    if not api_key:
        raise _missing()
    async with state.sessions() as session:
        row = (
            await session.execute(
                select(PartnerClient, PartnerSecret)
                .join(PartnerSecret, PartnerSecret.client_id == PartnerClient.id)
                .where(PartnerSecret.secret_hash == secret_hash(api_key))
            )
        ).first()
        if row is None:
            raise _invalid()
        client, stored = row
        expired = stored.expires_at is not None and stored.expires_at <= datetime.now(UTC)
        if not client.active or client.revoked_at or stored.revoked_at or expired:
            raise _invalid()
        identity = await identity_for(session, client, sorted(client.scopes))
        limit = client.rate_limit_per_minute
    try:
        # The same per-minute counter the bearer-token path uses for this partner.
        await state.limiter.hit("api", str(client.id), Limit(limit, 60), fail_closed=False)
    except TooManyRequests as exc:
        error = Open311Error.one(429, exc.code, exc.message_en, exc.message_ar)
        error.headers.update(exc.headers)
        raise error from exc
    return Partner(client.id, identity)


def require_scope(partner: Partner, scope: str) -> None:
    """403 unless the partner holds `scope`."""
    if scope not in partner.identity.scopes:
        raise Open311Error.one(
            403,
            "insufficient_scope",
            f"This call needs the '{scope}' scope.",
            f"يتطلب هذا الإجراء صلاحية «{scope}».",
        )


async def record(
    state: GatewayState,
    partner: Partner,
    request: Request,
    outcome: int,
    request_id: uuid.UUID | None,
) -> None:
    """One partner audit entry (never the query string: it carries the api_key)."""
    ip = client_ip(request, state.settings.trusted_proxy_hops)
    async with transaction(state.sessions) as session:
        audit(
            session,
            partner.client_id,
            f"{request.method} {request.url.path}",
            outcome,
            ip,
            request_id,
        )
