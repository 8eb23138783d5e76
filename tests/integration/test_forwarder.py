"""The gateway's forwarder, each of its transports, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from starlette.requests import Request

from gateway.proxy import Forwarder
from shared.identity import IDENTITY_HEADER, Identity, PrincipalKind, verify_identity

SECRET = b"forwarder-test-secret-0123456789abcdef"


async def _echo(request: web.Request) -> web.Response:
    if request.path == "/slow":
        await asyncio.sleep(2)
    if request.path == "/cookie":
        return web.Response(status=204, headers={"Set-Cookie": "session=resident-1; Path=/"})
    return web.json_response(
        {
            "method": request.method,
            "path": request.path_qs,
            "body": (await request.read()).decode(),
            "headers": {k.lower(): v for k, v in request.headers.items()},
        },
        status=201,
        headers={"X-Upstream": "yes", "Connection": "keep-alive"},
    )


@pytest.fixture
async def upstream() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


def _request(method: str, path: str, body: bytes, headers: dict[str, str]) -> Request:
    raw_path, _, query = path.partition("?")
    scope = {
        "type": "http",
        "method": method,
        "path": raw_path,
        "raw_path": raw_path.encode(),
        "query_string": query.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "scheme": "http",
        "server": ("gateway", 80),
        "client": ("10.0.0.9", 5555),
    }
    sent = False

    async def receive() -> dict[str, object]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(scope, receive)


KINDS = ["aiohttp", "httpx", "httptools"]


@pytest.mark.parametrize("kind", KINDS)
async def test_forwards_the_call_with_a_signed_identity_and_no_client_credentials(
    upstream: str, kind: str
) -> None:
    forwarder = Forwarder(upstream, SECRET, timeout=5, kind=kind)
    identity = Identity(subject="resident-1", kind=PrincipalKind.resident)
    request = _request(
        "POST",
        "/v1/requests?limit=5",
        b'{"a": 1}',
        {
            "Authorization": "Bearer client-token",
            IDENTITY_HEADER: "forged",
            "Content-Type": "application/json",
            "Accept-Language": "ar",
        },
    )
    try:
        response = await forwarder.forward(request, identity, client_ip="10.0.0.9")
    finally:
        await forwarder.aclose()
    assert response.status_code == 201
    assert response.headers["x-upstream"] == "yes"
    assert "connection" not in response.headers
    seen = json.loads(bytes(response.body))
    assert seen["method"] == "POST"
    assert seen["path"] == "/v1/requests?limit=5"
    assert seen["body"] == '{"a": 1}'
    assert "authorization" not in seen["headers"]
    assert seen["headers"]["accept-language"] == "ar"
    assert seen["headers"]["x-forwarded-for"] == "10.0.0.9"
    vouched = verify_identity(seen["headers"][IDENTITY_HEADER], SECRET)
    assert vouched.subject == "resident-1"


@pytest.mark.parametrize("kind", KINDS)
async def test_an_upstream_that_is_down_answers_503_problem(kind: str) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    forwarder = Forwarder(f"http://127.0.0.1:{port}", SECRET, timeout=5, kind=kind)
    try:
        response = await forwarder.forward(
            _request("GET", "/v1/requests", b"", {}), None, client_ip="1.2.3.4"
        )
    finally:
        await forwarder.aclose()
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert json.loads(bytes(response.body))["code"] == "service_unavailable"


@pytest.mark.parametrize("kind", KINDS)
async def test_an_upstream_slower_than_the_deadline_answers_504_problem(
    upstream: str, kind: str
) -> None:
    forwarder = Forwarder(upstream, SECRET, timeout=0.3, kind=kind)
    try:
        response = await forwarder.forward(
            _request("GET", "/slow", b"", {}), None, client_ip="1.2.3.4"
        )
    finally:
        await forwarder.aclose()
    assert response.status_code == 504
    assert json.loads(bytes(response.body))["code"] == "upstream_timeout"


@pytest.mark.parametrize("kind", KINDS)
async def test_a_cookie_one_caller_got_is_never_sent_for_another(upstream: str, kind: str) -> None:
    """The forwarding session is shared by every caller: it must keep no cookie jar. (By a
    host name, as in the cluster: aiohttp's default jar ignores cookies of IP addresses.)"""
    by_name = upstream.replace("127.0.0.1", "localhost")
    forwarder = Forwarder(by_name, SECRET, timeout=5, kind=kind)
    identity = Identity(subject="resident-2", kind=PrincipalKind.resident)
    try:
        first = await forwarder.forward(
            _request("GET", "/cookie", b"", {}), identity, client_ip="10.0.0.9"
        )
        assert first.status_code == 204
        second = await forwarder.forward(
            _request("GET", "/echo", b"", {}), identity, client_ip="10.0.0.9"
        )
    finally:
        await forwarder.aclose()
    assert "cookie" not in json.loads(bytes(second.body))["headers"]
