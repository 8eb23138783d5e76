"""The identity the gateway forwards: an HMAC-signed, short-lived header no client can forge."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from enum import StrEnum

IDENTITY_HEADER = "x-tawasul-identity"
REQUEST_ID_HEADER = "x-request-id"
IDENTITY_TTL_SECONDS = 60


class PrincipalKind(StrEnum):
    """Who is calling: a resident, department staff, or a partner system."""

    resident = "resident"
    staff = "staff"
    partner = "partner"


@dataclass(frozen=True, slots=True)
class Identity:
    """A verified caller as the services see it."""

    subject: str
    kind: PrincipalKind
    language: str = "ar"
    roles: tuple[str, ...] = ()
    departments: tuple[str, ...] = ()
    scopes: tuple[str, ...] = field(default=())


class InvalidIdentity(Exception):
    """The identity header is missing, malformed, expired or not signed by the gateway."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_identity(identity: Identity, secret: bytes, *, now: float | None = None) -> str:
    """Encode and sign the identity for one forwarded call; it expires within a minute."""
    issued = int(now if now is not None else time.time())
    payload = {
        "sub": identity.subject,
        "knd": identity.kind.value,
        "lng": identity.language,
        "rol": list(identity.roles),
        "dep": list(identity.departments),
        "scp": list(identity.scopes),
        "exp": issued + IDENTITY_TTL_SECONDS,
    }
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    mac = hmac.new(secret, body.encode("ascii"), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def verify_identity(header: str, secret: bytes, *, now: float | None = None) -> Identity:
    """Check signature and expiry, then decode; any doubt raises InvalidIdentity."""
    try:
        body, mac_text = header.split(".", 1)
        expected = hmac.new(secret, body.encode("ascii"), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(mac_text)):
            raise InvalidIdentity("bad signature")
        payload = json.loads(_unb64(body))
        if int(payload["exp"]) < int(now if now is not None else time.time()):
            raise InvalidIdentity("expired")
        return Identity(
            subject=str(payload["sub"]),
            kind=PrincipalKind(payload["knd"]),
            language=str(payload.get("lng", "ar")),
            roles=tuple(payload.get("rol", ())),
            departments=tuple(payload.get("dep", ())),
            scopes=tuple(payload.get("scp", ())),
        )
    except InvalidIdentity:
        raise
    except (ValueError, KeyError, TypeError, UnicodeError) as exc:
        raise InvalidIdentity("malformed") from exc
