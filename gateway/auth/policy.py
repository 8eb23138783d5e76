"""The password rules, in one place for sign-up, staff creation and password change.

ASVS 6.2 / numbers.md: at least 8 characters (staff, who see every resident's requests, 12),
at most 128 so one argon2 call stays bounded, no composition rules and no forced rotation.
"""

from __future__ import annotations

from gateway.auth.errors import PasswordUnchanged, WeakPassword
from shared.identity import PrincipalKind

RESIDENT_MIN_LENGTH = 8
STAFF_MIN_LENGTH = 12
MAX_LENGTH = 128


def min_length(kind: PrincipalKind) -> int:
    """The shortest password this kind of account may choose."""
    return STAFF_MIN_LENGTH if kind is PrincipalKind.staff else RESIDENT_MIN_LENGTH


def check_new_password(kind: PrincipalKind, new: str, current: str) -> None:
    """Refuse a new password that breaks the rules (checked before any hash is spent).

    Comparing with `current` compares two fields of the same body, so it tells a caller
    nothing they did not send."""
    shortest = min_length(kind)
    if len(new) < shortest:
        raise WeakPassword(
            extra={
                "min_length": shortest,
                "errors": [
                    {
                        "loc": ["body", "new_password"],
                        "msg": f"String should have at least {shortest} characters",
                        "type": "string_too_short",
                    }
                ],
            }
        )
    if new == current:
        raise PasswordUnchanged()
