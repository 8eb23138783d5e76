"""HTTP pieces every service mounts: health and readiness, request IDs, body limits, identity."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog
from fastapi import APIRouter, Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import Forbidden, Unauthorized, problem
from shared.identity import (
    IDENTITY_HEADER,
    REQUEST_ID_HEADER,
    Identity,
    InvalidIdentity,
    PrincipalKind,
    verify_identity,
)

Check = Callable[[], Awaitable[Any]]
log = structlog.get_logger()


def health_router(checks: Mapping[str, Check], *, timeout: float = 2.0) -> APIRouter:
    """`/healthz` says the process lives; `/readyz` says every dependency answers in time."""
    router = APIRouter(include_in_schema=False)

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        if getattr(request.app.state, "shutting_down", False):
            return JSONResponse({"status": "shutting_down"}, status_code=503)
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                async with asyncio.timeout(timeout):
                    await check()
                results[name] = "ok"
            except Exception as exc:  # a readiness probe reports, it does not raise
                results[name] = f"failed: {type(exc).__name__}"
        ready = all(value == "ok" for value in results.values())
        return JSONResponse(
            {"status": "ok" if ready else "unavailable", "checks": results},
            status_code=200 if ready else 503,
        )

    return router


class RequestContextMiddleware:
    """Binds the caller's (or a new) request ID to logs and echoes it on the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                request_id = value.decode("latin-1")[:64]
                break
        if not request_id or not request_id.replace("-", "").isalnum():
            request_id = secrets.token_hex(16)  # as uuid4().hex reads, for half the CPU
        structlog.contextvars.bind_contextvars(request_id=request_id)
        raw_id = request_id.encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", raw_id)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")


MAX_HEADER_BYTES = 32 * 1024
"""Most header bytes a request may carry, as nginx's default large_client_header_buffers
(4 × 8 KiB). uvicorn's httptools parser sets no limit of its own: a 1 MiB header reached the
app (checklist #34)."""


class BodyLimitMiddleware:
    """Refuses bodies over `max_bytes` with 413 before they are buffered (Starlette won't),
    headers over `max_header_bytes` in all with 431, and a query string that is not UTF-8
    with 400: what the app could not read is answered before it tries."""

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, max_header_bytes: int = MAX_HEADER_BYTES
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        received = 0
        max_bytes = self.max_bytes

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await self._too_large(scope)(scope, receive, send)

    def _refusal(self, scope: Scope) -> JSONResponse | None:
        """The problem for a request decided on its head alone, before the app reads it."""
        header_bytes = 0
        for name, value in scope["headers"]:
            header_bytes += len(name) + len(value)
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                return self._too_large(scope)
        query = scope.get("query_string", b"")
        if not query.isascii() and not _is_utf8(query):
            # Starlette decodes the query as UTF-8 and would raise: a 500 for bad input.
            return problem(
                400,
                "malformed_query",
                "The query string is not valid UTF-8.",
                "نص الاستعلام ليس بترميز UTF-8 صالح.",
                instance=scope.get("path"),
            )
        if header_bytes > self.max_header_bytes:
            return problem(
                431,
                "headers_too_large",
                f"The request headers are larger than {self.max_header_bytes} bytes.",
                f"حجم ترويسات الطلب أكبر من الحد المسموح ({self.max_header_bytes} بايت).",
                instance=scope.get("path"),
            )
        return None

    def _too_large(self, scope: Scope) -> JSONResponse:
        return problem(
            413,
            "body_too_large",
            f"The request body is larger than {self.max_bytes} bytes.",
            f"حجم الطلب أكبر من الحد المسموح ({self.max_bytes} بايت).",
            instance=scope.get("path"),
        )


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode()
    except UnicodeDecodeError:
        return False
    return True


class _BodyTooLarge(Exception):
    """Raised inside the app when the streamed body passes the limit."""


def identity_from(request: Request, secret: bytes) -> Identity:
    """The gateway-signed identity of this call, or 401."""
    header = request.headers.get(IDENTITY_HEADER)
    if not header:
        raise Unauthorized()
    try:
        return verify_identity(header, secret)
    except InvalidIdentity as exc:
        log.warning("auth.identity_rejected", reason=str(exc))
        raise Unauthorized() from exc


def require_resident(identity: Identity) -> Identity:
    """Only residents may use resident endpoints; staff and partners get 403."""
    if identity.kind is not PrincipalKind.resident:
        raise Forbidden()
    return identity


__all__ = [
    "IDENTITY_HEADER",
    "REQUEST_ID_HEADER",
    "BodyLimitMiddleware",
    "RequestContextMiddleware",
    "health_router",
    "identity_from",
    "require_resident",
]
