"""What the outermost middleware refuses before the app reads it (shared/http.py)."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse

from shared.http import MAX_HEADER_BYTES, BodyLimitMiddleware


async def _app(scope: Any, receive: Any, send: Any) -> None:
    """Reads the URL as Starlette does: a query that is not UTF-8 raises here."""
    request = Request(scope, receive)
    await PlainTextResponse(str(request.url))(scope, receive, send)


async def _call(query: bytes, headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
    scope = {
        "type": "http", "method": "GET", "path": "/v1/catalog", "raw_path": b"/v1/catalog",
        "query_string": query, "headers": headers, "scheme": "http", "http_version": "1.1",
        "server": ("gateway", 80), "client": ("203.0.113.7", 1), "root_path": "",
    }  # fmt: skip
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    await BodyLimitMiddleware(_app, max_bytes=1024)(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], body


async def test_a_query_that_is_not_utf8_is_a_400_problem() -> None:
    status, body = await _call(b"q=\xff\xfe", [])
    assert status == 400
    assert b"malformed_query" in body
    assert await _call("q=قطر".encode(), []) == (200, "http://gateway/v1/catalog?q=قطر".encode())


async def test_headers_over_the_limit_are_a_431_problem() -> None:
    status, body = await _call(b"", [(b"x-big", b"a" * MAX_HEADER_BYTES)])
    assert status == 431
    assert b"headers_too_large" in body
    assert (await _call(b"", [(b"x-big", b"a" * 8000)]))[0] == 200
