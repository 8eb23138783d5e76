"""The gateway's forwarding fast path answers exactly as FastAPI's routing did.

Every check runs one call through two gateways built alike: the real one, whose forwarded
prefixes go through `gateway.fast_path`, and a twin with the fast path taken out, so FastAPI's
router, Request and Response handle everything as before. Their answers must be the same.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import fastapi.routing
import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY

from gateway.app import create_app
from gateway.auth.errors import InvalidAccessToken
from shared.identity import IDENTITY_HEADER, Identity, PrincipalKind, verify_identity
from tests.support.gateway_twins import (
    FORWARDED,
    PEER,
    Failing,
    Pair,
    assert_same,
    echo,
    settings,
    without_fast_path,
)


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
