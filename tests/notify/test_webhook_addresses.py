"""Which addresses a webhook may reach: `is_global`, judged through every IPv4-in-IPv6 form."""

from __future__ import annotations

import ipaddress

import pytest

from notify_service.webhooks.security import is_public

INSIDE = ["127.0.0.1", "10.0.0.1", "169.254.169.254", "100.64.0.1"]
PUBLIC_SERVER = "65.54.227.120"  # a Teredo server on the internet


def mapped(v4: str) -> str:
    """`::ffff:a.b.c.d`, as a dual-stack socket reports an IPv4 peer."""
    return f"::ffff:{v4}"


def sixtofour(v4: str) -> str:
    """`2002:AABB:CCDD::`, the 6to4 prefix of an IPv4 address."""
    return str(ipaddress.IPv6Address((0x2002 << 112) | (int(ipaddress.IPv4Address(v4)) << 80)))


def nat64(v4: str) -> str:
    """The IPv4 address behind the NAT64 well-known prefix."""
    return f"64:ff9b::{v4}"


def compatible(v4: str) -> str:
    """The deprecated IPv4-compatible form."""
    return f"::{v4}"


def teredo(server: str, client: str) -> str:
    """A Teredo address: server in bits 32-64, the client's address inverted in the last 32."""
    value = (0x2001 << 112) | (int(ipaddress.IPv4Address(server)) << 64)
    value |= 0xFFFF_FFFF ^ int(ipaddress.IPv4Address(client))
    return str(ipaddress.IPv6Address(value))


@pytest.mark.parametrize(
    "address",
    [
        "100.64.0.1",  # the addresses of issue 17: carrier-grade NAT, EKS pods
        "100.127.255.254",
        "2002:7f00:1::",  # 6to4 for 127.0.0.1
        *[sixtofour(v4) for v4 in INSIDE[1:]],  # 127.0.0.1's is the one above
        *[mapped(v4) for v4 in INSIDE],
        *[nat64(v4) for v4 in INSIDE],
        *[compatible(v4) for v4 in INSIDE],
        *[teredo(PUBLIC_SERVER, v4) for v4 in INSIDE],  # the client is the one dialled
        *[teredo(v4, "8.8.8.8") for v4 in INSIDE],
    ],
)
def test_an_inside_address_in_any_wrapping_is_not_public(address: str) -> None:
    assert not is_public(address)


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b:1::808:808",  # local-use NAT64 (RFC 8215) translates into our own network
        "fec0::1",  # site-local
        "3fff::1",  # documentation (RFC 9637)
        "224.0.0.1",  # multicast
        "ff0e::1",
        "::",
        "::1",
    ],
)
def test_special_ranges_python_still_calls_global_are_not_public(address: str) -> None:
    assert not is_public(address)


def test_teredo_is_not_public_even_between_public_ends() -> None:
    """2001::/32 itself is not globally reachable (IANA), whatever it carries."""
    assert not is_public(teredo(PUBLIC_SERVER, "8.8.8.8"))


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "2001:4860:4860::8888",
        sixtofour("8.8.8.8"),  # 2002:808:808::: Python 3.12+ calls all of 2002::/16 not global
        mapped("8.8.8.8"),
        nat64("8.8.8.8"),
    ],
)
def test_public_addresses_in_any_wrapping_stay_public(address: str) -> None:
    assert is_public(address)
