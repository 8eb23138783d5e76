"""Errors of the request endpoints, with messages a resident can read."""

from __future__ import annotations

from shared import pagination
from shared.errors import AppError, NotFound


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


InvalidCursor = pagination.InvalidCursor


class DescriptionRequired(AppError):
    """A request cannot be submitted without saying what is needed."""

    status = 422
    code = "description_required"
    message_en = "Please describe what you need before submitting."
    message_ar = "يرجى وصف ما تحتاجه قبل إرسال الطلب."
