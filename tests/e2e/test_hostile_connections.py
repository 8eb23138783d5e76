"""Connections that attack the server itself, not the API (checklist #34): a 1 MiB header,
heads and bodies that drip in or stop short, over-long URLs. Sent over raw sockets to the real
gateway process, because the HTTP parser that has to refuse them is uvicorn's, which
in-process tests never reach. The stack runs with short client timeouts (shared/slow_clients.py)
so each cut is seen in seconds."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.support.live import LiveStack, live_stack
from tests.support.sms_receiver import SmsReceiver

pytestmark = pytest.mark.e2e

HEADER_TIMEOUT = 2.0
BODY_TIMEOUT = 2.0
BODY_DEADLINE = 4.0
MARGIN = 3.0  # a loaded machine's scheduling, not the timeouts' own slack


@pytest.fixture(scope="module")
def strict_stack(
    backing: Any, sms: SmsReceiver, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveStack]:
    """Every process, with client timeouts short enough to watch them cut."""
    env = {
        **backing.env(),
        "SMS_PROVIDER": "webhook",
        "SMS_WEBHOOK_URL": sms.url,
        "REQUEST_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
        "REQUEST_BODY_TIMEOUT": str(BODY_TIMEOUT),
        "REQUEST_BODY_DEADLINE": str(BODY_DEADLINE),
    }
    with live_stack(env, tmp_path_factory.mktemp("logs")) as running:
        yield running


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


def _until_closed(sock: socket.socket, within: float) -> bytes:
    """Everything the server sends until it closes; fails if it is still open after `within`."""
    sock.settimeout(within)
    data = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            data += chunk
    return data


def _drip(sock: socket.socket, byte: bytes, every: float, within: float) -> bytes:
    """Send `byte` every `every` seconds, never idle long, until the server answers or closes
    (at most `within`); then everything it sends until it closes."""
    started = time.monotonic()
    sock.settimeout(every)
    data = b""
    while time.monotonic() - started < within:
        try:
            sock.sendall(byte)
            data = sock.recv(65536)
        except TimeoutError:
            continue
        except (BrokenPipeError, ConnectionResetError):
            pass
        break  # an answer, or the close (b"")
    return data + _until_closed(sock, MARGIN)


def _cut(data: bytes) -> None:
    """A cut connection: closed silently, or closed after a 408 problem."""
    if data:
        head, _, body = data.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408 "), data[:200]
        assert b"content-type: application/problem+json" in head.lower()
        assert json.loads(body)["code"] == "request_timeout"


def _problem(data: bytes) -> tuple[int, dict[str, Any]]:
    head, _, body = data.partition(b"\r\n\r\n")
    assert b"content-type: application/problem+json" in head.lower(), data[:300]
    return int(head.split(b" ", 2)[1]), json.loads(body)


def test_a_one_megabyte_header_is_refused_at_once(strict_stack: LiveStack) -> None:
    started = time.monotonic()
    with socket.create_connection(_address(strict_stack), timeout=10) as sock:
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
    with strict_stack.client() as client:  # and the gateway still serves everyone else
        assert client.get("/v1/catalog").status_code == 200


def test_a_body_that_drips_in_holds_up_no_one_else(strict_stack: LiveStack) -> None:
    stop = threading.Event()

    def drip() -> None:
        with socket.create_connection(_address(strict_stack), timeout=30) as sock:
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
        with strict_stack.client() as client:
            started = time.monotonic()
            for _ in range(20):
                assert client.get("/v1/catalog").status_code == 200
            assert time.monotonic() - started < 10  # loose: the point is "not blocked"
    finally:
        stop.set()


def test_a_query_string_that_is_not_utf8_is_a_400_not_a_500(strict_stack: LiveStack) -> None:
    with socket.create_connection(_address(strict_stack), timeout=10) as sock:
        sock.sendall(b"GET /v1/catalog?q=\xff\xfe HTTP/1.1\r\nHost: gateway\r\n\r\n")
        line = _status_line(sock)
    assert line.split()[1] == "400", line


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(
    strict_stack: LiveStack,
) -> None:
    with socket.create_connection(_address(strict_stack)) as sock:
        started = time.monotonic()
        assert _until_closed(sock, HEADER_TIMEOUT + MARGIN) == b""
    assert time.monotonic() - started >= HEADER_TIMEOUT - 0.5


def test_a_head_that_stops_halfway_is_answered_408_after_the_header_timeout(
    strict_stack: LiveStack,
) -> None:
    with socket.create_connection(_address(strict_stack)) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /v1/catalog HTTP/1.1\r\nHost: gateway\r\nX-Half: ")
        data = _until_closed(sock, HEADER_TIMEOUT + MARGIN)
    assert time.monotonic() - started >= HEADER_TIMEOUT - 0.5
    status, problem = _problem(data)
    assert status == 408
    assert problem["code"] == "request_timeout"
    assert problem["detail_ar"]


def test_a_head_that_drips_in_is_cut_at_the_header_timeout(strict_stack: LiveStack) -> None:
    with socket.create_connection(_address(strict_stack)) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /v1/catalog HTTP/1.1\r\nHost: gateway\r\nX-Drip-")
        # One byte of a header name every 0.3 s: never idle long, never done.
        data = _drip(sock, b"a", 0.3, HEADER_TIMEOUT + MARGIN)
        elapsed = time.monotonic() - started
    assert HEADER_TIMEOUT - 0.5 <= elapsed < HEADER_TIMEOUT + MARGIN
    _cut(data)


def test_a_body_that_stops_short_of_its_length_is_cut_after_the_body_timeout(
    strict_stack: LiveStack,
) -> None:
    with socket.create_connection(_address(strict_stack)) as sock:
        sock.sendall(
            b"POST /v1/auth/login HTTP/1.1\r\nHost: gateway\r\n"
            b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"national_id"'
        )
        started = time.monotonic()
        data = _until_closed(sock, BODY_TIMEOUT + MARGIN)
    assert time.monotonic() - started >= BODY_TIMEOUT - 0.5
    _cut(data)


def test_a_body_that_drips_in_is_cut_at_the_body_deadline(strict_stack: LiveStack) -> None:
    with socket.create_connection(_address(strict_stack)) as sock:
        sock.sendall(
            b"POST /v1/auth/login HTTP/1.1\r\nHost: gateway\r\n"
            b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
        )
        started = time.monotonic()
        # A byte more often than the body timeout: only the whole body's deadline ends it.
        data = _drip(sock, b" ", BODY_TIMEOUT / 4, BODY_DEADLINE + MARGIN)
        elapsed = time.monotonic() - started
    assert BODY_DEADLINE - 0.5 <= elapsed < BODY_DEADLINE + MARGIN
    _cut(data)


def test_a_body_that_drips_in_after_its_answer_is_cut_at_the_body_deadline(
    strict_stack: LiveStack,
) -> None:
    with socket.create_connection(_address(strict_stack)) as sock:
        # No token: the gateway answers 401 without reading the body.
        sock.sendall(
            b"POST /v1/requests HTTP/1.1\r\nHost: gateway\r\n"
            b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
        )
        sock.settimeout(BODY_TIMEOUT / 4)
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        assert data.startswith(b"HTTP/1.1 401 "), data[:200]
        head, body = data.split(b"\r\n\r\n", 1)
        length = int(re.search(rb"(?i)content-length: *(\d+)", head)[1])  # type: ignore[index]
        while len(body) < length:
            body += sock.recv(65536)
        answered = time.monotonic()
        # The rest of the body drips in more often than uvicorn's 5-s keep-alive timeout.
        after = _drip(sock, b" ", BODY_TIMEOUT / 4, BODY_DEADLINE + MARGIN)
        elapsed = time.monotonic() - answered
    assert after == b"", after[:200]  # nothing more after the 401: the close
    assert BODY_DEADLINE - 0.5 <= elapsed < BODY_DEADLINE + MARGIN


@pytest.mark.parametrize("size", [10 * 1024, 100 * 1024, 1024 * 1024])
def test_an_over_long_url_is_a_414_problem(strict_stack: LiveStack, size: int) -> None:
    with socket.create_connection(_address(strict_stack), timeout=10) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(
                b"GET /v1/catalog?q=" + b"a" * size + b" HTTP/1.1\r\nHost: gateway\r\n\r\n"
            )
        data = _until_closed(sock, 10)
    status, problem = _problem(data)
    assert status == 414
    assert problem["code"] == "uri_too_long"
    assert problem["detail_ar"]


def test_a_url_within_the_limit_is_served(strict_stack: LiveStack) -> None:
    path = "/v1/catalog?q=" + "a" * (8 * 1024 - len("/v1/catalog?q="))
    with strict_stack.client() as client:
        assert client.get(path).status_code == 200


def test_a_request_the_parser_refuses_is_a_400_problem(strict_stack: LiveStack) -> None:
    with socket.create_connection(_address(strict_stack), timeout=10) as sock:
        sock.sendall(b"GET /v1/catalog HTTP/1.1\r\nHost: gateway\r\nBad Header\r\n\r\n")
        data = _until_closed(sock, 10)
    status, problem = _problem(data)
    assert status == 400
    assert problem["code"] == "malformed_request"
    assert problem["detail_ar"]
