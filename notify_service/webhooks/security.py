"""Signing deliveries and refusing webhook targets that point inside our network (SSRF)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import socket
import time
from urllib.parse import urlsplit

from shared.errors import AppError

SIGNATURE_HEADER = "X-Tawasul-Signature"


class UnsafeTarget(AppError):
    """A webhook URL we will not call."""

    status = 422
    code = "unsafe_webhook_url"
    message_en = "The webhook URL must be a public HTTPS address."
    message_ar = "يجب أن يكون عنوان الإشعار عنوان HTTPS عاماً."


def webhook_secret(master_key: bytes, webhook_id: str, version: int) -> str:
    """The secret of one webhook, derived from the master key: never stored, shown once."""
    return hmac.new(master_key, f"{webhook_id}:{version}".encode(), hashlib.sha256).hexdigest()


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """`t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`: the partner checks it and the time."""
    moment = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{moment}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={moment},v1={digest}"


def verify(secret: str, header: str, body: bytes, *, tolerance: int = 300) -> bool:
    """What a partner does with the header (also used by our tests)."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        moment = int(parts["t"])
    except (ValueError, KeyError):
        return False
    if abs(time.time() - moment) > tolerance:
        return False
    # As bytes: compare_digest raises on a str with non-ASCII characters.
    return hmac.compare_digest(sign(secret, body, moment).encode(), header.encode())


def is_public(address: str) -> bool:
    """Whether an IP address is on the public internet (not ours, not special)."""
    ip = ipaddress.ip_address(address)
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


HTTPS_PORTS = frozenset({443, 8443})
"""Ports a webhook may name: web ports only, so a partner cannot make us knock on other
services (SMTP, Redis, databases) of a public host, or map which ports it has open."""


async def check_target(
    url: str, *, allow_private: bool, ports: frozenset[int] = HTTPS_PORTS
) -> None:
    """HTTPS on a web port (HTTP and any port only where private targets are allowed), and
    every address it resolves to public, so a partner cannot point us at metadata services
    or internal hosts."""
    parts = urlsplit(url)
    if (
        parts.scheme not in ({"https", "http"} if allow_private else {"https"})
        or not parts.hostname
    ):
        raise UnsafeTarget()
    if parts.username or parts.password:
        raise UnsafeTarget()
    if allow_private:
        return
    try:
        port = parts.port or 443
    except ValueError as exc:  # not a number, or out of range
        raise UnsafeTarget() from exc
    if port not in ports:
        raise UnsafeTarget()
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname, port, type=socket.SOCK_STREAM
        )
    except OSError as exc:
        raise UnsafeTarget() from exc
    if not infos or not all(is_public(str(info[4][0])) for info in infos):
        raise UnsafeTarget()
