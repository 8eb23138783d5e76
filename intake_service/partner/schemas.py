"""Bodies of the partner endpoints."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from intake_service.requests.schemas import MAX_DESCRIPTION, CreateRequestIn
from shared.validation import is_valid_national_id, normalize_digits, normalize_saudi_mobile


class ResidentRef(BaseModel):
    """The resident a partner acts for: national ID and the phone registered with it."""

    model_config = ConfigDict(extra="forbid")

    national_id: str = Field(max_length=20)
    phone: str = Field(max_length=32)

    @field_validator("national_id")
    @classmethod
    def _id(cls, value: str) -> str:
        text = normalize_digits(value)
        if not is_valid_national_id(text):
            raise ValueError("national_id must be 10 digits, start with 1 or 2, and pass the check")
        return text

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        phone = normalize_saudi_mobile(value)
        if phone is None:
            raise ValueError("phone must be a Saudi mobile number (+9665XXXXXXXX)")
        return phone


class PartnerRequestIn(CreateRequestIn):
    """A request filed on a resident's behalf."""

    resident: ResidentRef


class Origin(BaseModel):
    """The failed e-service transaction a hand-off comes from."""

    model_config = ConfigDict(extra="forbid")

    service: str = Field(min_length=1, max_length=64, examples=["absher.exit_reentry"])
    error_code: str = Field(min_length=1, max_length=64, examples=["EXR-1043"])
    transaction_reference: str = Field(min_length=1, max_length=128)
    data: dict[str, Any] = Field(default_factory=dict, description="What the resident entered.")

    @field_validator("data")
    @classmethod
    def _small(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(str(value)) > 8000:
            raise ValueError("data must stay under 8,000 characters")
        return value


class HandoffIn(BaseModel):
    """Open a pre-filled draft for a resident whose e-service transaction failed."""

    model_config = ConfigDict(extra="forbid")

    resident: ResidentRef
    department_code: str = Field(min_length=1, max_length=64)
    service_code: str = Field(min_length=1, max_length=64)
    origin: Origin
    description: str = Field(default="", max_length=MAX_DESCRIPTION)
