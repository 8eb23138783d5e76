"""A fast local SMS provider for benchmarks: an aiohttp server in a thread that timestamps.

The tests' threaded http.server is plenty for a few messages but not for thousands a second;
this one answers the webhook provider's POST with 202 and records when each message arrived.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Arrival:
    """One message as the provider saw it, and when (time.monotonic())."""

    at: float
    to: str
    body: str
    message_id: str


@dataclass
class SmsSink:
    """Start with `with SmsSink() as sink:`; point SMS_WEBHOOK_URL at `sink.url`."""

    arrivals: list[Arrival] = field(default_factory=list)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _runner: web.AppRunner | None = None

    async def _receive(self, request: web.Request) -> web.Response:
        payload: dict[str, Any] = json.loads(await request.read() or b"{}")
        arrival = Arrival(
            at=time.monotonic(),
            to=str(payload.get("to", "")),
            body=str(payload.get("body", "")),
            message_id=str(payload.get("id", "")),
        )
        with self._lock:
            self.arrivals.append(arrival)
        return web.Response(status=202)

    def count(self) -> int:
        """Messages received so far."""
        with self._lock:
            return len(self.arrivals)

    def snapshot(self) -> list[Arrival]:
        """A copy of what arrived so far."""
        with self._lock:
            return list(self.arrivals)

    def __enter__(self) -> SmsSink:
        started = threading.Event()

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            app = web.Application()
            app.router.add_post("/sms", self._receive)
            self._runner = web.AppRunner(app, access_log=None)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, "127.0.0.1", 0, backlog=1024)
            loop.run_until_complete(site.start())
            port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self.url = f"http://127.0.0.1:{port}/sms"
            started.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

        self._thread = threading.Thread(target=serve, name="sms-sink", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the SMS sink did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
