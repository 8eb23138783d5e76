"""The webhook client's connections go only to the public address that was checked.

`check_target` resolves the partner's host and refuses private addresses, but the HTTP
client resolves the name again when it connects: a partner's DNS that answers a public
address first and 127.0.0.1 a moment later (DNS rebinding) would get our request inside.
Here the one resolution that is checked is the one connected to: the network backend
resolves the host, refuses unless every address is public, and connects to those addresses
itself. TLS still names the host (SNI and certificate checks use the URL's host name).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from notify_service.webhooks.security import is_public

RESOLVE_SECONDS = 3.0


class PublicOnlyBackend(httpcore.AsyncNetworkBackend):
    """httpcore's default backend, connecting only to checked public addresses."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Resolve once, check every address, connect to the first that answers."""
        try:
            async with asyncio.timeout(timeout or RESOLVE_SECONDS):
                infos = await asyncio.get_running_loop().getaddrinfo(
                    host, port, type=socket.SOCK_STREAM
                )
        except (OSError, TimeoutError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not addresses or not all(is_public(address) for address in addresses):
            raise httpcore.ConnectError(f"{host} resolves to an address that is not public")
        error: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = httpcore.ConnectError(str(exc))
        assert error is not None
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Never: a webhook is a URL on the internet."""
        raise httpcore.ConnectError("unix sockets are not webhook targets")

    async def sleep(self, seconds: float) -> None:
        """As the default backend does."""
        await self._inner.sleep(seconds)


class PublicOnlyTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a pool that uses `PublicOnlyBackend`; no proxies from the
    environment (a proxy would resolve the name itself)."""

    def __init__(self, *, max_connections: int = 100) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=max_connections,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=PublicOnlyBackend(),
        )


def webhook_client(timeout: float, *, allow_private: bool) -> httpx.AsyncClient:
    """The client deliveries use: no redirects, and public addresses only unless private
    targets are allowed (local development and tests)."""
    transport = None if allow_private else PublicOnlyTransport()
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=3.0),
        follow_redirects=False,
        transport=transport,
        trust_env=False,
    )
