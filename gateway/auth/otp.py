"""One-time codes: six random digits, kept only as an HMAC bound to their challenge."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid


def new_code() -> str:
    """Six digits from the OS's CSPRNG (about 20 bits, as NIST and ASVS ask)."""
    return f"{secrets.randbelow(10**6):06d}"


def code_hash(pepper: bytes, challenge_id: uuid.UUID, code: str) -> bytes:
    """HMAC-SHA256 over challenge and code: a leaked table reveals no code."""
    return hmac.new(pepper, challenge_id.bytes + code.encode(), hashlib.sha256).digest()


def code_matches(pepper: bytes, challenge_id: uuid.UUID, code: str, stored: bytes) -> bool:
    """Constant-time comparison of a guess with the stored HMAC."""
    return hmac.compare_digest(code_hash(pepper, challenge_id, code), stored)
