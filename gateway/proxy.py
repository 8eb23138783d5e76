"""Forwards a resident's call to a service with a signed identity; never passes client identity."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from urllib.parse import quote, urlsplit

import aiohttp
import httpx
import structlog
from fastapi import Request
from starlette.requests import ClientDisconnect
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from gateway.upstream import UpstreamPool, UpstreamUnavailable
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
_DROP_REQUEST_RAW = frozenset(name.encode("latin-1") for name in _DROP_REQUEST)
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

# aiohttp and httpx decompress an answer and so drop its content-encoding; the lean client
# passes the bytes on as they came, so the header goes on with them.
_DROP_RESPONSE_UNDECODED = frozenset(_DROP_RESPONSE - {"content-encoding"})

# What stays as it is when the path is encoded again; everything else (?, #, %, spaces,
# control and non-ASCII characters) goes on percent-encoded. "/" stays: the upstream decodes
# %2F to "/" in its routing exactly as the gateway did, so nothing routes differently.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
# What goes on the request line as it is: printable ASCII. The rest of a target (a query's
# non-ASCII characters) goes percent-encoded as UTF-8, as aiohttp's URL handling sends it.
_TARGET_SAFE = "".join(chr(code) for code in range(0x21, 0x7F))


@dataclass(slots=True)
class Answer:
    """An upstream's answer as the gateway passes it on."""

    status: int
    headers: dict[str, str]
    content: bytes

    def raw_headers(self) -> list[tuple[bytes, bytes]]:
        """The headers exactly as `Response(content, status, headers)` sends them."""
        raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in self.headers.items()]
        if not (self.status < 200 or self.status in (204, 304)) and all(
            name != b"content-length" for name, _ in raw
        ):
            raw.append((b"content-length", str(len(self.content)).encode("latin-1")))
        return raw

    def response(self) -> Response:
        """It as a Starlette response."""
        return Response(content=self.content, status_code=self.status, headers=self.headers)

    async def send(self, send: Send) -> None:
        """Answer the client with it: what `self.response()` would send, built cheaper."""
        await send(
            {"type": "http.response.start", "status": self.status, "headers": self.raw_headers()}
        )
        await send({"type": "http.response.body", "body": self.content})


async def read_body(receive: Receive) -> bytes:
    """The whole request body, as Starlette's `Request.body()` reads it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.request":
            body = message.get("body", b"")
            if body:
                chunks.append(body)
            if not message.get("more_body", False):
                return b"".join(chunks)
        elif message["type"] == "http.disconnect":
            raise ClientDisconnect()


def url_path_and_query(scope: Scope) -> tuple[str, str]:
    """The path to forward, percent-encoded again, and the query string as the client sent it.

    The scope's path is decoded: sent on as it is, an encoded control character became one
    that the upstream client refuses (a 500), and an encoded "?" or tab split or lost part of
    the path. The upstream decodes it again and sees the path the gateway routed by."""
    path: str = scope["path"]
    query = scope.get("query_string", b"").decode()
    return quote(path, safe=_PATH_SAFE), query


class Forwarder:
    """One pooled HTTP client per upstream, reused for every call.

    `kind="aiohttp"` forwards residents' calls on an aiohttp session directly: measured
    (make bench) at twice the throughput of httpx's API over the same transport, because
    httpx builds and parses URLs and headers again for every call. The gateway's own calls
    (`call`, `get_json`) keep httpx's API, where its convenience costs little."""

    def __init__(
        self,
        base_url: str,
        secret: bytes,
        *,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
        kind: str = "httpx",
    ) -> None:
        # An injected transport (tests drive services in-process) is always used as given.
        self._kind = "httpx" if transport is not None else kind
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=100)
        if transport is None and kind == "aiohttp":
            # httpx's API over aiohttp's connection handling: far less CPU per forwarded call.
            from httpx_aiohttp import AiohttpTransport

            transport = AiohttpTransport(limits=limits)
        self._client = httpx.AsyncClient(
            base_url=base_url,
            transport=transport,
            # A jar that accepts no domain: like the aiohttp session's, never a cookie kept
            # from one caller's answer for the next caller.
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
            timeout=httpx.Timeout(timeout, connect=2.0),
            limits=limits,
        )
        self._secret = secret
        self._deadline = timeout
        self._base_url = base_url.rstrip("/")
        self._session: aiohttp.ClientSession | None = None
        self._pool: UpstreamPool | None = None
        if self._kind == "httptools":
            parts = urlsplit(base_url)
            if parts.scheme != "http" or not parts.hostname:
                self._kind = "aiohttp"  # TLS or an odd URL: the full client handles it
            else:
                self._lean_host = parts.hostname
                self._lean_port = parts.port or 80
                self._lean_prefix = parts.path.rstrip("/")

    def _aiohttp(self) -> aiohttp.ClientSession:
        """The forwarding session, made on first use (it must belong to the running loop)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=200, limit_per_host=200),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=2.0),
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
                # Shared by every caller: a cookie one caller's answer set must never ride
                # on another caller's call.
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    def _lean(self) -> UpstreamPool:
        """The lean client's pool, made on first use (it must belong to the running loop)."""
        if self._pool is None:
            self._pool = UpstreamPool(self._lean_host, self._lean_port, limit=200)
        return self._pool

    async def aclose(self) -> None:
        """Close the pools."""
        await self._client.aclose()
        if self._pool is not None:
            self._pool.close()
        if self._session is not None:
            await self._session.close()

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
        headers = self._outgoing(
            [
                (name, value)
                for name, value in request.headers.items()
                if name.lower() not in _DROP_REQUEST
            ],
            identity,
            client_ip,
        )
        body = await request.body()
        path, query = url_path_and_query(request.scope)
        answer = await self._exchange(request.method, path, query, body, headers)
        return answer.response() if isinstance(answer, Answer) else answer

    async def relay(
        self, scope: Scope, receive: Receive, identity: Identity | None, *, client_ip: str
    ) -> Answer | Response:
        """`forward` for the raw ASGI fast path: the same call, without Request or Response.

        Reads headers, body and URL from the scope in the order `forward` reads them from a
        Request, so every outcome (including a client that hangs up) is the same."""
        headers = self._outgoing(
            [
                (name.decode("latin-1"), value.decode("latin-1"))
                for name, value in scope["headers"]
                if name.lower() not in _DROP_REQUEST_RAW
            ],
            identity,
            client_ip,
        )
        body = await read_body(receive)
        path, query = url_path_and_query(scope)
        return await self._exchange(scope["method"], path, query, body, headers)

    def _outgoing(
        self, headers: list[tuple[str, str]], identity: Identity | None, client_ip: str
    ) -> list[tuple[str, str]]:
        """The client's headers (already filtered) plus what the gateway vouches for."""
        headers.append(("x-forwarded-for", client_ip))
        request_id = structlog.contextvars.get_contextvars().get("request_id")
        if request_id:  # the ID the gateway accepted or made, so every log line can be joined
            headers.append((REQUEST_ID_HEADER, str(request_id)))
        if identity is not None:
            headers.append((IDENTITY_HEADER, sign_identity(identity, self._secret)))
        # The aiohttp transport is not instrumented: pass the trace on ourselves.
        headers.extend(tracing.carrier().items())
        return headers

    async def _exchange(
        self, method: str, path: str, query: str, body: bytes, headers: list[tuple[str, str]]
    ) -> Answer | Response:
        """One call to the upstream: its answer, or a 503/504 problem."""
        target = f"{path}?{query}" if query else path
        try:
            async with asyncio.timeout(self._deadline):
                if self._kind == "httptools":
                    return await self._exchange_lean(method, target, body, headers)
                if self._kind == "aiohttp":
                    return await self._exchange_aiohttp(method, target, body, headers)
                # Values came in as latin-1 octets; httpx would encode a str as ASCII and fail.
                octets = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers]
                upstream = await self._client.request(method, target, content=body, headers=octets)
        except (
            httpx.ConnectError,
            httpx.RemoteProtocolError,
            aiohttp.ClientConnectionError,
            aiohttp.ClientPayloadError,
            UpstreamUnavailable,
        ) as exc:
            log.warning("gateway.upstream_unavailable", error=type(exc).__name__)
            return problem(
                503,
                "service_unavailable",
                "The service is temporarily unavailable. Please try again shortly.",
                "الخدمة غير متاحة مؤقتاً. يرجى المحاولة بعد قليل.",
                instance=path,
                headers={"Retry-After": "5"},
            )
        except (TimeoutError, httpx.TimeoutException):
            log.warning("gateway.upstream_timeout", path=path)
            return problem(
                504,
                "upstream_timeout",
                "The service took too long to answer. Please try again.",
                "استغرقت الخدمة وقتاً طويلاً للرد. يرجى المحاولة مرة أخرى.",
                instance=path,
            )
        return Answer(
            upstream.status_code, _response_headers(upstream.headers.items()), upstream.content
        )

    async def _exchange_aiohttp(
        self, method: str, path: str, body: bytes, headers: list[tuple[str, str]]
    ) -> Answer:
        async with self._aiohttp().request(
            method,
            self._base_url + path,
            data=body or None,
            headers=headers,
            allow_redirects=False,
        ) as upstream:
            content = await upstream.read()
            return Answer(upstream.status, _response_headers(upstream.headers.items()), content)

    async def _exchange_lean(
        self, method: str, target: str, body: bytes, headers: list[tuple[str, str]]
    ) -> Answer:
        wire_target = quote(self._lean_prefix + target, safe=_TARGET_SAFE)
        status, raw, content = await self._lean().request(method, wire_target, headers, body)
        items = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in raw]
        # Nothing was decompressed here: the body goes on with its content-encoding.
        return Answer(status, _response_headers(items, _DROP_RESPONSE_UNDECODED), content)


def _response_headers(
    items: Iterable[tuple[str, str]], drop: frozenset[str] | set[str] = _DROP_RESPONSE
) -> dict[str, str]:
    """The upstream's answer headers minus hop-by-hop ones and those the gateway sets itself."""
    return {name: value for name, value in items if name.lower() not in drop}
