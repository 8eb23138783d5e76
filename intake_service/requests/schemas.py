"""Request payloads and responses; inputs forbid unknown fields so nothing else can be set."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.validation import InputModel

MAX_DESCRIPTION = 4000


def clean_description(value: str) -> str:
    """Trim, and refuse text that is empty or carries control characters."""
    text = value.strip()
    if not text:
        raise ValueError("description must not be blank")
    if any(ord(ch) < 32 and ch not in "\n\r\t" for ch in text):
        raise ValueError("description must not contain control characters")
    return text


class CreateRequestIn(InputModel):
    """A new draft: which department and service, and what the resident needs."""

    model_config = ConfigDict(extra="forbid")

    department_code: str = Field(min_length=1, max_length=64, examples=["visas"])
    service_code: str = Field(min_length=1, max_length=64, examples=["final_exit"])
    description: str = Field(
        min_length=1,
        max_length=MAX_DESCRIPTION,
        description="What the resident needs, in Arabic or English (up to 4,000 characters).",
    )

    _clean = field_validator("description")(clean_description)


class RespondIn(InputModel):
    """The resident's answer to a request for information (documents go up beforehand)."""

    model_config = ConfigDict(extra="forbid")

    message: str = Field(min_length=1, max_length=MAX_DESCRIPTION)


class EditDraftIn(InputModel):
    """A draft's new description."""

    model_config = ConfigDict(extra="forbid")

    description: str = Field(min_length=1, max_length=MAX_DESCRIPTION)

    _clean = field_validator("description")(clean_description)


class WithdrawIn(InputModel):
    """Why the resident withdraws (optional)."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=1000)


class RatingIn(InputModel):
    """The resident's rating of a resolved request."""

    model_config = ConfigDict(extra="forbid")

    score: int = Field(ge=1, le=5)
    comment: str | None = Field(default=None, max_length=1000)


class Label(BaseModel):
    """A status label in both languages."""

    ar: str
    en: str


class NamedRef(BaseModel):
    """A department or service as shown beside a request."""

    code: str
    name_ar: str
    name_en: str


class ServiceRef(NamedRef):
    """A service with its response-time target."""

    response_time_hours: int


class DocumentOut(BaseModel):
    """A stored document's facts (the file itself stays in S3)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    scan_status: str = Field(
        description="not_scanned, clean, infected or failed; only clean documents are served"
    )
    created_at: datetime


class TimelineEventOut(BaseModel):
    """One step in the request's history."""

    type: str
    from_status: str | None
    to_status: str | None
    actor_type: str
    at: datetime
    data: dict[str, Any] = Field(default_factory=dict)


class RequestSummaryOut(BaseModel):
    """A request in the resident's list."""

    id: uuid.UUID
    reference: str | None
    status: str
    status_label: Label
    department_code: str
    service_code: str
    created_at: datetime
    submitted_at: datetime | None


class RequestOut(BaseModel):
    """A request with everything the resident may see of it."""

    id: uuid.UUID
    reference: str | None
    status: str
    status_label: Label
    department: NamedRef
    service: ServiceRef
    description: str
    documents: list[DocumentOut]
    timeline: list[TimelineEventOut]
    created_at: datetime
    submitted_at: datetime | None
    updated_at: datetime
    rating: int | None = None
    origin: dict[str, Any] | None = Field(
        default=None, description="The failed e-service transaction this request came from."
    )


class RequestPageOut(BaseModel):
    """A page of the resident's requests, newest first; pass next_cursor for the next page."""

    items: list[RequestSummaryOut]
    next_cursor: str | None
