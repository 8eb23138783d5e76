"""Bodies of the staff sign-in and staff management endpoints."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.auth.policy import MAX_LENGTH, STAFF_MIN_LENGTH
from shared.validation import InputModel, mobile_field

Role = Literal["officer", "supervisor", "admin"]
USERNAME = r"^[a-z][a-z0-9._-]{2,63}$"


class StaffLoginIn(InputModel):
    """First step of staff sign-in."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(pattern=USERNAME)
    password: str = Field(min_length=1, max_length=128)


class CreateStaffIn(InputModel):
    """A new staff account, created by an admin."""

    model_config = ConfigDict(extra="forbid")

    username: str = Field(pattern=USERNAME)
    full_name: str = Field(min_length=2, max_length=200)
    phone: str = Field(max_length=32)
    password: str = Field(min_length=STAFF_MIN_LENGTH, max_length=MAX_LENGTH)
    role: Role
    departments: list[str] = Field(default_factory=list, max_length=50)
    preferred_language: Literal["ar", "en"] = "ar"

    _check_phone = field_validator("phone")(mobile_field)


class UpdateStaffIn(InputModel):
    """Changes an admin may make; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    full_name: str | None = Field(default=None, min_length=2, max_length=200)
    phone: str | None = Field(default=None, max_length=32)
    role: Role | None = None
    departments: list[str] | None = Field(default=None, max_length=50)
    active: bool | None = None

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return None if value is None else mobile_field(value)


class StaffOut(BaseModel):
    """A staff account as admins see it (never its password)."""

    id: uuid.UUID
    username: str
    full_name: str
    phone: str
    role: Role
    departments: list[str]
    active: bool
    preferred_language: str
