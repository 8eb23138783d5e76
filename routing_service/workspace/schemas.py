"""Bodies and views of the staff workspace."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.validation import InputModel

TEXT = 4000


class _In(InputModel):
    model_config = ConfigDict(extra="forbid")


class MessageIn(_In):
    """A message to the resident (reply, request for information, resolution)."""

    message: str = Field(min_length=1, max_length=TEXT)


class ReasonIn(_In):
    """Why (rejection)."""

    reason: str = Field(min_length=1, max_length=TEXT)


class NoteIn(_In):
    """An internal note, seen by staff only."""

    text: str = Field(min_length=1, max_length=TEXT)


class TransferIn(_In):
    """Send the request to another department, with the reason."""

    department_code: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=TEXT)


class AssignIn(_In):
    """Give the request to an officer of its department (supervisors)."""

    officer_id: uuid.UUID


class DutyIn(_In):
    """An officer's availability for new requests."""

    on_duty: bool
    capacity: int | None = Field(default=None, ge=0, le=500)


class DutyOut(BaseModel):
    """An officer's availability and open load."""

    on_duty: bool
    capacity: int
    open_requests: int


class QueueItemOut(BaseModel):
    """A request in a department queue."""

    id: uuid.UUID
    reference: str | None
    status: str
    department_code: str
    service_code: str
    queue_code: str | None
    officer_id: uuid.UUID | None
    submitted_at: datetime | None
    first_response_due_at: datetime | None
    resolution_due_at: datetime | None
    breached: bool


class QueuePageOut(BaseModel):
    """A page of a queue, oldest submission first."""

    items: list[QueueItemOut]
    next_cursor: str | None


class StaffEventOut(BaseModel):
    """A timeline entry as staff see it, internal notes included."""

    type: str
    from_status: str | None
    to_status: str | None
    actor_type: str
    actor_id: str | None
    internal: bool
    at: datetime
    data: dict[str, Any]


class StaffDocumentOut(BaseModel):
    """A document's facts."""

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


class StaffRequestOut(QueueItemOut):
    """Everything staff need to work a request."""

    description: str
    resident_language: str
    version: int
    first_response_at: datetime | None
    resolved_at: datetime | None
    rating: int | None
    origin: dict[str, Any] | None = None
    documents: list[StaffDocumentOut]
    timeline: list[StaffEventOut]
