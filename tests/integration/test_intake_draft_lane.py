"""`POST /v1/requests` in intake's fast lane answers exactly as the FastAPI endpoint does.

Every call goes to two intake apps built alike: the real one, whose lane serves the drafts
it accepts, and a twin with the lane taken out. Their answers must be the same, byte for byte
but for what differs by the draft (its id and times); and the lane must have served exactly
the calls it is meant to (a valid JSON body from a resident), declining the rest to FastAPI.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text

from intake_service.app import create_app
from shared.fast_lane import FastLane, LaneRoute, ServiceApp
from shared.identity import IDENTITY_HEADER, Identity, PrincipalKind, sign_identity
from shared.settings import DEV_INTERNAL_SECRET

DRAFT = {"department_code": "visas", "service_code": "final_exit", "description": "تأشيرة"}
_VOLATILE = re.compile(rb'"(id|at|created_at|updated_at)":"[^"]*"')  # a new draft's id and times


class Twins:
    """The intake app with its lane and a twin without, and a count of lane-served calls."""

    def __init__(self, fast: ServiceApp, slow: ServiceApp) -> None:
        assert isinstance(fast.fast_lane, FastLane)
        slow.fast_lane = None
        self.fast, self.slow = fast, slow
        self.served = 0
        lane, _ = fast.fast_lane.pick(_scope("POST", "/v1/requests")) or (None, None)
        assert isinstance(lane, LaneRoute)
        handle = lane.handle

        async def counted(scope: Any, receive: Any, send: Any) -> None:
            self.served += 1
            await handle(scope, receive, send)

        object.__setattr__(lane, "handle", counted)

    async def both(
        self, path: str = "/v1/requests", **kwargs: Any
    ) -> tuple[httpx.Response, httpx.Response, bool]:
        """The same call to both apps; and whether the lane served it."""
        before = self.served
        answers = []
        for app in (self.fast, self.slow):
            transport = httpx.ASGITransport(app=app, client=("10.0.0.2", 5000))
            async with httpx.AsyncClient(transport=transport, base_url="http://intake") as c:
                answers.append(await c.post(path, **kwargs))
        return answers[0], answers[1], self.served > before


def _scope(method: str, path: str) -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "query_string": b"", "headers": []}


def _normalised(response: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    body = _VOLATILE.sub(rb'"\1":"-"', response.content)
    headers = [(k, v if k != "content-length" else "-") for k, v in response.headers.multi_items()]
    headers = [(k, v) for k, v in headers if k != "x-request-id"]
    return response.status_code, headers, body


def assert_same(fast: httpx.Response, slow: httpx.Response) -> None:
    assert _normalised(fast) == _normalised(slow)
    assert fast.headers.get("x-request-id")
    assert slow.headers.get("x-request-id")


@pytest.fixture(scope="module")
async def twins(stack: Any) -> AsyncIterator[Twins]:
    fast, slow = create_app(stack.intake_settings), create_app(stack.intake_settings)
    assert isinstance(fast, ServiceApp)
    assert isinstance(slow, ServiceApp)
    async with AsyncExitStack() as running:
        for app in (fast, slow):
            await running.enter_async_context(app.router.lifespan_context(app))
        yield Twins(fast, slow)


@pytest.fixture
async def resident_id(client: httpx.AsyncClient, stack: Any, sms: Any) -> str:
    resident = await stack.sign_up(client, sms.ledger)
    async with stack.sessions() as session:
        found = await session.scalar(
            text("SELECT id FROM residents WHERE national_id = :n"), {"n": resident.national_id}
        )
    return str(found)


def _signed(subject: str, kind: PrincipalKind = PrincipalKind.resident, **extra: Any) -> str:
    return sign_identity(
        Identity(subject=subject, kind=kind, **extra), DEV_INTERNAL_SECRET.encode()
    )


def _headers(resident_id: str, **extra: str) -> dict[str, str]:
    return {IDENTITY_HEADER: _signed(resident_id), "content-type": "application/json", **extra}


async def test_a_valid_draft_is_served_by_the_lane_and_answered_alike(
    twins: Twins, resident_id: str
) -> None:
    for content_type in ("application/json", "Application/JSON; charset=utf-8"):
        fast, slow, served = await twins.both(
            json=DRAFT, headers=_headers(resident_id, **{"content-type": content_type})
        )
        assert served
        assert fast.status_code == 201, fast.text
        assert_same(fast, slow)


async def test_idempotent_replays_and_key_errors_are_answered_alike(
    twins: Twins, resident_id: str
) -> None:
    key = f"lane-{uuid.uuid4()}"
    first, _, served = await twins.both(
        json=DRAFT, headers=_headers(resident_id, **{"Idempotency-Key": key})
    )
    assert served
    assert first.status_code == 201
    fast, slow, served = await twins.both(
        json=DRAFT, headers=_headers(resident_id, **{"Idempotency-Key": key})
    )
    assert served
    assert fast.headers["idempotent-replayed"] == "true"
    assert fast.json()["id"] == slow.json()["id"] == first.json()["id"]
    assert _normalised(fast) == _normalised(slow)
    other = {**DRAFT, "description": "another"}
    for headers in (
        _headers(resident_id, **{"Idempotency-Key": key}),  # same key, other body: 409/422
        _headers(resident_id, **{"Idempotency-Key": "x" * 256}),  # too long
        _headers(resident_id, **{"Idempotency-Key": "sp ace"}),
    ):
        fast, slow, served = await twins.both(json=other, headers=headers)
        assert served
        assert fast.status_code >= 400
        assert_same(fast, slow)


async def test_an_unknown_service_is_the_same_problem(twins: Twins, resident_id: str) -> None:
    fast, slow, served = await twins.both(
        json={**DRAFT, "service_code": "no_such_service"}, headers=_headers(resident_id)
    )
    assert served
    assert fast.status_code >= 400
    assert fast.headers["content-type"] == "application/problem+json"
    assert_same(fast, slow)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"", "application/json"),
        (b"{", "application/json"),
        (b"[]", "application/json"),
        (b"null", "application/json"),
        (json.dumps({**DRAFT, "extra": 1}).encode(), "application/json"),
        (json.dumps({**DRAFT, "description": ""}).encode(), "application/json"),
        (json.dumps({**DRAFT, "description": "x" * 5000}).encode(), "application/json"),
        (json.dumps({**DRAFT, "description": "a\u0000b"}).encode(), "application/json"),
        (json.dumps({**DRAFT, "department_code": 7}).encode(), "application/json"),
        (json.dumps(DRAFT).encode(), "text/plain"),
        (json.dumps(DRAFT).encode(), "application/merge-patch+json"),
        (json.dumps(DRAFT).encode(), ""),
        (json.dumps({**DRAFT, "description": "x" * 70_000}).encode(), "application/json"),
        (b"\xff\xfe", "application/json"),
    ],
)
async def test_what_the_lane_declines_fastapi_answers_as_before(
    twins: Twins, resident_id: str, body: bytes, content_type: str
) -> None:
    headers = _headers(resident_id)
    if content_type:
        headers["content-type"] = content_type
    else:
        del headers["content-type"]
    fast, slow, served = await twins.both(content=body, headers=headers)
    assert not served
    assert_same(fast, slow)


async def test_callers_the_lane_does_not_know_are_left_to_fastapi(
    twins: Twins, resident_id: str
) -> None:
    staff = _signed(str(uuid.uuid4()), PrincipalKind.staff, roles=("officer",))
    expired = sign_identity(
        Identity(subject=resident_id, kind=PrincipalKind.resident),
        DEV_INTERNAL_SECRET.encode(),
        now=0,
    )
    for identity in (None, "garbage", expired, staff, _signed(resident_id)[:-2] + "xx"):
        headers = {"content-type": "application/json"}
        if identity is not None:
            headers[IDENTITY_HEADER] = identity
        fast, slow, served = await twins.both(json=DRAFT, headers=headers)
        assert not served
        assert fast.status_code in (401, 403)
        assert_same(fast, slow)


async def test_a_body_sent_without_a_length_goes_to_fastapi(twins: Twins, resident_id: str) -> None:
    payload = json.dumps(DRAFT).encode()

    async def chunks() -> AsyncIterator[bytes]:
        yield payload[:10]
        yield payload[10:]

    before = twins.served
    answers = []
    for app in (twins.fast, twins.slow):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as c:
            answers.append(
                await c.post("/v1/requests", content=chunks(), headers=_headers(resident_id))
            )
    assert twins.served == before
    assert answers[0].status_code == 201
    assert _normalised(answers[0]) == _normalised(answers[1])


async def test_lane_calls_keep_their_metrics_and_request_ids(
    twins: Twins, resident_id: str
) -> None:
    labels = {"route": "/v1/requests", "method": "POST", "status": "201"}
    before = REGISTRY.get_sample_value("http_requests_total", labels) or 0.0
    fast, _, served = await twins.both(
        json=DRAFT, headers=_headers(resident_id, **{"x-request-id": "lane-0001"})
    )
    assert served
    assert fast.headers["x-request-id"] == "lane-0001"
    # Both apps, each by the route's whole template.
    assert REGISTRY.get_sample_value("http_requests_total", labels) == before + 2


def test_the_lane_is_installed_only_on_its_route(twins: Twins) -> None:
    lane = twins.fast.fast_lane
    assert lane is not None
    assert lane.pick(_scope("POST", "/v1/requests")) is not None
    for method, path in (
        ("GET", "/v1/requests"),
        ("POST", "/v1/requests/"),
        ("POST", f"/v1/requests/{uuid.uuid4()}/submit"),
        ("PUT", "/v1/requests"),
        ("POST", "/v1/partner/requests"),
    ):
        assert lane.pick(_scope(method, path)) is None, (method, path)
