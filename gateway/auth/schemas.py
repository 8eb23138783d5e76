"""Bodies of the sign-up and sign-in endpoints, validated strictly (unknown fields refused)."""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gateway.auth.policy import MAX_LENGTH, RESIDENT_MIN_LENGTH, STAFF_MIN_LENGTH
from shared.validation import InputModel, mobile_field, national_id_field


class _Strict(InputModel):
    model_config = ConfigDict(extra="forbid")


class RegisterIn(_Strict):
    """A new resident account; the code goes by SMS to `phone`."""

    national_id: str = Field(examples=["1000000008"], max_length=20)
    phone: str = Field(examples=["+966501234567"], max_length=32)
    password: str = Field(min_length=RESIDENT_MIN_LENGTH, max_length=MAX_LENGTH)
    preferred_language: Literal["ar", "en"] = "ar"

    _check_id = field_validator("national_id")(national_id_field)

    _check_phone = field_validator("phone")(mobile_field)


class RegisterVerifyIn(_Strict):
    """The code that proves the phone is the resident's."""

    national_id: str = Field(max_length=20)
    code: str = Field(pattern=r"^\d{6}$")

    _check_id = field_validator("national_id")(national_id_field)


class LoginIn(_Strict):
    """First step of sign-in: ID and password."""

    national_id: str = Field(max_length=20)
    password: str = Field(min_length=1, max_length=128)

    _check_id = field_validator("national_id")(national_id_field)


class LoginVerifyIn(_Strict):
    """Second step of sign-in: the SMS code for the challenge."""

    challenge_id: uuid.UUID
    code: str = Field(pattern=r"^\d{6}$")


class RefreshIn(_Strict):
    """A refresh token to exchange for a new pair."""

    refresh_token: str = Field(min_length=20, max_length=200)


class LogoutIn(_Strict):
    """Optionally the refresh token too, so its session ends even without the access token."""

    refresh_token: str | None = Field(default=None, min_length=20, max_length=200)


class ChangePasswordIn(_Strict):
    """The current password (checked like a sign-in) and the new one.

    The new password's length rule depends on the account (gateway/auth/policy.py), so it is
    checked after the token says whose account it is, answering `weak_password`."""

    current_password: str = Field(min_length=1, max_length=MAX_LENGTH)
    new_password: str = Field(
        min_length=1,
        max_length=MAX_LENGTH,
        description=f"At least {RESIDENT_MIN_LENGTH} characters ({STAFF_MIN_LENGTH} for staff).",
    )


class CodeSentOut(BaseModel):
    """A code was sent by SMS (or, for an existing account, a notice)."""

    status: Literal["code_sent"] = "code_sent"
    phone: str = Field(description="The number the code went to, mostly masked.")
    expires_in: int


class RegisteredOut(BaseModel):
    """The account is verified and can sign in."""

    status: Literal["registered"] = "registered"
    national_id: str


class ChallengeOut(BaseModel):
    """Sign-in needs the SMS code for this challenge."""

    challenge_id: uuid.UUID
    expires_in: int
    phone: str


class TokensOut(BaseModel):
    """The token pair (OAuth 2 style)."""

    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int
