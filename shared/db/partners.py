"""Partner government systems: clients, their secrets, and the audit of their calls (gateway)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Identity, Index, LargeBinary, SmallInteger, String
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, created_at_column


class PartnerClient(Base):
    """An OAuth2 client of another government system; written by the gateway only."""

    __tablename__ = "partner_clients"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    agencies: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list)
    departments: Mapped[list[str]] = mapped_column(ARRAY(String(64)), default=list)
    rate_limit_per_minute: Mapped[int] = mapped_column(default=600, server_default="600")
    active: Mapped[bool] = mapped_column(default=True, server_default="true")
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()


class PartnerSecret(Base):
    """One client secret, kept as SHA-256 only; an old one lives on until `expires_at`."""

    __tablename__ = "partner_secrets"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    client_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("partner_clients.id", ondelete="CASCADE"), index=True
    )
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()


class PartnerAudit(Base):
    """Every partner call: who, what, which request, how it ended. Append-only (a trigger)."""

    __tablename__ = "partner_audit"
    __table_args__ = (Index("ix_partner_audit_client_at", "client_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    client_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partner_clients.id"))
    action: Mapped[str] = mapped_column(String(200))
    request_id: Mapped[uuid.UUID | None]
    outcome: Mapped[int] = mapped_column(SmallInteger)
    client_ip: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = created_at_column()
