"""Two gateways built alike, one with the forwarding fast path and one without, and the
upstreams they forward to: the oracle of tests/integration/test_gateway_fast_path.py."""

from __future__ import annotations

import json
import uuid
from contextlib import AsyncExitStack
from typing import Any

import httpx
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from gateway.app import PROXY_METHODS
from gateway.auth.tokens import load_private_key, private_key_pem
from gateway.deps import GatewayState
from gateway.settings import GatewaySettings
from shared.fast_lane import FastLane, ServiceApp
from shared.identity import IDENTITY_HEADER, Identity, PrincipalKind

KEY_PEM = private_key_pem(load_private_key(None)).decode()
PEER = ("203.0.113.7", 40000)

# Every forwarded route template: where it goes, its methods, whether it needs a token.
FORWARDED: dict[str, tuple[str, set[str], bool]] = {
    "/v1/catalog": ("intake", {"GET"}, False),
    "/v1/sms/receipts/{path:path}": ("notify", {"POST"}, False),
}
for _prefix, _upstream in (
    ("/v1/staff/messages", "notify"),
    ("/v1/partner/webhooks", "notify"),
    ("/v1/admin/webhooks", "notify"),
    ("/v1/partner", "intake"),
    ("/v1/requests", "intake"),
    ("/v1/staff", "routing"),
    ("/v1/admin", "routing"),
):
    FORWARDED[_prefix] = (_upstream, set(PROXY_METHODS), True)
    FORWARDED[f"{_prefix}/{{path:path}}"] = (_upstream, set(PROXY_METHODS), True)


def echo(name: str) -> Any:
    """An upstream that answers with what it received (and a header naming itself)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        payload = {
            "upstream": name,
            "method": scope["method"],
            "path": scope["path"],
            "query": scope["query_string"].decode(),
            "body": body.decode(),
            "headers": [[k.decode(), v.decode()] for k, v in scope["headers"]],
        }
        status = 201 if scope["path"].endswith("/created") else 200
        if scope["path"].endswith("/empty"):
            status = 204
        headers = [
            (b"content-type", b"application/json"),
            (b"x-upstream", name.encode()),
            (b"Connection", b"keep-alive"),  # hop-by-hop: the gateway drops it
            (b"X-Mixed-Case", b"kept"),
            (b"set-cookie", b"a=1"),
            (b"set-cookie", b"b=2"),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send(
            {
                "type": "http.response.body",
                "body": b"" if status == 204 else json.dumps(payload).encode(),
            }
        )

    return app


class Failing(httpx.AsyncBaseTransport):
    """An upstream that cannot be reached, or does not answer in time."""

    def __init__(self, error: type[Exception]) -> None:
        self.error = error

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise self.error("upstream trouble")


def settings(backing: Any, **overrides: Any) -> GatewaySettings:
    """Gateway settings on the test servers, with one signing key for every gateway here."""
    values: dict[str, Any] = {
        "environment": "test",
        "database_url": backing.database_url,
        "redis_url": backing.redis_url,
        "queue_prefix": f"{backing.prefix}:fastpath",
        "log_json": True,
        "jwt_private_key": KEY_PEM,
        "intake_url": "http://intake",
        "routing_url": "http://routing",
        "notify_url": "http://notify",
        "max_body_bytes": 1024,
        "api_per_principal_per_minute": 100000,
        **overrides,
    }
    return GatewaySettings(**values)


def without_fast_path(app: FastAPI) -> FastAPI:
    """The same gateway with FastAPI's router handling every call, as before the fast lane."""
    assert isinstance(app, ServiceApp)
    assert isinstance(app.fast_lane, FastLane)
    app.fast_lane = None
    return app


class Pair:
    """The gateway and its twin without the fast path, called alike."""

    def __init__(self, fast: FastAPI, slow: FastAPI) -> None:
        self.fast = fast
        self.slow = slow
        assert isinstance(fast, ServiceApp)
        assert isinstance(fast.fast_lane, FastLane)
        self.fast_path = fast.fast_lane
        self.clients: list[httpx.AsyncClient] = []

    @property
    def state(self) -> GatewayState:
        state: GatewayState = self.fast.state.gateway
        return state

    async def __aenter__(self) -> Pair:
        self._stack = AsyncExitStack()
        for app in (self.fast, self.slow):
            await self._stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=app, client=PEER)
            client = httpx.AsyncClient(transport=transport, base_url="http://gateway")
            self.clients.append(await self._stack.enter_async_context(client))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    def token(self, kind: PrincipalKind = PrincipalKind.resident, **extra: Any) -> str:
        """A bearer token both gateways accept."""
        identity = Identity(subject=str(uuid.uuid4()), kind=kind)
        return self.state.issuer.issue(identity, uuid.uuid4().hex, **extra)

    def forwards(self, method: str, url: str) -> bool:
        """Whether the fast path serves this call itself."""
        target = httpx.URL(url)
        scope = {
            "type": "http",
            "method": method,
            "path": target.path,
            "query_string": target.query,
            "headers": [],
        }
        return self.fast_path.pick(scope) is not None

    async def both(
        self, method: str, url: str, *, token: str | None = None, **kwargs: Any
    ) -> tuple[httpx.Response, httpx.Response]:
        """The same call through the fast gateway and through its twin."""
        headers = {"x-request-id": "fastpath-0001", **kwargs.pop("headers", {})}
        if token:
            headers["authorization"] = f"Bearer {token}"
        answers = []
        for client in self.clients:
            answers.append(await client.request(method, url, headers=headers, **kwargs))
        return answers[0], answers[1]


def normalised(response: httpx.Response) -> Any:
    """A response's parts that must match; signed identities are checked, then left out."""
    body: Any = response.content
    if response.headers.get("x-upstream") and response.status_code != 204:
        body = response.json()
        kept = []
        for name, value in body["headers"]:
            if name == IDENTITY_HEADER:  # signed with the time: checked on its own
                value = "<signed>"
            kept.append([name, value])
        body["headers"] = kept
    headers = [(k, v) for k, v in response.headers.multi_items() if k != "retry-after"]
    return response.status_code, headers, body


def assert_same(fast: httpx.Response, slow: httpx.Response) -> None:
    """Both gateways answered alike."""
    assert normalised(fast) == normalised(slow)
