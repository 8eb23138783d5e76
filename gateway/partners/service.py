"""Partner rules: secrets as hashes, rotation with overlap, revocation, scopes, the audit."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.partners.schemas import SCOPES, CreatePartnerIn
from shared.db.catalog import Agency, Department
from shared.db.partners import PartnerAudit, PartnerClient, PartnerSecret
from shared.errors import AppError, NotFound
from shared.identity import Identity, PrincipalKind


class OAuthError(AppError):
    """An RFC 6749 §5.2 error; the body also carries `error` for OAuth clients."""

    def __init__(self, error: str, status: int, en: str, ar: str) -> None:
        headers = {"WWW-Authenticate": 'Basic realm="tawasul"'} if status == 401 else None
        super().__init__(
            en,
            ar,
            status=status,
            code=error,
            extra={"error": error, "error_description": en},
            headers=headers,
        )


def invalid_client() -> OAuthError:
    """Unknown client, wrong or expired secret, or a revoked client."""
    return OAuthError(
        "invalid_client", 401, "Client authentication failed.", "فشل التحقق من هوية النظام الشريك."
    )


class PartnerNotFound(NotFound):
    """No such partner client."""

    code = "partner_not_found"


class UnknownScopeTarget(AppError):
    """An agency or department the catalog does not have."""

    status = 422
    code = "unknown_scope_target"
    message_en = "An agency or department in the scope does not exist."
    message_ar = "جهة أو إدارة في النطاق غير موجودة."


def secret_hash(secret: str) -> bytes:
    """SHA-256 of a 256-bit secret (a plain hash suffices for that much entropy)."""
    return hashlib.sha256(secret.encode()).digest()


def new_secret() -> str:
    """A client secret with 256 bits of randomness."""
    return "tws_" + secrets.token_urlsafe(32)


async def _check_targets(session: AsyncSession, body: CreatePartnerIn) -> None:
    for model, codes in ((Agency, body.agencies), (Department, body.departments)):
        if codes:
            found = set(await session.scalars(select(model.code).where(model.code.in_(codes))))
            if found != set(codes):
                raise UnknownScopeTarget(extra={"unknown": sorted(set(codes) - found)})


async def register(session: AsyncSession, body: CreatePartnerIn) -> tuple[PartnerClient, str]:
    """A new client and its first secret (returned once, stored as a hash)."""
    await _check_targets(session, body)
    client = PartnerClient(
        id=uuid.uuid4(),
        client_id="ptn_" + secrets.token_hex(8),
        name=body.name,
        scopes=sorted(set(body.scopes)),
        agencies=sorted(set(body.agencies)),
        departments=sorted(set(body.departments)),
        rate_limit_per_minute=body.rate_limit_per_minute,
    )
    session.add(client)
    await session.flush()
    secret = new_secret()
    session.add(PartnerSecret(client_id=client.id, secret_hash=secret_hash(secret)))
    await session.flush()
    return client, secret


async def by_client_id(
    session: AsyncSession, client_id: str, *, lock: bool = False
) -> PartnerClient:
    """The client with this public client_id, or 404."""
    query = select(PartnerClient).where(PartnerClient.client_id == client_id)
    if lock:
        query = query.with_for_update()
    client = await session.scalar(query)
    if client is None:
        raise PartnerNotFound()
    return client


async def rotate(
    session: AsyncSession, client: PartnerClient, overlap: timedelta
) -> tuple[str, datetime, list[uuid.UUID]]:
    """Issue a new secret; every older live secret, and its tokens, stop after the overlap.

    Returns the IDs of the secrets whose end moved to the overlap's end (their tokens carry
    them as the session), so the caller can end those tokens then too."""
    now = datetime.now(UTC)
    until = now + overlap
    rows = await session.execute(
        update(PartnerSecret)
        .where(
            PartnerSecret.client_id == client.id,
            PartnerSecret.revoked_at.is_(None),
            or_(PartnerSecret.expires_at.is_(None), PartnerSecret.expires_at > until),
        )
        .values(expires_at=until)
        .returning(PartnerSecret.id)
    )
    ending = [row[0] for row in rows]
    secret = new_secret()
    session.add(PartnerSecret(client_id=client.id, secret_hash=secret_hash(secret)))
    await session.flush()
    return secret, until, ending


async def revoke(session: AsyncSession, client: PartnerClient) -> list[uuid.UUID]:
    """Switch the client off; returns its secrets' IDs so their tokens die at once too."""
    now = datetime.now(UTC)
    client.active = False
    client.revoked_at = now
    rows = await session.execute(
        update(PartnerSecret)
        .where(PartnerSecret.client_id == client.id, PartnerSecret.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(PartnerSecret.id)
    )
    return [row[0] for row in rows]


async def authenticate(
    session: AsyncSession, client_id: str, secret: str
) -> tuple[PartnerClient, PartnerSecret]:
    """The active client and the live secret that matches, or invalid_client."""
    row = (
        await session.execute(
            select(PartnerClient, PartnerSecret)
            .join(PartnerSecret, PartnerSecret.client_id == PartnerClient.id)
            .where(PartnerSecret.secret_hash == secret_hash(secret))
        )
    ).first()
    now = datetime.now(UTC)
    if row is None:
        raise invalid_client()
    client, stored = row
    expired = stored.expires_at is not None and stored.expires_at <= now
    if client.client_id != client_id or not client.active or stored.revoked_at or expired:
        raise invalid_client()
    return client, stored


def granted_scopes(client: PartnerClient, requested: str | None) -> list[str]:
    """The scopes asked for (space-separated), which must all be the client's; default all."""
    if not requested:
        return list(client.scopes)
    asked = requested.split()
    if any(scope not in client.scopes or scope not in SCOPES for scope in asked):
        raise OAuthError(
            "invalid_scope",
            400,
            "A requested scope is not granted to this client.",
            "أحد النطاقات المطلوبة غير ممنوح لهذا النظام.",
        )
    return sorted(set(asked))


async def identity_for(session: AsyncSession, client: PartnerClient, scopes: list[str]) -> Identity:
    """The partner's identity: scopes, and the departments its agencies and departments cover."""
    departments = set(client.departments)
    if client.agencies:
        departments |= set(
            await session.scalars(
                select(Department.code).where(Department.agency_code.in_(client.agencies))
            )
        )
    return Identity(
        subject=str(client.id),
        kind=PrincipalKind.partner,
        language="ar",
        scopes=tuple(scopes),
        departments=tuple(sorted(departments)),
    )


def audit(
    session: AsyncSession,
    client_id: uuid.UUID,
    action: str,
    outcome: int,
    client_ip: str,
    request_id: uuid.UUID | None = None,
) -> None:
    """Append one entry to the audit log (the database refuses edits and deletes)."""
    session.add(
        PartnerAudit(
            client_id=client_id,
            action=action[:200],
            request_id=request_id,
            outcome=outcome,
            client_ip=client_ip,
        )
    )
