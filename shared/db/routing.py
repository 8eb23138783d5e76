"""Routing rules, officers' duty, and where each request sits (routing writes)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, created_at_column


class RoutingRule(Base):
    """Which queue a department's (or one service's) requests join, and whether to auto-assign."""

    __tablename__ = "routing_rules"
    __table_args__ = (
        Index(
            "uq_routing_rules_scope",
            "department_code",
            text("coalesce(service_code, '')"),
            unique=True,
            postgresql_where=text("active"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"), index=True)
    service_code: Mapped[str | None] = mapped_column(ForeignKey("service_types.code"))
    queue_code: Mapped[str] = mapped_column(String(64))
    auto_assign: Mapped[bool] = mapped_column(default=True, server_default="true")
    active: Mapped[bool] = mapped_column(default=True, server_default="true")
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class OfficerDuty(Base):
    """Whether an officer takes new requests now, and how many open ones they may hold."""

    __tablename__ = "officer_duty"

    staff_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True
    )
    on_duty: Mapped[bool] = mapped_column(default=False, server_default="false")
    capacity: Mapped[int] = mapped_column(default=20, server_default="20")
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


class RequestAssignment(Base):
    """A request's place in a department queue and, once assigned, its officer. Routing writes."""

    __tablename__ = "request_assignments"
    __table_args__ = (Index("ix_request_assignments_officer", "officer_id"),)

    request_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("requests.id", ondelete="CASCADE"), primary_key=True
    )
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"), index=True)
    queue_code: Mapped[str] = mapped_column(String(64))
    officer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff.id"))
    assigned_at: Mapped[datetime | None]
    routed_at: Mapped[datetime] = created_at_column()
