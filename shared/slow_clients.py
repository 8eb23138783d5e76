"""Deadlines for clients that send a request slowly, and a limit on the URL: every HTTP process.

uvicorn bounds only the idle time between requests (`timeout_keep_alive`); a head or a body
that drips in, or stops short of its Content-Length, held a connection and its task for good.
`shared.serve` runs uvicorn with `GuardedHttpProtocol` (the head's deadline, the URL limit,
problem+json for what the parser refuses) around `BodyDeadlineMiddleware` (the body's), so
the gateway and each service cut them alike, behind the ingress or not. deploy/README.md,
"Slow clients", has the numbers.
"""

from __future__ import annotations

import asyncio
from functools import lru_cache
from typing import Any

import structlog
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from shared.errors import HTTP_PROBLEMS, problem

MAX_URL_BYTES = 8 * 1024
"""Longest request target (path and query) served, as nginx's and Apache's default 8 KiB
buffers; longer is 414. httptools refused only past 64 KiB, with a text/plain 400."""

log = structlog.get_logger()


class ClientTimeouts(BaseSettings):
    """How long a client may take to send one request; the same in every HTTP process."""

    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    request_header_timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds from a connection's opening, or a request's first byte, to the "
        "end of its head; then 408 (nothing sent yet: just closed).",
    )
    request_body_timeout: float = Field(
        default=10.0, gt=0, description="Most seconds the body may pause between two reads."
    )
    request_body_deadline: float = Field(
        default=20.0,
        gt=0,
        description="Most seconds for a whole body from the app's first read; below the "
        "gateway's UPSTREAM_TIMEOUT, so a service cuts a stalled hop before the gateway does.",
    )


@lru_cache
def client_timeouts() -> ClientTimeouts:
    """The settings, read once from the environment."""
    return ClientTimeouts()


def request_timeout(instance: str | None = None) -> JSONResponse:
    """408 problem+json; the connection closes after it (the rest of the body is unread)."""
    code, en, ar = HTTP_PROBLEMS[408]
    return problem(408, code, en, ar, instance=instance, headers={"Connection": "close"})


class RequestTimeout(HTTPException):
    """Raised from `receive` when the body is late. An HTTPException, because FastAPI passes
    those on from a body read (any other error it turns into a 400); the app's own handler
    answers it (shared/errors.py)."""

    def __init__(self) -> None:
        super().__init__(408, headers={"Connection": "close"})


def _has_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if (name == b"content-length" and value != b"0") or name == b"transfer-encoding":
            return True
    return False


class BodyDeadlineMiddleware:
    """Each read of the body waits at most `idle` seconds, and all of them end within `total`
    of the first; past that, every read raises `RequestTimeout`. Outermost, so that bodies
    the fast lane reads before the app's own middleware are timed too; a timeout nothing
    inside answered is answered here."""

    def __init__(self, app: ASGIApp, *, idle: float, total: float) -> None:
        self.app = app
        self.idle = idle
        self.total = total

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _has_body(scope):
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        done = expired = started = False

        async def timed_receive() -> Message:
            nonlocal deadline, done, expired
            if done:  # the body is in: what is left to wait for is the disconnect
                return await receive()
            if expired:
                raise RequestTimeout()
            now = loop.time()
            if deadline is None:
                deadline = now + self.total
            try:
                async with asyncio.timeout_at(min(now + self.idle, deadline)):
                    message = await receive()
            except TimeoutError:
                expired = True
                log.info("http.request_body_timeout", path=scope.get("path"))
                raise RequestTimeout() from None
            done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, timed_receive, tracked_send)
        except RequestTimeout:
            if started:
                raise  # uvicorn closes the connection: the answer cannot be finished
            await request_timeout(scope.get("path"))(scope, receive, send)


class _UrlTooLong(Exception):
    """Raised inside the parser's callback: it stops parsing, uvicorn calls send_400_response."""


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, plus: a request head must be in within
    REQUEST_HEADER_TIMEOUT of the connection's opening or the request's first byte; a
    request target over MAX_URL_BYTES is 414 (not kept: counted); and what the parser
    refuses is answered as problem+json. Selected as uvicorn's `http` class (shared/serve.py,
    or `--http shared.slow_clients:GuardedHttpProtocol`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        timeouts = client_timeouts()
        self.head_timeout = timeouts.request_header_timeout
        self.linger_timeout = timeouts.request_body_deadline
        self.head_timer: asyncio.TimerHandle | None = None
        self.linger_timer: asyncio.TimerHandle | None = None
        self.head_begun = False
        self.url_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the clock for the first request's head: a silent connection is closed too."""
        super().connection_made(transport)
        self._start_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the clocks."""
        self._stop_head_timer()
        self._stop_linger_timer()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        """A request's first byte: its head's clock starts."""
        super().on_message_begin()
        self.head_begun = True
        self.url_bytes = 0
        self._start_head_timer()

    def on_url(self, url: bytes) -> None:
        """Keep the URL only while it is within the limit."""
        self.url_bytes += len(url)
        if self.url_bytes <= MAX_URL_BYTES:
            super().on_url(url)

    def on_headers_complete(self) -> None:
        """The head is in: stop the clock; refuse an over-long URL, else serve as uvicorn does."""
        self._stop_head_timer()
        self.head_begun = False
        if self.url_bytes > MAX_URL_BYTES:
            raise _UrlTooLong
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        """The body is in. One answered before it was leaves the connection idle: the next
        head's clock starts (uvicorn's keep-alive timer is not running by then)."""
        if self.linger_timer is not None:
            self._stop_linger_timer()
            self._start_head_timer()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        """An answer went out before its body was in (a 401 does not read it): the rest may
        take REQUEST_BODY_DEADLINE, then the connection closes. Body bytes would otherwise
        keep resetting uvicorn's keep-alive timer, and a drip hold the connection for good."""
        super().on_response_complete()
        cycle = self.cycle
        if cycle.response_complete and cycle.more_body and not self.transport.is_closing():
            self.linger_timer = self.loop.call_later(self.linger_timeout, self.transport.close)

    def send_400_response(self, msg: str) -> None:
        """What the parser refused (or the URL limit), as problem+json."""
        if self.url_bytes > MAX_URL_BYTES:
            self._refuse(
                problem(
                    414,
                    "uri_too_long",
                    f"The URL is longer than {MAX_URL_BYTES} bytes.",
                    f"طول الرابط أكبر من الحد المسموح ({MAX_URL_BYTES} بايت).",
                )
            )
            return
        self._refuse(
            problem(
                400,
                "malformed_request",
                "The request is not valid HTTP.",
                "الطلب ليس بصيغة HTTP صالحة.",
            )
        )

    def _start_head_timer(self) -> None:
        """Unless it runs already: a request's first byte does not restart the connection's."""
        if self.head_timer is None:
            self.head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _stop_linger_timer(self) -> None:
        if self.linger_timer is not None:
            self.linger_timer.cancel()
            self.linger_timer = None

    def _head_timed_out(self) -> None:
        self.head_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            # A pipelined head lags behind an answer still going out: close after that one.
            self.cycle.keep_alive = False
        elif self.head_begun:
            log.info("http.request_head_timeout")
            self._refuse(request_timeout())
        else:
            self.transport.close()  # nothing was asked: nothing to answer

    def _refuse(self, response: JSONResponse) -> None:
        """Write `response` as the connection's last answer and close it."""
        headers = [*self.server_state.default_headers, *response.raw_headers]
        content = [STATUS_LINE[response.status_code]]
        for name, value in headers:
            if name != b"connection":
                content.extend([name, b": ", value, b"\r\n"])
        content.extend([b"connection: close\r\n\r\n", bytes(response.body)])
        self.transport.write(b"".join(content))
        self.transport.close()
