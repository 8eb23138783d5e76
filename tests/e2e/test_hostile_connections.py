"""Connections that attack the server itself, not the API (checklist #34): a 1 MiB header
and a body that drips in. Sent over raw sockets to the real gateway process, because the
HTTP parser that has to refuse them is uvicorn's, which in-process tests never reach."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from urllib.parse import urlsplit

import pytest

from tests.support.live import LiveStack

pytestmark = pytest.mark.e2e


def _address(stack: LiveStack) -> tuple[str, int]:
    parts = urlsplit(stack.url)
    assert parts.hostname
    assert parts.port
    return parts.hostname, parts.port


def _status_line(sock: socket.socket) -> str:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\r\n", 1)[0].decode("latin-1")


def test_a_one_megabyte_header_is_refused_at_once(webhook_stack: LiveStack) -> None:
    started = time.monotonic()
    with socket.create_connection(_address(webhook_stack), timeout=10) as sock:
        # Refused before it finished sending is as good an answer as a status.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(
                b"GET /v1/catalog HTTP/1.1\r\nHost: gateway\r\nX-Big: "
                + b"a" * (1024 * 1024)
                + b"\r\n\r\n"
            )
        line = _status_line(sock)
    assert line == "" or line.split()[1] in ("400", "413", "431"), line
    assert time.monotonic() - started < 5
    with webhook_stack.client() as client:  # and the gateway still serves everyone else
        assert client.get("/v1/catalog").status_code == 200


def test_a_body_that_drips_in_holds_up_no_one_else(webhook_stack: LiveStack) -> None:
    stop = threading.Event()

    def drip() -> None:
        with socket.create_connection(_address(webhook_stack), timeout=30) as sock:
            sock.sendall(
                b"POST /v1/auth/login HTTP/1.1\r\nHost: gateway\r\n"
                b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
            )
            while not stop.wait(0.5):
                try:
                    sock.sendall(b" ")
                except OSError:
                    return

    drippers = [threading.Thread(target=drip, daemon=True) for _ in range(20)]
    for thread in drippers:
        thread.start()
    try:
        time.sleep(1)
        with webhook_stack.client() as client:
            started = time.monotonic()
            for _ in range(20):
                assert client.get("/v1/catalog").status_code == 200
            assert time.monotonic() - started < 10  # loose: the point is "not blocked"
    finally:
        stop.set()


def test_a_query_string_that_is_not_utf8_is_a_400_not_a_500(webhook_stack: LiveStack) -> None:
    with socket.create_connection(_address(webhook_stack), timeout=10) as sock:
        sock.sendall(b"GET /v1/catalog?q=\xff\xfe HTTP/1.1\r\nHost: gateway\r\n\r\n")
        line = _status_line(sock)
    assert line.split()[1] == "400", line
