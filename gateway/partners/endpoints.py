"""/v1/oauth/token (client credentials) and /v1/admin/partners (admins)."""

from __future__ import annotations

import base64
import binascii
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy import select

from gateway.db import transaction
from gateway.deps import GatewayState, client_ip, get_state
from gateway.partners import service
from gateway.partners.schemas import (
    AuditOut,
    CreatedPartnerOut,
    CreatePartnerIn,
    PartnerOut,
    RotateIn,
    SecretOut,
    TokenOut,
)
from gateway.ratelimit import Limit
from gateway.staff.endpoints import Admin
from shared.db.partners import PartnerAudit, PartnerClient
from shared.validation import StorableText

router = APIRouter(tags=["partners"])
State = Annotated[GatewayState, Depends(get_state)]


def _out(client: PartnerClient) -> PartnerOut:
    return PartnerOut(
        id=client.id,
        client_id=client.client_id,
        name=client.name,
        scopes=client.scopes,
        agencies=client.agencies,
        departments=client.departments,
        rate_limit_per_minute=client.rate_limit_per_minute,
        active=client.active,
        created_at=client.created_at,
    )


def _credentials(request: Request, form: dict[str, str]) -> tuple[str, str]:
    """client_id and secret from HTTP Basic (RFC 6749 §2.3.1) or the form body."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
            client_id, _, secret = decoded.partition(":")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise service.invalid_client() from exc
        return client_id, secret
    return form.get("client_id", ""), form.get("client_secret", "")


# The form is read by hand (the client may authenticate by Basic instead), so FastAPI cannot
# see it: documented here, or clients and the schema fuzzer would not know the body.
TOKEN_FORM = {
    "required": True,
    "content": {
        "application/x-www-form-urlencoded": {
            "schema": {
                "type": "object",
                "required": ["grant_type"],
                "properties": {
                    "grant_type": {"type": "string", "enum": ["client_credentials"]},
                    "client_id": {"type": "string"},
                    "client_secret": {"type": "string"},
                    "scope": {"type": "string", "description": "Space-separated subset."},
                },
            }
        }
    },
}


@router.post(
    "/v1/oauth/token",
    response_model=TokenOut,
    summary="OAuth2 client credentials",
    openapi_extra={"requestBody": TOKEN_FORM},
)
async def token(request: Request, state: State) -> TokenOut:
    """grant_type=client_credentials; scope optional (a subset of the client's)."""
    ip = client_ip(request, state.settings.trusted_proxy_hops)
    await state.limiter.hit(
        "oauth-ip", ip, Limit(state.settings.login_per_ip_per_minute * 6, 60), fail_closed=True
    )
    form = {key: str(value) for key, value in (await request.form()).items()}
    if form.get("grant_type") != "client_credentials":
        raise service.OAuthError(
            "unsupported_grant_type",
            400,
            "Only grant_type=client_credentials is supported.",
            "نوع المنح المدعوم هو client_credentials فقط.",
        )
    client_id, secret = _credentials(request, form)
    async with transaction(state.sessions) as session:
        client, stored = await service.authenticate(session, client_id, secret)
        scopes = service.granted_scopes(client, form.get("scope"))
        identity = await service.identity_for(session, client, scopes)
        service.audit(session, client.id, "oauth.token", 200, ip)
    access = state.issuer.issue(identity, str(stored.id), rate_limit=client.rate_limit_per_minute)
    return TokenOut(access_token=access, expires_in=state.issuer.ttl, scope=" ".join(scopes))


@router.post("/v1/admin/partners", status_code=201, response_model=CreatedPartnerOut)
async def register(body: CreatePartnerIn, state: State, _: Admin) -> CreatedPartnerOut:
    """Register a partner; its secret is shown in this answer only."""
    async with transaction(state.sessions) as session:
        client, secret = await service.register(session, body)
        return CreatedPartnerOut(**_out(client).model_dump(), client_secret=secret)


@router.get("/v1/admin/partners", response_model=list[PartnerOut])
async def list_partners(state: State, _: Admin) -> list[PartnerOut]:
    """Every partner client."""
    async with state.sessions() as session:
        clients = await session.scalars(select(PartnerClient).order_by(PartnerClient.name))
        return [_out(c) for c in clients]


@router.post("/v1/admin/partners/{client_id}/secrets", status_code=201, response_model=SecretOut)
async def rotate(
    client_id: StorableText, state: State, _: Admin, body: RotateIn | None = None
) -> SecretOut:
    """A new secret; older ones and their tokens keep working for the overlap, then stop."""
    overlap = timedelta(seconds=(body or RotateIn()).overlap_seconds)
    async with transaction(state.sessions) as session:
        client = await service.by_client_id(session, client_id, lock=True)
        secret, until, ending = await service.rotate(session, client, overlap)
        # Before the commit: if Redis cannot record the end, the rotation is not made (503),
        # rather than made with the old secret's tokens living on.
        for secret_id in ending:
            await state.guard.revoke_session(str(secret_id), at=until.timestamp())
    return SecretOut(client_id=client_id, client_secret=secret, old_secrets_expire_at=until)


@router.post("/v1/admin/partners/{client_id}/revoke", response_model=PartnerOut)
async def revoke(client_id: StorableText, state: State, _: Admin) -> PartnerOut:
    """Switch the partner off now: no new tokens, and its live tokens stop working at once."""
    async with transaction(state.sessions) as session:
        client = await service.by_client_id(session, client_id, lock=True)
        secret_ids = await service.revoke(session, client)
    for secret_id in secret_ids:
        await state.guard.revoke_session(str(secret_id))
    return _out(client)


@router.get("/v1/admin/partners/{client_id}/audit", response_model=list[AuditOut])
async def audit_log(
    client_id: StorableText,
    state: State,
    _: Admin,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AuditOut]:
    """The partner's calls, newest first."""
    async with state.sessions() as session:
        client = await service.by_client_id(session, client_id)
        rows = await session.scalars(
            select(PartnerAudit)
            .where(PartnerAudit.client_id == client.id)
            .order_by(PartnerAudit.id.desc())
            .limit(limit)
        )
        return [AuditOut.model_validate(r) for r in rows]
