"""The signed identity the gateway forwards."""

from __future__ import annotations

import pytest

from shared.identity import Identity, InvalidIdentity, PrincipalKind, sign_identity, verify_identity

SECRET = b"k" * 32
WHO = Identity(subject="abc", kind=PrincipalKind.resident, language="en")


def test_round_trip() -> None:
    assert verify_identity(sign_identity(WHO, SECRET), SECRET) == WHO


def test_other_key_is_rejected() -> None:
    with pytest.raises(InvalidIdentity):
        verify_identity(sign_identity(WHO, SECRET), b"x" * 32)


def test_tampered_body_is_rejected() -> None:
    _body, mac = sign_identity(WHO, SECRET).split(".")
    forged = sign_identity(Identity("someone-else", PrincipalKind.resident), SECRET).split(".")[0]
    with pytest.raises(InvalidIdentity):
        verify_identity(f"{forged}.{mac}", SECRET)


def test_expired_is_rejected() -> None:
    header = sign_identity(WHO, SECRET, now=1_000_000)
    with pytest.raises(InvalidIdentity):
        verify_identity(header, SECRET, now=1_000_000 + 3600)


@pytest.mark.parametrize("header", ["", "abc", "a.b.c", "!!!.???"])
def test_garbage_is_rejected(header: str) -> None:
    with pytest.raises(InvalidIdentity):
        verify_identity(header, SECRET)
