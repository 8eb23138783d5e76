"""A tiny HTTP server in each worker: /healthz, /readyz and /metrics (Kubernetes, Prometheus)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest


class ProbeServer:
    """Answers GET /healthz (alive), /readyz (`ready()`), /metrics; anything else 404."""

    def __init__(self, port: int, ready: Callable[[], bool]) -> None:
        self.port = port
        self._ready = ready
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Listen on all interfaces (the pod's network policy limits who can reach it)."""
        self._server = await asyncio.start_server(self._handle, "0.0.0.0", self.port)  # noqa: S104

    async def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(5):
                line = (await reader.readline()).decode("latin-1")
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
            path = line.split(" ")[1] if line.count(" ") >= 2 else ""
            if path == "/healthz":
                status, body, kind = 200, b'{"status":"ok"}', "application/json"
            elif path == "/readyz":
                ok = self._ready()
                status = 200 if ok else 503
                body = b'{"status":"ok"}' if ok else b'{"status":"unavailable"}'
                kind = "application/json"
            elif path == "/metrics":
                status, body, kind = 200, generate_latest(), CONTENT_TYPE_LATEST
            else:
                status, body, kind = 404, b"", "text/plain"
            reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[status]
            head = (
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: {kind}\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            )
            writer.write(head.encode() + body)
            await writer.drain()
        except (TimeoutError, ConnectionError, IndexError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
