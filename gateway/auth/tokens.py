"""Access tokens (Ed25519-signed JWT, short-lived) and opaque refresh tokens (hash kept)."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from shared.identity import Identity, PrincipalKind

ALGORITHM = "EdDSA"
LEEWAY_SECONDS = 30
VERIFIED_CACHE_SIZE = 10_000
"""Tokens remembered as verified, least recently used dropped first (about 3 MB)."""


class InvalidToken(Exception):
    """The access token is missing, forged, expired or not for us."""


@dataclass(frozen=True)
class AccessClaims:
    """What a verified access token says."""

    identity: Identity
    session_id: str
    expires_at: int
    rate_limit: int | None = None


def load_private_key(pem: bytes | None) -> Ed25519PrivateKey:
    """The configured Ed25519 key, or a fresh one (development only: tokens die on restart)."""
    if pem is None:
        return Ed25519PrivateKey.generate()
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("JWT key must be an Ed25519 private key")
    return key


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    """PEM of a key (used by `make run` to keep one key across restarts)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class TokenIssuer:
    """Signs and verifies access tokens with one key; only EdDSA is ever accepted."""

    def __init__(self, key: Ed25519PrivateKey, *, issuer: str, audience: str, ttl: int) -> None:
        self._key = key
        self._public: Ed25519PublicKey = key.public_key()
        self.issuer = issuer
        self.audience = audience
        self.ttl = ttl
        self._verified: OrderedDict[str, AccessClaims] = OrderedDict()

    def issue(self, identity: Identity, session_id: str, *, rate_limit: int | None = None) -> str:
        """A signed token carrying who the caller is and which session it belongs to."""
        now = int(time.time())
        claims: dict[str, object] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": identity.subject,
            "knd": identity.kind.value,
            "lng": identity.language,
            "sid": session_id,
            "iat": now,
            "nbf": now,
            "exp": now + self.ttl,
            "jti": uuid.uuid4().hex,
            "typ": "access",
        }
        if identity.roles:
            claims["rol"] = list(identity.roles)
        if identity.departments:
            claims["dep"] = list(identity.departments)
        if identity.scopes:
            claims["scp"] = list(identity.scopes)
        if rate_limit is not None:
            claims["rlm"] = rate_limit
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def verify(self, token: str) -> AccessClaims:
        """Check signature, algorithm, issuer, audience, times and type.

        A token that verified once is remembered until it expires: an Ed25519 check was 15%
        of the gateway's CPU per forwarded call (py-spy), and a token is presented many times
        in its ten minutes. Revocation is checked per call elsewhere, never cached."""
        cached = self._verified.get(token)
        if cached is not None:
            if time.time() <= cached.expires_at + LEEWAY_SECONDS:
                self._verified.move_to_end(token)
                return cached
            del self._verified[token]
        claims = self._verify(token)
        self._verified[token] = claims
        if len(self._verified) > VERIFIED_CACHE_SIZE:
            self._verified.popitem(last=False)
        return claims

    def _verify(self, token: str) -> AccessClaims:
        try:
            claims = jwt.decode(
                token,
                self._public,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "nbf", "sub", "aud", "iss", "sid"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc)) from exc
        if claims.get("typ") != "access":
            raise InvalidToken("not an access token")
        try:
            identity = Identity(
                subject=str(claims["sub"]),
                kind=PrincipalKind(claims["knd"]),
                language=str(claims.get("lng", "ar")),
                roles=tuple(claims.get("rol", ())),
                departments=tuple(claims.get("dep", ())),
                scopes=tuple(claims.get("scp", ())),
            )
            rate_limit = int(claims["rlm"]) if "rlm" in claims else None
        except (KeyError, ValueError, TypeError) as exc:
            raise InvalidToken("bad claims") from exc
        return AccessClaims(identity, str(claims["sid"]), int(claims["exp"]), rate_limit)


def new_refresh_token() -> tuple[str, bytes]:
    """A 256-bit opaque token and the SHA-256 we store instead of it."""
    token = secrets.token_urlsafe(32)
    return token, refresh_token_hash(token)


def refresh_token_hash(token: str) -> bytes:
    """SHA-256 of a refresh token (high entropy, so a plain hash is enough)."""
    return hashlib.sha256(token.encode()).digest()
