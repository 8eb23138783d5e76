"""Declarative base with a constraint naming convention so Alembic migrations stay stable."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import DateTime, MetaData, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base of every ORM model; relationships are loaded explicitly, never lazily."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Fetch server-side defaults and onupdate values with RETURNING, so no attribute is left
    # expired after a flush (an expired attribute cannot load lazily under asyncio).
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012 - read by SQLAlchemy, never mutated
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: DateTime(timezone=True)}


def created_at_column() -> Mapped[datetime]:
    """A creation time stamped by Postgres, so every writer agrees on the clock."""
    return mapped_column(server_default=func.now(), nullable=False)
