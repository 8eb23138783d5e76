"""The lean upstream client (gateway/upstream.py) against servers on 127.0.0.1 that misbehave
on purpose: keep-alive connections closed under it, answers cut short, chunked and empty
answers, garbage. A raw asyncio server scripts each answer byte for byte; uvicorn serves the
keep-alive case as the services do."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import uvicorn
from fastapi import FastAPI, Request

from devstack.ports import free_port
from gateway import upstream as upstream_module
from gateway.upstream import UpstreamClosed, UpstreamPool, UpstreamUnavailable

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One request's head and its body (by Content-Length)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return head, await reader.readexactly(length) if length else b""


def _answering_once(answer: bytes) -> Script:
    """A script that reads one request, writes `answer`, and hangs up."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(answer)
        await writer.drain()

    return script


class Scripted:
    """A TCP server whose every connection runs `script`; counts connections."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.heads: list[bytes] = []

    async def __aenter__(self) -> Scripted:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            try:
                await self.script(reader, writer)
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        self.server = await asyncio.start_server(serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.server.close()
        await self.server.wait_closed()


async def test_answers_come_back_whole_whatever_their_framing() -> None:
    answers = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\nX-A: 2\r\n\r\nhello",
        b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 2\r\n\r\n\x1f\x8b",
    ]
    seen: list[bytes] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for answer in answers:
            head, body = await _read_request(reader)
            seen.append(head + body)
            writer.write(answer)
            await writer.drain()

    async with Scripted(script) as server:
        pool = UpstreamPool("127.0.0.1", server.port)
        got = [
            await pool.request("POST", "/a?x=1", [("X-Forwarded-For", "1.2.3.4")], b"{}"),
            await pool.request("GET", "/b", [], b""),
            await pool.request("DELETE", "/c", [], b""),
            await pool.request("GET", "/d", [], b""),
        ]
        pool.close()
    assert server.connections == 1  # one kept-alive connection for all four
    assert got[0] == (200, [(b"Content-Length", b"5"), (b"X-A", b"1"), (b"X-A", b"2")], b"hello")
    assert (got[1][0], got[1][2]) == (201, b"abcde")
    assert (got[2][0], got[2][2]) == (204, b"")
    assert got[3][2] == b"\x1f\x8b"  # passed on as it came, not decompressed
    assert seen[0].startswith(b"POST /a?x=1 HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"X-Forwarded-For: 1.2.3.4\r\n" in seen[0]
    assert seen[0].endswith(b"Content-Length: 2\r\n\r\n{}")
    assert b"Content-Length" not in seen[1]  # a GET without a body says nothing of one
    assert b"Content-Length: 0" in seen[2] or b"Content-Length" not in seen[2]


async def test_an_answer_cut_short_is_an_error_and_the_connection_is_dropped() -> None:
    cut_short = _answering_once(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhal")
    async with Scripted(cut_short) as server:
        pool = UpstreamPool("127.0.0.1", server.port)
        with pytest.raises(UpstreamClosed):
            await pool.request("GET", "/", [], b"")
        assert not pool._idle
        pool.close()


async def test_garbage_instead_of_an_answer_is_an_error() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"SMTP ready\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(1)

    async with Scripted(script) as server:
        pool = UpstreamPool("127.0.0.1", server.port)
        with pytest.raises(UpstreamClosed):
            await pool.request("GET", "/", [], b"")
        pool.close()


@pytest.mark.parametrize(("method", "sent_again"), [("GET", True), ("POST", False)])
async def test_a_kept_alive_connection_the_service_closed_is_retried_only_when_safe(
    method: str, sent_again: bool
) -> None:
    """The service answers once, then hangs up on the second request without a byte: an
    idempotent request goes again on a new connection; a POST may have been acted on, so
    its caller hears of it (the gateway answers 503) instead of it being sent twice."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        await _read_request(reader)  # read the next one, then close without answering

    async with Scripted(script) as server:
        pool = UpstreamPool("127.0.0.1", server.port)
        assert (await pool.request(method, "/", [], b""))[0] == 200
        if sent_again:
            assert (await pool.request(method, "/", [], b""))[0] == 200
            assert server.connections == 2
        else:
            with pytest.raises(UpstreamClosed):
                await pool.request(method, "/", [], b"")
        pool.close()


async def test_a_connection_idle_past_the_limit_is_not_reused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(upstream_module, "IDLE_LIMIT", 0.05)

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await _read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()

    async with Scripted(script) as server:
        pool = UpstreamPool("127.0.0.1", server.port)
        await pool.request("POST", "/", [], b"x")
        await asyncio.sleep(0.1)
        await pool.request("POST", "/", [], b"x")
        assert server.connections == 2
        pool.close()


async def test_connection_close_in_the_answer_is_honoured() -> None:
    closing = _answering_once(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
    async with Scripted(closing) as server:
        pool = UpstreamPool("127.0.0.1", server.port)
        await pool.request("GET", "/", [], b"")
        await pool.request("GET", "/", [], b"")
        assert server.connections == 2
        pool.close()


async def test_a_port_nobody_listens_on_is_unavailable() -> None:
    pool = UpstreamPool("127.0.0.1", free_port())
    with pytest.raises(UpstreamUnavailable):
        await pool.request("GET", "/", [], b"")


async def test_a_cancelled_call_leaves_no_connection_to_be_reused() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        await asyncio.sleep(0.5)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlate")
        await writer.drain()
        await _read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nnew")
        await writer.drain()

    async with Scripted(script) as server:
        pool = UpstreamPool("127.0.0.1", server.port)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await pool.request("GET", "/", [], b"")
        # The late answer must never be read as the next call's.
        assert not pool._idle
        pool.close()


@pytest.fixture
async def service() -> AsyncIterator[int]:
    """A uvicorn server (httptools, as the services run) that echoes the body's length."""
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"length": len(await request.body())}

    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", http="httptools")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(1000):
        if server.started:
            break
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield port
    server.should_exit = True
    await task


async def test_many_concurrent_calls_share_a_bounded_pool(service: int) -> None:
    pool = UpstreamPool("127.0.0.1", service, limit=8)
    bodies = [b"x" * size for size in (0, 1, 1000, 100_000, 3_000_000)] * 20
    answers = await asyncio.gather(*(pool.request("POST", "/echo", [], b) for b in bodies))
    assert [a[2] for a in answers] == [b'{"length":%d}' % len(b) for b in bodies]
    assert len(pool._idle) <= 8
    pool.close()
