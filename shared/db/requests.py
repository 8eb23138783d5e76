"""Requests, timeline, documents, idempotency keys (intake writes them; routing moves a
submitted request along its workflow: README.md, "Who writes which table")."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Identity,
    Index,
    Sequence,
    SmallInteger,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, created_at_column

REFERENCE_SEQUENCE = Sequence("request_reference_seq", metadata=Base.metadata)

IN_QUEUE = "status IN ('routed', 'in_progress', 'awaiting_resident')"
"""Requests in a department's queue: the queue index's predicate and the queue page's filter,
written out as SQL so that even a cached generic plan can see the index applies."""


class Request(Base):
    """A resident's request. Intake creates, edits and submits it and records the resident's
    own actions; routing moves it through the staff's workflow (status, transfer, SLA marks).
    Every status change goes through `shared.workflow.transition`, on the row locked."""

    __tablename__ = "requests"
    __table_args__ = (
        Index("ix_requests_resident_created", "resident_id", "created_at", "id"),
        Index("ix_requests_department_status", "department_code", "status"),
        Index("ix_requests_department_submitted", "department_code", "submitted_at"),
        # The queue page reads each department's open requests oldest first; only open ones
        # are indexed, so its size follows the backlog, not the years of closed requests.
        Index(
            "ix_requests_queue",
            "department_code",
            "submitted_at",
            "id",
            postgresql_where=text(IN_QUEUE),
        ),
        Index(
            "ix_requests_open_deadlines",
            "resolution_due_at",
            postgresql_where=text("status IN ('routed', 'in_progress') AND breached_at IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    resident_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("residents.id"))
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"))
    service_code: Mapped[str] = mapped_column(ForeignKey("service_types.code"))
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(32), default="draft", server_default="draft")
    reference: Mapped[str | None] = mapped_column(String(32), unique=True)
    version: Mapped[int] = mapped_column(default=1, server_default="1")
    submitted_at: Mapped[datetime | None]
    # Response-time targets (routing sets and watches them; time awaiting the resident is paused).
    first_response_due_at: Mapped[datetime | None]
    first_response_warn_at: Mapped[datetime | None]
    resolution_due_at: Mapped[datetime | None]
    resolution_warn_at: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    awaiting_since: Mapped[datetime | None]
    warned_at: Mapped[datetime | None]
    breached_at: Mapped[datetime | None]
    # The resident's rating of a resolved request.
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime | None]
    # Who filed it for the resident (a partner system), and the failed e-service it came from.
    partner_client_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("partner_clients.id"), index=True
    )
    origin_service: Mapped[str | None] = mapped_column(String(64))
    origin_error_code: Mapped[str | None] = mapped_column(String(64))
    origin_reference: Mapped[str | None] = mapped_column(String(128))
    origin_data: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(server_default=func.clock_timestamp())
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class RequestEvent(Base):
    """One entry of a request's timeline: who did what, when, and the status it moved between."""

    __tablename__ = "request_events"
    __table_args__ = (Index("ix_request_events_request", "request_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(48))
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str | None] = mapped_column(String(32))
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    internal: Mapped[bool] = mapped_column(default=False, server_default="false")
    data: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    created_at: Mapped[datetime] = mapped_column(server_default=func.clock_timestamp())


class ScanStatus(StrEnum):
    """What the malware scanner said about a document; only `clean` may ever be served."""

    not_scanned = "not_scanned"  # no scanner was configured (development), or before 0010
    clean = "clean"
    infected = "infected"  # for a later re-scan; an upload found infected is never recorded
    failed = "failed"  # for a later re-scan that could not finish


SCAN_STATUSES = tuple(status.value for status in ScanStatus)


class Document(Base):
    """A file attached to a request, stored in S3; type decided by its magic bytes.

    Intake writes it; routing reads it to serve staff downloads of clean documents only."""

    __tablename__ = "documents"
    __table_args__ = (
        CheckConstraint(
            "scan_status IN ('not_scanned', 'clean', 'infected', 'failed')",
            name="scan_status",
        ),
        # What the re-scan has left, oldest first (intake_service/documents/rescan.py):
        # empty in production once it has run, so it costs nothing to keep.
        Index(
            "ix_documents_not_scanned",
            "created_at",
            "id",
            postgresql_where=text("scan_status = 'not_scanned'"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    request_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("requests.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(255))
    scan_status: Mapped[str] = mapped_column(
        String(16), default=ScanStatus.not_scanned.value, server_default="not_scanned"
    )
    scanned_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()


class IdempotencyKey(Base):
    """Maps a resident's Idempotency-Key to the request it created, so retries return the same."""

    __tablename__ = "idempotency_keys"

    resident_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("residents.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = created_at_column()
