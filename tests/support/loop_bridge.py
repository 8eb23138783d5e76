"""A `requests` session whose calls reach an ASGI app on the test run's own event loop.

Schemathesis sends its cases through `requests`; its own ASGI client runs the app on a loop
of its own, where the stack's asyncpg and Redis pools (made on pytest-asyncio's session loop)
cannot be used. This adapter runs each call on the idle session loop instead.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Mapping
from typing import Any

import httpx
import requests
import requests.adapters
import urllib3


def _octets(text: str | bytes) -> bytes:
    return text if isinstance(text, bytes) else text.encode("latin-1")


class LoopAdapter(requests.adapters.HTTPAdapter):
    """Sends a prepared request to `app` through httpx's ASGI transport on `loop`."""

    def __init__(self, loop: asyncio.AbstractEventLoop, app: Any, client_ip: str) -> None:
        super().__init__()
        self._loop = loop
        self._transport = httpx.ASGITransport(app=app, client=(client_ip, 40000))

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """One call, run to completion on the loop (which no test is running at the time)."""
        body = request.body
        if isinstance(body, str):
            content = body.encode()
        elif isinstance(body, bytes) or body is None:
            content = body or b""
        else:  # schemathesis builds every body in memory
            raise TypeError(f"a streamed body cannot be bridged: {type(body)}")
        # Headers go over the wire as latin-1 octets, as a real server would receive them.
        headers = [(_octets(k), _octets(v)) for k, v in request.headers.items()]
        outgoing = httpx.Request(
            str(request.method), str(request.url), headers=headers, content=content
        )
        status, raw_headers, data = self._loop.run_until_complete(self._exchange(outgoing))
        answered = urllib3.HTTPHeaderDict()
        for name, value in raw_headers:
            answered.add(name, value)
        raw = urllib3.HTTPResponse(
            body=io.BytesIO(data),
            headers=answered,
            status=status,
            version=11,
            reason=httpx.codes.get_reason_phrase(status),
            preload_content=False,
            request_method=request.method,
        )
        return self.build_response(request, raw)

    async def _exchange(self, request: httpx.Request) -> tuple[int, list[tuple[str, str]], bytes]:
        response = await self._transport.handle_async_request(request)
        data = await response.aread()
        await response.aclose()
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers.raw]
        return response.status_code, headers, data

    def close(self) -> None:
        """Nothing to release: the transport holds no connections."""


def loop_session(loop: asyncio.AbstractEventLoop, app: Any, client_ip: str) -> requests.Session:
    """A session that reaches `app` for every http:// URL."""
    session = requests.Session()
    session.mount("http://", LoopAdapter(loop, app, client_ip))
    return session
