"""The gateway remembers verified access tokens, but never past their expiry."""

from __future__ import annotations

import time

import pytest

from gateway.auth import tokens
from gateway.auth.tokens import AccessClaims, InvalidToken, TokenIssuer, load_private_key
from shared.identity import Identity, PrincipalKind


def _issuer() -> TokenIssuer:
    return TokenIssuer(load_private_key(None), issuer="iss", audience="aud", ttl=600)


def _identity(subject: str = "r-1") -> Identity:
    return Identity(subject=subject, kind=PrincipalKind.resident)


def test_a_verified_token_is_served_from_memory_the_second_time() -> None:
    issuer = _issuer()
    token = issuer.issue(_identity(), "session-1")
    first = issuer.verify(token)
    assert issuer._verified[token] is first
    assert issuer.verify(token) is first


def test_an_expired_entry_is_dropped_and_the_token_checked_again() -> None:
    issuer = _issuer()
    stale = AccessClaims(_identity(), "session-1", int(time.time()) - tokens.LEEWAY_SECONDS - 5)
    issuer._verified["not-a-jwt"] = stale
    with pytest.raises(InvalidToken):
        issuer.verify("not-a-jwt")
    assert "not-a-jwt" not in issuer._verified


def test_a_forged_token_is_never_remembered() -> None:
    issuer = _issuer()
    other = _issuer().issue(_identity(), "session-1")
    with pytest.raises(InvalidToken):
        issuer.verify(other)
    assert other not in issuer._verified


def test_the_cache_keeps_only_the_most_recently_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "VERIFIED_CACHE_SIZE", 2)
    issuer = _issuer()
    issued = [issuer.issue(_identity(f"r-{n}"), f"s-{n}") for n in range(3)]
    for token in issued:
        issuer.verify(token)
    assert list(issuer._verified) == issued[1:]
