"""Webhook connections reach only the public address that was checked (checklist #33).

A partner's DNS can answer a public address when the URL is checked and 127.0.0.1 when the
client connects (DNS rebinding). The delivery client therefore checks the addresses it is
about to connect to, not only the URL beforehand: a name that resolves inside is refused at
connect time, and the loopback server below must never see a request.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpcore
import httpx
import pytest

from notify_service.settings import NotifySettings
from notify_service.webhooks.transport import PublicOnlyBackend, PublicOnlyTransport
from notify_service.worker import _webhook_spec


@pytest.fixture
def internal() -> Iterator[tuple[int, list[str]]]:
    """An "internal" HTTP service on loopback that records every request it gets."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append(self.path)
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], seen
    server.shutdown()
    server.server_close()


async def test_names_and_addresses_inside_are_refused_when_connecting(
    internal: tuple[int, list[str]],
) -> None:
    port, seen = internal
    async with httpx.AsyncClient(transport=PublicOnlyTransport()) as pinned:
        for host in ("localhost", "127.0.0.1", "127.1", "0x7f000001", "[::ffff:127.0.0.1]"):
            with pytest.raises(httpx.ConnectError):
                await pinned.post(f"http://{host}:{port}/hook", content=b"{}")
    assert seen == []
    async with httpx.AsyncClient() as plain:  # the same calls without pinning do get in
        await plain.post(f"http://localhost:{port}/hook", content=b"{}")
    assert seen == ["/hook"]


class _Recording(httpcore.AsyncNetworkBackend):
    """Stands where the network starts: records the address it is asked to connect to."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, int]] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.asked.append((host, port))
        raise httpcore.ConnectError("no internet here")


async def test_a_public_address_is_connected_to_as_resolved() -> None:
    inner = _Recording()
    backend = PublicOnlyBackend(inner)
    with pytest.raises(httpcore.ConnectError):
        await backend.connect_tcp("8.8.8.8", 443)
    assert inner.asked == [("8.8.8.8", 443)]  # the checked address itself, not a new lookup
    with pytest.raises(httpcore.ConnectError, match="not public"):
        await backend.connect_tcp("169.254.169.254", 80)
    assert len(inner.asked) == 1


@pytest.mark.parametrize("host", ["100.64.0.1", "100.127.255.254", "2002:7f00:1::"])
async def test_carrier_grade_nat_and_6to4_are_refused_when_connecting(host: str) -> None:
    inner = _Recording()
    with pytest.raises(httpcore.ConnectError, match="not public"):
        await PublicOnlyBackend(inner).connect_tcp(host, 443)
    assert inner.asked == []


async def test_the_webhook_worker_delivers_through_the_pinned_transport() -> None:
    for allow_private, pinned in ((False, True), (True, False)):
        settings = NotifySettings(webhook_allow_private_targets=allow_private)
        spec = _webhook_spec(settings)
        ctx: dict[str, Any] = {}
        assert spec.on_startup is not None
        await spec.on_startup(ctx)
        client: httpx.AsyncClient = ctx["webhook_client"]
        try:
            assert isinstance(client._transport, PublicOnlyTransport) is pinned
            assert client.follow_redirects is False
        finally:
            await client.aclose()


async def test_a_receiver_that_redirects_inside_is_not_followed(
    internal: tuple[int, list[str]],
) -> None:
    """A partner's endpoint answers 302 to an internal address: the delivery counts as
    failed (not delivered) and the internal service sees nothing."""
    import uuid

    from notify_service.jobs.webhooks import _post
    from notify_service.webhooks.transport import webhook_client

    port, seen = internal

    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(302)
            self.send_header("location", f"http://127.0.0.1:{port}/stolen")
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            """Quiet."""

    partner = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=partner.serve_forever, daemon=True).start()
    settings = NotifySettings(webhook_allow_private_targets=True)  # the partner is on loopback
    try:
        async with webhook_client(5, allow_private=True) as client:
            status, error = await _post(
                client,
                settings,
                f"http://127.0.0.1:{partner.server_address[1]}/hook",
                b"{}",
                "secret",
                uuid.uuid4(),
            )
    finally:
        partner.shutdown()
        partner.server_close()
    assert (status, error) == (302, "http 302")
    assert seen == []
