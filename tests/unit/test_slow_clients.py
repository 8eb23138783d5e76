"""Body deadlines, the URL limit and problem+json refusals (shared/slow_clients.py); the
timers against a real process are in tests/e2e/test_hostile_connections.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI
from uvicorn.config import Config
from uvicorn.server import ServerState

from shared.errors import install_error_handlers
from shared.slow_clients import MAX_URL_BYTES, BodyDeadlineMiddleware, GuardedHttpProtocol

Message = dict[str, Any]
IDLE, TOTAL = 0.05, 0.3


def _scope(method: str = "POST", length: int | None = 10) -> dict[str, Any]:
    headers = [(b"content-type", b"application/json")]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    return {
        "type": "http", "method": method, "path": "/echo", "raw_path": b"/echo",
        "query_string": b"", "headers": headers, "scheme": "http", "http_version": "1.1",
        "server": ("intake", 80), "client": ("10.0.0.7", 1), "root_path": "",
    }  # fmt: skip


def _client(*chunks: tuple[float, bytes]) -> Callable[[], Awaitable[Message]]:
    """A client that sends each chunk after its pause, then hangs (never finishes the body)."""
    pending = list(chunks)

    async def receive() -> Message:
        if not pending:
            await asyncio.Event().wait()
        pause, body = pending.pop(0)
        await asyncio.sleep(pause)
        return {"type": "http.request", "body": body, "more_body": True}

    return receive


async def _serve(
    app: Any, scope: dict[str, Any], receive: Any, *, idle: float = IDLE
) -> tuple[int, dict[str, Any]]:
    sent: list[Message] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(dict(message))

    async with asyncio.timeout(5):
        await BodyDeadlineMiddleware(app, idle=idle, total=TOTAL)(scope, receive, send)
    start = sent[0]
    assert (b"connection", b"close") in [(k.lower(), v) for k, v in start["headers"]]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], json.loads(body)


async def _read_body(scope: Any, receive: Any, send: Any) -> None:
    """A plain ASGI app that reads the whole body: nothing in it answers the timeout."""
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"read"})


async def test_a_body_that_pauses_past_the_idle_timeout_is_a_408() -> None:
    status, problem = await _serve(_read_body, _scope(), _client((0.0, b'{"a"')))
    assert status == 408
    assert problem["code"] == "request_timeout"
    assert problem["detail_ar"]


async def test_a_body_that_drips_within_the_idle_timeout_ends_at_the_deadline() -> None:
    # An idle timeout past the deadline, dripped on at a twentieth of it: however late a busy
    # machine wakes the client, only the whole-body deadline can pass.
    idle = 1.0
    drip = _client(*[(idle / 20, b" ")] * 100)
    started = asyncio.get_running_loop().time()
    status, _ = await _serve(_read_body, _scope(length=1000), drip, idle=idle)
    assert status == 408
    assert TOTAL <= asyncio.get_running_loop().time() - started < TOTAL + 1


async def test_fastapi_answers_the_timeout_with_its_own_handler() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/echo")
    async def echo(payload: dict[str, int]) -> dict[str, int]:
        return payload

    status, problem = await _serve(app, _scope(), _client((0.0, b'{"a"')))
    assert status == 408  # not FastAPI's 400 "error parsing the body"
    assert problem["code"] == "request_timeout"


async def test_a_whole_body_is_not_timed_while_the_app_waits_for_the_disconnect() -> None:
    pending: list[Message] = [
        {"type": "http.request", "body": b"{}", "more_body": False},
        {"type": "http.disconnect"},
    ]

    async def receive() -> Message:
        if len(pending) == 1:
            await asyncio.sleep(IDLE * 3)  # the client goes away well after the idle timeout
        return pending.pop(0)

    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append((await receive())["type"])
        seen.append((await receive())["type"])

    async def send(message: MutableMapping[str, Any]) -> None:
        raise AssertionError(message)

    await BodyDeadlineMiddleware(app, idle=IDLE, total=TOTAL)(_scope(), receive, send)
    assert seen == ["http.request", "http.disconnect"]


class _Transport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = b""
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(name)

    def write(self, data: Any) -> None:
        self.written += bytes(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


async def _feed(raw: bytes) -> tuple[_Transport, list[str]]:
    """Feed `raw` to the protocol; the paths its app was called with, and what it wrote."""
    paths: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        paths.append(scope["raw_path"].decode() + "?" + scope["query_string"].decode())
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    config = Config(app=app, lifespan="off")
    config.load()
    protocol = GuardedHttpProtocol(config=config, server_state=ServerState(), app_state={})
    transport = _Transport()
    protocol.connection_made(transport)
    protocol.data_received(raw)
    await asyncio.sleep(0)  # the app's task runs
    protocol.connection_lost(None)
    return transport, paths


async def test_a_url_at_the_limit_is_served_and_one_byte_more_is_a_414() -> None:
    target = "/v1/catalog?q=" + "a" * (MAX_URL_BYTES - len("/v1/catalog?q="))
    transport, paths = await _feed(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert paths == [target]
    assert transport.written.startswith(b"HTTP/1.1 204 ")

    transport, paths = await _feed(f"GET {target}a HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert paths == []
    head, _, body = transport.written.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 414 ")
    assert b"connection: close" in head
    assert json.loads(body)["code"] == "uri_too_long"
    assert transport.closed


async def test_what_the_parser_refuses_is_a_400_problem() -> None:
    transport, paths = await _feed(b"GET / HTTP/1.1\r\nBad Header\r\n\r\n")
    assert paths == []
    head, _, body = transport.written.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"content-type: application/problem+json" in head
    assert json.loads(body)["code"] == "malformed_request"
