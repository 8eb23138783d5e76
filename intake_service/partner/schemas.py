"""Bodies of the partner endpoints."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from intake_service.requests.schemas import MAX_DESCRIPTION, CreateRequestIn
from shared.validation import InputModel, mobile_field, national_id_field


class ResidentRef(BaseModel):
    """The resident a partner acts for: national ID and the phone registered with it."""

    model_config = ConfigDict(extra="forbid")

    national_id: str = Field(max_length=20)
    phone: str = Field(max_length=32)

    _check_id = field_validator("national_id")(national_id_field)
    _check_phone = field_validator("phone")(mobile_field)


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


class HandoffIn(InputModel):
    """Open a pre-filled draft for a resident whose e-service transaction failed."""

    model_config = ConfigDict(extra="forbid")

    resident: ResidentRef
    department_code: str = Field(min_length=1, max_length=64)
    service_code: str = Field(min_length=1, max_length=64)
    origin: Origin
    description: str = Field(default="", max_length=MAX_DESCRIPTION)
