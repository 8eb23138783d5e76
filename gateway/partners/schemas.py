"""Bodies of the partner administration endpoints and the token answer."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.validation import InputModel

Scope = Literal["catalog:read", "requests:read", "requests:write", "webhooks:manage"]
SCOPES: tuple[str, ...] = ("catalog:read", "requests:read", "requests:write", "webhooks:manage")


class CreatePartnerIn(InputModel):
    """A partner system an admin registers."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=2, max_length=200)
    scopes: list[Scope] = Field(min_length=1)
    agencies: list[str] = Field(default_factory=list, max_length=20)
    departments: list[str] = Field(default_factory=list, max_length=50)
    rate_limit_per_minute: int = Field(default=600, ge=1, le=100_000)


class RotateIn(InputModel):
    """How long the old secrets keep working after a new one is issued."""

    model_config = ConfigDict(extra="forbid")

    overlap_seconds: int = Field(default=86_400, ge=0, le=30 * 86_400)


class PartnerOut(BaseModel):
    """A partner client as admins see it (never a secret)."""

    id: uuid.UUID
    client_id: str
    name: str
    scopes: list[str]
    agencies: list[str]
    departments: list[str]
    rate_limit_per_minute: int
    active: bool
    created_at: datetime


class SecretOut(BaseModel):
    """A new client secret: shown this once, stored only as a hash."""

    client_id: str
    client_secret: str
    old_secrets_expire_at: datetime | None = None


class CreatedPartnerOut(PartnerOut):
    """The registered partner with its first secret."""

    client_secret: str


class AuditOut(BaseModel):
    """One audited partner call."""

    model_config = ConfigDict(from_attributes=True)

    action: str
    request_id: uuid.UUID | None
    outcome: int
    client_ip: str
    at: datetime


class TokenOut(BaseModel):
    """RFC 6749 §5.1."""

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int
    scope: str
