"""A lean HTTP/1.1 client for the gateway's hop to its own services.

py-spy put a quarter of the gateway's CPU per forwarded call in aiohttp's client: building a
ClientRequest, its URL and header objects, writer and payload machinery, a response object.
The hop it serves is narrow: our own services, plain HTTP on a private network, whole bodies
both ways. Here each call is one write of bytes made in one string and one parse of the answer
by httptools (the C parser uvicorn uses), on pooled keep-alive connections.

What it leaves out on purpose: TLS, proxies, redirects, cookies, decompression (the answer
goes on with its `content-encoding`, as a proxy should), `Expect: 100-continue`, upgrades.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Sequence

import httptools

IDLE_LIMIT = 2.0
"""Seconds a kept-alive connection may sit unused and still be reused: well under uvicorn's
5-second keep-alive, so the service never closes one as we start writing on it."""

IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


class UpstreamUnavailable(ConnectionError):
    """The service could not be reached, or hung up before its answer was complete."""


class UpstreamClosed(UpstreamUnavailable):
    """The service closed the connection before its answer was complete."""


class _Connection(asyncio.Protocol):
    """One keep-alive connection: sends a request, parses its answer with httptools."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = time.monotonic()
        self._parser: httptools.HttpResponseParser | None = None
        self._answer: asyncio.Future[None] | None = None
        self._head_only = False
        self.received = False  # any byte of the current answer
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self.keep_alive = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        answer = self._answer
        if answer is not None and not answer.done():
            answer.set_exception(UpstreamClosed("connection closed before the answer ended"))

    def data_received(self, data: bytes) -> None:
        parser = self._parser
        if parser is None:  # bytes nobody asked for: this connection cannot be trusted
            self.close()
            return
        self.received = True
        try:
            parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.close()
            if self._answer is not None and not self._answer.done():
                self._answer.set_exception(UpstreamClosed(f"unreadable answer: {exc}"))

    def eof_received(self) -> bool | None:
        return None  # close the transport; connection_lost settles a pending answer

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        assert self._parser is not None
        self.status = self._parser.get_status_code()
        if self._head_only:
            self._finish()

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        if not self._head_only:
            self._finish()

    def _finish(self) -> None:
        assert self._parser is not None
        self.keep_alive = self._parser.should_keep_alive()
        self._parser = None
        if self._answer is not None and not self._answer.done():
            self._answer.set_result(None)

    # used by the pool
    async def exchange(self, request: bytes, *, head_only: bool) -> tuple[int, bytes]:
        """Send one request; wait for its whole answer."""
        assert self.transport is not None
        self._parser = httptools.HttpResponseParser(self)
        self._head_only = head_only
        self.received = False
        self.status = 0
        self.headers = []
        self._body = []
        self.keep_alive = False
        self._answer = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        await self._answer
        return self.status, b"".join(self._body)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class UpstreamPool:
    """Keep-alive connections to one service, at most `limit` at once."""

    def __init__(self, host: str, port: int, *, limit: int = 200, connect_timeout: float = 2.0):
        self._host = host
        self._port = port
        self._host_header = f"Host: {host}:{port}\r\n"
        self._idle: deque[_Connection] = deque()
        self._slots = asyncio.Semaphore(limit)
        self._connect_timeout = connect_timeout

    async def _connection(self) -> tuple[_Connection, bool]:
        """An idle connection still fit to reuse (True), or a new one (False)."""
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed and now - connection.idle_since < IDLE_LIMIT:
                return connection, True
            connection.close()
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self._connect_timeout):
                _, protocol = await loop.create_connection(_Connection, self._host, self._port)
        except OSError as exc:  # refused, unreachable, unknown host, or no answer in time
            raise UpstreamUnavailable(f"cannot connect: {type(exc).__name__}") from exc
        return protocol, False

    async def request(
        self, method: str, target: str, headers: Sequence[tuple[str, str]], body: bytes
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """(status, raw headers, body) of one call; UpstreamClosed or OSError when the
        service cannot be reached or hangs up. A call on a reused connection that the service
        had already closed is sent again on a new one, for idempotent methods only, and only
        when not one byte of an answer came back."""
        lines = [f"{method} {target} HTTP/1.1\r\n", self._host_header]
        lines.extend(f"{name}: {value}\r\n" for name, value in headers)
        if body or method not in IDEMPOTENT:
            lines.append(f"Content-Length: {len(body)}\r\n")
        lines.append("\r\n")
        request = "".join(lines).encode("latin-1") + body
        async with self._slots:
            for _ in range(2):
                connection, reused = await self._connection()
                try:
                    status, content = await connection.exchange(request, head_only=method == "HEAD")
                except UpstreamClosed:
                    connection.close()
                    if reused and not connection.received and method in IDEMPOTENT:
                        continue
                    raise
                except BaseException:  # timeout or cancellation: the answer may still come
                    connection.close()
                    raise
                if connection.keep_alive and not connection.closed:
                    connection.idle_since = time.monotonic()
                    self._idle.append(connection)
                else:
                    connection.close()
                return status, connection.headers, content
        raise UpstreamClosed("the service closed the connection")

    def close(self) -> None:
        """Close every idle connection."""
        while self._idle:
            self._idle.pop().close()
