"""The gateway's forwarding fast path answers exactly as FastAPI's routing did.

Every check runs one call through two gateways built alike: the real one, whose forwarded
prefixes go through `gateway.fast_path`, and a twin with the fast path taken out, so FastAPI's
router, Request and Response handle everything as before. Their answers must be the same.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from typing import Any

import fastapi.routing
import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from starlette.datastructures import URL
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from gateway.app import PROXY_METHODS, create_app
from gateway.auth.errors import InvalidAccessToken
from gateway.auth.tokens import load_private_key, private_key_pem
from gateway.deps import GatewayState, client_ip, client_ip_of
from gateway.fast_path import ForwardFastPath
from gateway.proxy import Answer, read_body, url_path_and_query
from gateway.settings import GatewaySettings
from shared.identity import IDENTITY_HEADER, Identity, PrincipalKind, verify_identity

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
    """The same gateway with FastAPI's router handling every call, as before the fast path."""
    fast = app.router.middleware_stack
    assert isinstance(fast, ForwardFastPath)
    app.router.middleware_stack = fast.app  # type: ignore[assignment]
    return app


class Pair:
    """The gateway and its twin without the fast path, called alike."""

    def __init__(self, fast: FastAPI, slow: FastAPI) -> None:
        self.fast = fast
        self.slow = slow
        fast_path = fast.router.middleware_stack
        assert isinstance(fast_path, ForwardFastPath)
        self.fast_path = fast_path
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


def _normalised(response: httpx.Response) -> Any:
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
    assert _normalised(fast) == _normalised(slow)


@pytest.fixture(scope="module")
async def pair(backing: Any) -> AsyncIterator[Pair]:
    """A gateway in front of three echoing upstreams, and its twin."""

    def build() -> FastAPI:
        return create_app(
            settings(backing),
            intake_transport=httpx.ASGITransport(app=echo("intake")),
            routing_transport=httpx.ASGITransport(app=echo("routing")),
            notify_transport=httpx.ASGITransport(app=echo("notify")),
        )

    async with Pair(build(), without_fast_path(build())) as running:
        yield running


def _routes(app: FastAPI) -> Iterator[Any]:
    """Every route in the order FastAPI tries them, included routers opened up."""
    iter_contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    if iter_contexts is None:
        yield from app.routes
        return
    yield from iter_contexts(app.routes)


def _concrete(path_format: str) -> str:
    """A path this route template matches."""
    path = re.sub(r"\{[a-z_]+:path\}", "some/where", path_format)
    path = re.sub(r"\{fmt\}", "json", path)
    return re.sub(r"\{[a-z_]+\}", "0b6c6a8e-1f5e-4b7e-9c2a-2f1e3d4c5b6a", path)


async def test_every_own_route_is_still_reached(pair: Pair) -> None:
    own = [route for route in _routes(pair.fast) if route.path not in FORWARDED]
    assert len(own) > 20
    token = pair.token()
    reached = []
    for route in own:
        path = _concrete(str(route.path))
        for method in sorted(route.methods or ()):
            assert not pair.forwards(method, path), f"{method} {path} is the gateway's own"
            fast, slow = await pair.both(method, path, token=token)
            assert "x-upstream" not in fast.headers, f"{method} {path} was forwarded"
            if path not in ("/metrics", "/readyz", "/openapi.json"):  # these change by the call
                assert_same(fast, slow)
            reached.append(f"{method} {path}")
    # The ones that share a prefix with a forwarded route.
    assert "POST /v1/staff/auth/login" in reached
    assert "GET /v1/admin/staff" in reached
    assert "POST /v1/admin/partners/0b6c6a8e-1f5e-4b7e-9c2a-2f1e3d4c5b6a/secrets" in reached


async def test_every_forwarded_prefix_still_forwards(pair: Pair) -> None:
    routes = {route.path for route in _routes(pair.fast)}
    assert set(FORWARDED) <= routes
    token = pair.token()
    secret = pair.state.settings.internal_auth_secret.get_secret_value().encode()
    for template, (upstream, methods, authenticated) in FORWARDED.items():
        for tail in ("", "/", "/a/b", "/x%20y/created", "/e/empty"):
            if template.endswith("{path:path}"):
                path = template.replace("{path:path}", "") + tail.lstrip("/")
            elif tail:
                continue
            else:
                path = template
            for method in sorted(methods):
                url = f"{path}?q=1&q=2&z=%C3%A9"
                assert pair.forwards(method, url), f"{method} {url}"
                body = b'{"a": 1}' if method in ("POST", "PUT", "PATCH") else b""
                fast, slow = await pair.both(
                    method, url, token=token if authenticated else None, content=body
                )
                assert fast.headers["x-upstream"] == upstream, f"{method} {url}"
                assert_same(fast, slow)
                if fast.status_code == 204:
                    continue
                seen = fast.json()
                assert (seen["method"], seen["query"]) == (method, "q=1&q=2&z=%C3%A9")
                assert seen["path"] == httpx.URL(url).path.replace("%20", " ")
                assert seen["body"] == body.decode()
                headers = dict(seen["headers"])
                assert headers["x-forwarded-for"] == PEER[0]
                assert headers["x-request-id"] == "fastpath-0001"
                assert "authorization" not in headers
                assert (IDENTITY_HEADER in headers) is authenticated
                if authenticated:
                    vouched = verify_identity(headers[IDENTITY_HEADER], secret)
                    assert vouched.kind is PrincipalKind.resident


async def test_calls_at_the_edges_of_the_forwarded_routes_answer_as_before(pair: Pair) -> None:
    token = pair.token()
    cases = [
        ("GET", "/v1/staff/auth/login"),  # own route is POST only: forwarded to routing
        ("PUT", "/v1/admin/partners"),  # own route is GET/POST: forwarded to routing
        ("DELETE", "/v1/admin/staff/0b6c6a8e-1f5e-4b7e-9c2a-2f1e3d4c5b6a"),
        ("HEAD", "/v1/requests"),  # 405: no forwarded route takes HEAD
        ("OPTIONS", "/v1/requests/abc"),
        ("POST", "/v1/catalog"),
        ("GET", "/v1/sms/receipts/twilio"),
        ("GET", "/v1/requestsx"),  # 404
        ("GET", "/v1/catalog/"),  # redirect
        ("GET", "/v1/requests/a%3Fb"),  # an encoded ? stays in the path
        ("GET", "/v1/requests/a%5Cb"),
        ("GET", "/v1/requests/a%09b"),
        ("GET", "/v1/requests/%D8%B7%D9%84%D8%A8"),
    ]
    for method, url in cases:
        fast, slow = await pair.both(method, url, token=token)
        assert_same(fast, slow)
    forwarded, _ = await pair.both("GET", "/v1/staff/auth/login", token=token)
    assert forwarded.headers["x-upstream"] == "routing"
    refused, _ = await pair.both("HEAD", "/v1/requests", token=token)
    assert refused.status_code == 405


async def test_authentication_failures_are_the_same_problems(pair: Pair) -> None:
    revoked_sid = uuid.uuid4().hex
    revoked = pair.state.issuer.issue(
        Identity(subject=str(uuid.uuid4()), kind=PrincipalKind.resident), revoked_sid
    )
    await pair.state.guard.revoke_session(revoked_sid)
    for headers in (
        {},
        {"authorization": "Basic abc"},
        {"authorization": "Bearer not-a-token"},
        {"authorization": f"Bearer {revoked}"},
    ):
        fast, slow = await pair.both("GET", "/v1/requests/abc", headers=headers)
        assert_same(fast, slow)
        problem = fast.json()
        assert fast.status_code == 401
        assert fast.headers["content-type"] == "application/problem+json"
        assert (problem["code"], problem["instance"]) == ("invalid_token", "/v1/requests/abc")
        assert problem["messages"] == {
            "en": InvalidAccessToken.message_en,
            "ar": InvalidAccessToken.message_ar,
        }


async def test_the_per_caller_rate_limit_is_the_same_problem(pair: Pair) -> None:
    answers = []
    for client in pair.clients:
        token = pair.token(rate_limit=2)
        headers = {"authorization": f"Bearer {token}", "x-request-id": "rl"}
        for _ in range(2):
            assert (await client.get("/v1/requests", headers=headers)).status_code == 200
        answers.append(await client.get("/v1/requests", headers=headers))
    fast, slow = answers
    assert fast.status_code == 429
    assert int(fast.headers["retry-after"]) == fast.json()["retry_after"]
    assert fast.json()["messages"]["ar"] == "محاولات كثيرة. يرجى المحاولة لاحقاً."
    fast_body, slow_body = fast.json(), slow.json()
    fast_body.pop("retry_after"), slow_body.pop("retry_after")
    assert fast_body == slow_body
    assert fast.headers.keys() == slow.headers.keys()


async def test_bodies_over_the_limit_are_refused_with_413(pair: Pair) -> None:
    token = pair.token()
    too_big = b"x" * 1025

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(3):
            yield b"y" * 500

    fast, slow = await pair.both("POST", "/v1/requests", token=token, content=too_big)
    assert fast.status_code == 413
    assert fast.json()["code"] == "body_too_large"
    assert_same(fast, slow)
    # Without a Content-Length: refused while it streams in.
    answers = [
        await client.post(
            "/v1/requests",
            content=chunks(),
            headers={"authorization": f"Bearer {token}", "x-request-id": "big"},
        )
        for client in pair.clients
    ]
    assert answers[0].status_code == 413
    assert_same(answers[0], answers[1])
    fast, slow = await pair.both("POST", "/v1/requests", token=token, content=b"x" * 1024)
    assert fast.status_code == 200
    assert_same(fast, slow)


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (httpx.ConnectError, 503, "service_unavailable"),
        (httpx.RemoteProtocolError, 503, "service_unavailable"),
        (httpx.ReadTimeout, 504, "upstream_timeout"),
    ],
)
async def test_an_upstream_in_trouble_is_the_same_problem(
    backing: Any, error: type[Exception], status: int, code: str
) -> None:
    def build() -> FastAPI:
        return create_app(
            settings(backing),
            intake_transport=Failing(error),
            routing_transport=Failing(error),
            notify_transport=Failing(error),
        )

    async with Pair(build(), without_fast_path(build())) as failing:
        for method, url, token in (
            ("GET", "/v1/catalog", None),
            ("POST", "/v1/requests/abc/submit", failing.token()),
        ):
            fast, slow = await failing.both(method, url, token=token)
            assert fast.status_code == status
            assert fast.json()["code"] == code
            assert fast.json()["instance"] == httpx.URL(url).path
            assert_same(fast, slow)
            if status == 503:
                assert fast.headers["retry-after"] == "5"


async def test_the_client_address_behind_trusted_proxies(backing: Any) -> None:
    def build() -> FastAPI:
        return create_app(
            settings(backing, trusted_proxy_hops=1),
            intake_transport=httpx.ASGITransport(app=echo("intake")),
        )

    async with Pair(build(), without_fast_path(build())) as proxied:
        for forwarded_for, expected in (
            ("198.51.100.1, 198.51.100.2", "198.51.100.2"),
            ("", PEER[0]),
        ):
            headers = {"x-forwarded-for": forwarded_for} if forwarded_for else {}
            fast, slow = await proxied.both("GET", "/v1/catalog", headers=headers)
            assert_same(fast, slow)
            assert dict(fast.json()["headers"])["x-forwarded-for"] == expected


async def test_metrics_and_request_ids_of_forwarded_calls(pair: Pair) -> None:
    labels = {"route": "/v1/requests/{path:path}", "method": "GET", "status": "200"}
    before = REGISTRY.get_sample_value("http_requests_total", labels) or 0.0
    client = pair.clients[0]
    answer = await client.get(
        "/v1/requests/abc", headers={"authorization": f"Bearer {pair.token()}"}
    )
    assert REGISTRY.get_sample_value("http_requests_total", labels) == before + 1
    request_id = answer.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)
    assert dict(answer.json()["headers"])["x-request-id"] == request_id


# The pieces the fast path reads the call with, against Starlette's own.


def _scope(
    path: str, query: bytes = b"", headers: list[tuple[bytes, bytes]] | None = None
) -> Scope:
    return {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "query_string": query,
        "headers": headers if headers is not None else [(b"host", b"gateway")],
        "server": ("127.0.0.1", 8000),
        "client": PEER,
    }


@pytest.mark.parametrize(
    ("path", "query", "headers"),
    [
        ("/v1/requests/abc", b"", None),
        ("/v1/requests/abc", b"a=1&b=%20", None),
        ("/v1/requests/a b", b"", None),
        ("/v1/requests/a?b", b"c=1", None),
        ("/v1/requests/a#b", b"", None),
        ("/v1/requests/a\\b", b"", None),
        ("/v1/requests/a\tb", b"", None),
        ("/v1/requests/a\nb", b"", None),
        ("/v1/requests/%2F", b"x=%23", None),
        ("/v1/requests", b"a=1#frag", None),
        ("/v1/requests", b"a=\t1", None),
        ("//v1/requests", b"", None),
        ("//v1/requests", b"", []),
        ("/v1/requests", b"", []),
        ("/v1/requests/طلب", "ق=1".encode(), None),
        ("/v1/requests", b"", [(b"host", b"[::1]:8000")]),
        ("/v1/requests", b"", [(b"host", b"bad host")]),
        ("/v1/requests", b"", [(b"host", b"example.org:99999")]),
    ],
)
def test_the_path_and_query_are_starlettes(
    path: str, query: bytes, headers: list[tuple[bytes, bytes]] | None
) -> None:
    scope = _scope(path, query, headers)
    url = URL(scope=scope)
    assert url_path_and_query(scope) == (url.path, url.query)


def test_a_query_that_is_not_utf8_fails_as_in_starlette() -> None:
    scope = _scope("/v1/requests", b"a=\xff")
    with pytest.raises(UnicodeDecodeError):
        URL(scope=scope)
    with pytest.raises(UnicodeDecodeError):
        url_path_and_query(scope)


@pytest.mark.parametrize(
    ("forwarded_for", "hops"),
    [
        ("", 0),
        ("", 1),
        ("1.1.1.1, 2.2.2.2", 1),
        ("1.1.1.1, 2.2.2.2", 2),
        ("1.1.1.1", 3),
        (" , ", 1),
    ],
)
def test_the_client_address_is_read_alike(forwarded_for: str, hops: int) -> None:
    headers = [(b"x-forwarded-for", forwarded_for.encode()), (b"x-forwarded-for", b"9.9.9.9")]
    for scope in (_scope("/", headers=headers), {**_scope("/", headers=headers), "client": None}):
        assert client_ip_of(scope, hops) == client_ip(Request(scope), hops)


@pytest.mark.parametrize("status", [200, 201, 204, 304, 404, 503])
def test_an_answer_is_sent_as_a_starlette_response_would_be(status: int) -> None:
    answer = Answer(status, {"Content-Type": "application/json", "x-a": "1", "X-A": "2"}, b"{}")
    assert answer.raw_headers() == answer.response().raw_headers
    expected = Response(content=b"{}", status_code=status, headers=answer.headers)
    assert answer.raw_headers() == expected.raw_headers


def _receiver(messages: list[Message]) -> Receive:
    queue = list(messages)

    async def receive() -> Message:
        return queue.pop(0)

    return receive


@pytest.mark.parametrize(
    "messages",
    [
        [{"type": "http.request", "body": b"abc"}],
        [
            {"type": "http.request", "body": b"a", "more_body": True},
            {"type": "http.request", "body": b"bc"},
        ],
        [{"type": "http.request", "more_body": True}, {"type": "http.request"}],
    ],
)
async def test_the_body_is_read_as_starlette_reads_it(messages: list[Message]) -> None:
    assert (
        await read_body(_receiver(messages))
        == await Request(_scope("/"), _receiver(messages)).body()
    )


async def test_a_client_that_hangs_up_is_a_disconnect_as_in_starlette() -> None:
    messages: list[Message] = [
        {"type": "http.request", "body": b"a", "more_body": True},
        {"type": "http.disconnect"},
    ]
    with pytest.raises(ClientDisconnect):
        await Request(_scope("/"), _receiver(messages)).body()
    with pytest.raises(ClientDisconnect):
        await read_body(_receiver(messages))
