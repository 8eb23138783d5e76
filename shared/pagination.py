"""Opaque keyset cursors: a timestamp and an ID, so pages stay stable while rows are added."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime

from shared.errors import AppError


class InvalidCursor(AppError):
    """The pagination cursor was not one we issued."""

    status = 422
    code = "invalid_cursor"
    message_en = "The page cursor is invalid."
    message_ar = "مؤشر الصفحة غير صالح."


def encode_cursor(moment: datetime, row_id: uuid.UUID) -> str:
    """Cursor pointing just past the row with this sort time and ID."""
    raw = f"{moment.isoformat()}|{row_id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """Inverse of encode_cursor; anything else is an InvalidCursor."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment_text, row_id = raw.split("|", 1)
        moment = datetime.fromisoformat(moment_text)
        if moment.tzinfo is None:
            raise ValueError("naive time")
        return moment, uuid.UUID(row_id)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidCursor() from exc
