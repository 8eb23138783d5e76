"""One error type with a stable code, rendered as RFC 9457 problem+json in Arabic and English."""

from __future__ import annotations

from typing import Any

import asyncpg
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

PROBLEM_JSON = "application/problem+json"
# A dependency that is down or too slow: the caller may retry (503), it is not our bug (500).
DEPENDENCY_ERRORS: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    SQLAlchemyTimeoutError,
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,
    TimeoutError,
    OSError,
)
DATABASE_OUTAGES = {
    "QueryCanceledError",
    "CannotConnectNowError",
    "ConnectionDoesNotExistError",
    "ConnectionFailureError",
    "TooManyConnectionsError",
    "AdminShutdownError",
    # Contention, not a bug: a lock waited on past lock_timeout, or a deadlock broken.
    "LockNotAvailableError",
    "DeadlockDetectedError",
}
log = structlog.get_logger()


class AppError(Exception):
    """A failure the client can understand: stable code, HTTP status, messages in both languages."""

    status: int = 400
    code: str = "bad_request"
    message_en: str = "The request could not be processed."
    message_ar: str = "تعذر تنفيذ الطلب."

    def __init__(
        self,
        message_en: str | None = None,
        message_ar: str | None = None,
        *,
        status: int | None = None,
        code: str | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.message_en = message_en or self.message_en
        self.message_ar = message_ar or self.message_ar
        self.status = status or self.status
        self.code = code or self.code
        self.extra = extra or {}
        self.headers = headers or {}
        super().__init__(self.message_en)


class NotFound(AppError):
    """The thing does not exist, or the caller may not know it exists."""

    status = 404
    code = "not_found"
    message_en = "Not found."
    message_ar = "غير موجود."


class Unauthorized(AppError):
    """No valid credentials came with the call."""

    status = 401
    code = "unauthorized"
    message_en = "Sign-in is required."
    message_ar = "يلزم تسجيل الدخول."


class Forbidden(AppError):
    """The caller is known but this operation is not theirs to perform."""

    status = 403
    code = "forbidden"
    message_en = "You are not allowed to do this."
    message_ar = "غير مسموح لك بتنفيذ هذا الإجراء."


class Conflict(AppError):
    """The operation does not fit the current state of the thing."""

    status = 409
    code = "conflict"
    message_en = "The request conflicts with the current state."
    message_ar = "يتعارض الطلب مع الحالة الحالية."


class TooManyRequests(AppError):
    """A rate limit was reached; Retry-After says when to come back."""

    status = 429
    code = "rate_limited"
    message_en = "Too many attempts. Please try again later."
    message_ar = "محاولات كثيرة. يرجى المحاولة لاحقاً."


class ServiceUnavailable(AppError):
    """A dependency is down; the client may retry."""

    status = 503
    code = "service_unavailable"
    message_en = "The service is temporarily unavailable. Please try again shortly."
    message_ar = "الخدمة غير متاحة مؤقتاً. يرجى المحاولة بعد قليل."


_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    409: "Conflict",
    413: "Content Too Large",
    414: "URI Too Long",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


# Code and messages of the HTTPExceptions Starlette and our own layers raise (shared/slow_clients).
HTTP_PROBLEMS: dict[int, tuple[str, str, str]] = {
    404: ("not_found", "Not found.", "غير موجود."),
    405: ("method_not_allowed", "Method not allowed.", "الطريقة غير مسموحة."),
    408: (
        "request_timeout",
        "The request was not received in time. Please try again.",
        "لم يصل الطلب كاملاً في الوقت المحدد. يرجى المحاولة مرة أخرى.",
    ),
}


def problem(
    status: int,
    code: str,
    message_en: str,
    message_ar: str,
    *,
    instance: str | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """Build a problem+json response; `detail` carries English, `detail_ar` Arabic."""
    body: dict[str, Any] = {
        "type": f"https://tawasul.gov.sa/problems/{code.replace('_', '-')}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "code": code,
        "detail": message_en,
        "detail_ar": message_ar,
        "messages": {"en": message_en, "ar": message_ar},
    }
    if instance:
        body["instance"] = instance
    if extra:
        body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Keep location, message and type of each validation error; never echo the input back."""
    return [
        {"loc": list(err.get("loc", ())), "msg": err.get("msg", ""), "type": err.get("type", "")}
        for err in exc.errors()
    ]


def _is_outage(error: BaseException | None) -> bool:
    """Whether the driver's error (SQLAlchemy keeps asyncpg's as the cause of its own) is an
    outage or contention the caller may retry, rather than a bug."""
    while error is not None:
        if type(error).__name__ in DATABASE_OUTAGES:
            return True
        error = error.__cause__
    return False


def install_error_handlers(app: FastAPI) -> None:
    """Render every error of this app as problem+json, and unknown crashes as a logged 500."""

    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        return problem(
            exc.status,
            exc.code,
            exc.message_en,
            exc.message_ar,
            instance=request.url.path,
            extra=exc.extra,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return problem(
            422,
            "validation_error",
            "Some fields are missing or invalid.",
            "بعض الحقول مفقودة أو غير صحيحة.",
            instance=request.url.path,
            extra={"errors": _field_errors(exc)},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        default = ("http_error", str(exc.detail), "تعذر تنفيذ الطلب.")
        code, en, ar = HTTP_PROBLEMS.get(exc.status_code, default)
        return problem(
            exc.status_code,
            code,
            en,
            ar,
            instance=request.url.path,
            headers=dict(exc.headers or {}),
        )

    async def _dependency_down(request: Request, exc: Exception) -> JSONResponse:
        log.warning("http.dependency_unavailable", path=request.url.path, error=type(exc).__name__)
        return problem(
            503,
            "service_unavailable",
            ServiceUnavailable.message_en,
            ServiceUnavailable.message_ar,
            instance=request.url.path,
            headers={"Retry-After": "5"},
        )

    for kind in DEPENDENCY_ERRORS:
        app.add_exception_handler(kind, _dependency_down)

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        # Lost connections and statement timeouts are outages; anything else is our bug.
        if exc.connection_invalidated or _is_outage(exc.orig):
            return await _dependency_down(request, exc)
        return await _crash(request, exc)

    async def _driver(request: Request, exc: Exception) -> JSONResponse:
        # The same rule for asyncpg's own errors, raised where a hot path uses it directly.
        if _is_outage(exc):
            return await _dependency_down(request, exc)
        return await _crash(request, exc)

    app.add_exception_handler(asyncpg.PostgresError, _driver)
    app.add_exception_handler(asyncpg.InterfaceError, _driver)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("http.unhandled_error", path=request.url.path)
        return problem(
            500,
            "internal_error",
            "Something went wrong on our side. Please try again.",
            "حدث خطأ من جهتنا. يرجى المحاولة مرة أخرى.",
            instance=request.url.path,
        )
