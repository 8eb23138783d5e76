"""Where each submitted request was routed (routing writes)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, created_at_column


class RequestAssignment(Base):
    """A request's place in a department queue and, once claimed, its officer. Routing writes."""

    __tablename__ = "request_assignments"

    request_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("requests.id", ondelete="CASCADE"), primary_key=True
    )
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"), index=True)
    queue_code: Mapped[str] = mapped_column(String(64))
    officer_id: Mapped[uuid.UUID | None]
    routed_at: Mapped[datetime] = created_at_column()
