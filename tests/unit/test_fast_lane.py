"""shared/fast_lane.py on a small app: what a lane handler raises is answered as FastAPI would,
a declined call reaches FastAPI with its body, and the app's middleware wraps lane calls."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from fastapi import Request
from starlette.types import Receive, Scope, Send

from shared.errors import AppError, install_error_handlers
from shared.fast_lane import LANE_INPUT, LaneRoute, ServiceApp, install
from shared.http import RequestContextMiddleware


class Teapot(AppError):
    status = 418
    code = "teapot"
    message_en = "I am a teapot."
    message_ar = "أنا إبريق شاي."


def _app(handle: Any, prepare: Any = None) -> ServiceApp:
    app = ServiceApp()
    install_error_handlers(app)

    @app.post("/things")
    async def things(request: Request) -> dict[str, Any]:
        return {"served_by": "fastapi", "body": (await request.body()).decode()}

    @app.post("/other")
    async def other() -> dict[str, str]:
        return {"served_by": "fastapi"}

    app.add_middleware(RequestContextMiddleware)
    assert install(app, {things: LaneRoute(handle, prepare, max_body=100)}) is not None
    return app


async def _post(app: ServiceApp, path: str = "/things", **kwargs: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
        return await client.post(path, **kwargs)


async def _json_answer(send: Send, body: dict[str, Any]) -> None:
    content = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": content})


async def test_an_app_error_in_a_lane_handler_is_the_app_s_problem() -> None:
    async def handle(scope: Scope, receive: Receive, send: Send) -> None:
        raise Teapot()

    answer = await _post(_app(handle), json={})
    assert answer.status_code == 418
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "teapot"
    assert answer.headers["x-request-id"]  # inside the app's own middleware


async def test_a_crash_in_a_lane_handler_is_the_app_s_500_problem() -> None:
    async def handle(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    answer = await _post(_app(handle), json={})
    assert answer.status_code == 500
    assert answer.json()["code"] == "internal_error"


async def test_only_the_lane_route_takes_the_lane() -> None:
    async def handle(scope: Scope, receive: Receive, send: Send) -> None:
        await _json_answer(send, {"served_by": "lane"})

    app = _app(handle)
    assert (await _post(app, json={})).json() == {"served_by": "lane"}
    assert (await _post(app, "/other")).json() == {"served_by": "fastapi"}
    assert (await _post(app, "/missing")).status_code == 404


@pytest.mark.parametrize(
    ("content", "lane"),
    [
        (b'{"ok": true}', True),
        (b'{"ok": false}', False),  # prepare declines
        (b'{"ok": true, "pad": "' + b"x" * 200 + b'"}', False),  # over max_body: never read
    ],
)
async def test_prepare_reads_the_body_and_a_declined_call_reaches_fastapi_whole(
    content: bytes, lane: bool
) -> None:
    def prepare(scope: Scope, body: bytes) -> object | None:
        data = json.loads(body)
        return data if data.get("ok") else None

    async def handle(scope: Scope, receive: Receive, send: Send) -> None:
        await _json_answer(send, {"served_by": "lane", "input": scope[LANE_INPUT]})

    answer = await _post(_app(handle, prepare), content=content)
    if lane:
        assert answer.json() == {"served_by": "lane", "input": {"ok": True}}
    else:
        assert answer.json() == {"served_by": "fastapi", "body": content.decode()}


async def test_a_prepare_that_fails_declines_the_call() -> None:
    def prepare(scope: Scope, body: bytes) -> object | None:
        raise ValueError("cannot read it")

    async def handle(scope: Scope, receive: Receive, send: Send) -> None:
        raise AssertionError("the lane must not serve this call")

    answer = await _post(_app(handle, prepare), content=b"{}")
    assert answer.json() == {"served_by": "fastapi", "body": "{}"}
