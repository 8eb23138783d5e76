"""Forwards a resident's call to a service with a signed identity; never passes client identity."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import httpx
import structlog
from fastapi import Request
from starlette.responses import Response

from shared import tracing
from shared.errors import problem
from shared.identity import IDENTITY_HEADER, REQUEST_ID_HEADER, Identity, sign_identity

log = structlog.get_logger()

# Hop-by-hop headers (RFC 9110 §7.6.1) and anything that could carry identity from the client.
_DROP_REQUEST = {
    "host",
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "authorization",
    "cookie",
    IDENTITY_HEADER,
    "x-forwarded-for",
    "traceparent",  # replaced by the gateway's own span context when tracing is on
    "tracestate",
    "x-forwarded-host",
    "x-forwarded-proto",
    "x-real-ip",
    REQUEST_ID_HEADER,
}
_DROP_RESPONSE = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "content-encoding",
    "server",
    "date",
    REQUEST_ID_HEADER,
}


class Forwarder:
    """One pooled HTTP client per upstream, reused for every call."""

    def __init__(
        self,
        base_url: str,
        secret: bytes,
        *,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
        kind: str = "httpx",
    ) -> None:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=100)
        if transport is None and kind == "aiohttp":
            # httpx's API over aiohttp's connection handling: far less CPU per forwarded call.
            from httpx_aiohttp import AiohttpTransport

            transport = AiohttpTransport(limits=limits)
        self._client = httpx.AsyncClient(
            base_url=base_url,
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=2.0),
            limits=limits,
        )
        self._secret = secret
        self._deadline = timeout

    async def aclose(self) -> None:
        """Close the pool."""
        await self._client.aclose()

    async def get_json(self, path: str) -> object:
        """GET a JSON document from the upstream (OpenAPI merging)."""
        response = await self._client.get(path)
        response.raise_for_status()
        return response.json()

    async def call(
        self,
        method: str,
        path: str,
        identity: Identity,
        *,
        json: object | None = None,
        params: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """One call of the gateway's own on `identity`'s behalf; raises httpx/timeout errors."""
        headers = {IDENTITY_HEADER: sign_identity(identity, self._secret), **tracing.carrier()}
        request_id = structlog.contextvars.get_contextvars().get("request_id")
        if request_id:
            headers[REQUEST_ID_HEADER] = str(request_id)
        async with asyncio.timeout(self._deadline):
            return await self._client.request(
                method, path, json=json, params=params, headers=headers
            )

    async def forward(
        self, request: Request, identity: Identity | None, *, client_ip: str
    ) -> Response:
        """Send the call on; 502/503/504 problems when the service cannot answer."""
        headers = [
            (name, value)
            for name, value in request.headers.items()
            if name.lower() not in _DROP_REQUEST
        ]
        headers.append(("x-forwarded-for", client_ip))
        request_id = structlog.contextvars.get_contextvars().get("request_id")
        if request_id:  # the ID the gateway accepted or made, so every log line can be joined
            headers.append((REQUEST_ID_HEADER, str(request_id)))
        if identity is not None:
            headers.append((IDENTITY_HEADER, sign_identity(identity, self._secret)))
        # The aiohttp transport is not instrumented: pass the trace on ourselves.
        headers.extend(tracing.carrier().items())
        body = await request.body()
        path = request.url.path
        if request.url.query:
            path = f"{path}?{request.url.query}"
        try:
            async with asyncio.timeout(self._deadline):
                upstream = await self._client.request(
                    request.method, path, content=body, headers=headers
                )
        except (httpx.ConnectError, httpx.RemoteProtocolError) as exc:
            log.warning("gateway.upstream_unavailable", error=type(exc).__name__)
            return problem(
                503,
                "service_unavailable",
                "The service is temporarily unavailable. Please try again shortly.",
                "الخدمة غير متاحة مؤقتاً. يرجى المحاولة بعد قليل.",
                instance=request.url.path,
                headers={"Retry-After": "5"},
            )
        except (TimeoutError, httpx.TimeoutException):
            log.warning("gateway.upstream_timeout", path=request.url.path)
            return problem(
                504,
                "upstream_timeout",
                "The service took too long to answer. Please try again.",
                "استغرقت الخدمة وقتاً طويلاً للرد. يرجى المحاولة مرة أخرى.",
                instance=request.url.path,
            )
        response_headers = {
            name: value
            for name, value in upstream.headers.items()
            if name.lower() not in _DROP_RESPONSE
        }
        return Response(
            content=upstream.content, status_code=upstream.status_code, headers=response_headers
        )
