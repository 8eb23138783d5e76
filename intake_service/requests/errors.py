"""Errors of the request endpoints, with messages a resident can read."""

from __future__ import annotations

from shared.errors import AppError, Conflict, NotFound


class RequestNotFound(NotFound):
    """No such request among the caller's own (others' requests look the same: absent)."""

    code = "request_not_found"
    message_en = "Request not found."
    message_ar = "الطلب غير موجود."


class UnknownService(AppError):
    """The department/service pair is not in the active catalog."""

    status = 422
    code = "unknown_service"
    message_en = "This service is not offered by the chosen department."
    message_ar = "هذه الخدمة غير متاحة في الإدارة المختارة."


class IdempotencyKeyReused(AppError):
    """The same Idempotency-Key came with a different body."""

    status = 422
    code = "idempotency_key_reused"
    message_en = "This Idempotency-Key was already used for a different request."
    message_ar = "مفتاح عدم التكرار مستخدم سابقاً لطلب مختلف."


class InvalidIdempotencyKey(AppError):
    """The Idempotency-Key header is too long or has odd characters."""

    status = 422
    code = "invalid_idempotency_key"
    message_en = "The Idempotency-Key header must be 1 to 255 visible ASCII characters."
    message_ar = "يجب أن يتكون مفتاح عدم التكرار من 1 إلى 255 حرفاً مرئياً."


class InvalidCursor(AppError):
    """The pagination cursor was not one we issued."""

    status = 422
    code = "invalid_cursor"
    message_en = "The page cursor is invalid."
    message_ar = "مؤشر الصفحة غير صالح."


class InvalidState(Conflict):
    """The action does not fit the request's current state."""

    code = "invalid_state"

    def __init__(self, status: str, action: str) -> None:
        super().__init__(
            f"The request is '{status}', so it cannot be {action}.",
            f"لا يمكن تنفيذ هذا الإجراء لأن حالة الطلب هي «{status}».",
            extra={"current_status": status},
        )
