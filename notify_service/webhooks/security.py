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


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_DOCUMENTATION_V6 = ipaddress.IPv6Network("3fff::/20")  # RFC 9637, newer than Python 3.11


def _ipv4_behind(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 addresses a transition form (mapped, 6to4, Teredo, NAT64, compatible) reaches."""
    if ip.ipv4_mapped is not None:
        return (ip.ipv4_mapped,)
    if ip.sixtofour is not None:
        return (ip.sixtofour,)
    if ip.teredo is not None:
        return ip.teredo  # (server, client): the client is the one dialled, both must be public
    if ip in _NAT64 or ip in _IPV4_COMPATIBLE:
        return (ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF),)
    return ()


def _global(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """`is_global`, less the special ranges Python 3.11 still calls global."""
    if isinstance(ip, ipaddress.IPv4Address):
        return ip.is_global and not ip.is_multicast
    return ip.is_global and not (
        ip.is_multicast or ip.is_reserved or ip.is_site_local or ip in _DOCUMENTATION_V6
    )


def is_public(address: str) -> bool:
    """Whether an IP address is on the public internet: the one rule for every call we make
    on a partner's behalf, at subscription and again at connect time.

    Public means `is_global` (so carrier-grade NAT, 100.64.0.0/10, where EKS pods may live,
    is not), and an IPv6 address that carries an IPv4 address is judged by what it reaches:
    every embedded IPv4 must be global. For 6to4, NAT64 and the mapped and compatible forms
    the IPv4 address alone decides: Python 3.11 calls all of 2002::/16 and 64:ff9b::/96
    global, later versions call 2002::/16 not global, and neither answer is the right one.
    """
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv4Address):
        return _global(ip)
    behind = _ipv4_behind(ip)
    if not all(_global(v4) for v4 in behind):
        return False
    if behind and ip.teredo is None:
        return True
    return _global(ip)  # Teredo's own prefix (2001::/32) is not global either


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
