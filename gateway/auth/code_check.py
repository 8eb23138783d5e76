"""Judging a one-time code: one attempt of its challenge, and for sign-in codes one try of the
account's code streak (checklist #24), so guesses across new challenges add up."""

from __future__ import annotations

import uuid
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth import otp, repository
from gateway.auth.errors import InvalidCode
from gateway.auth.lockout import Lockout

STAFF_LOGIN = "staff_login"


class CodeConfig(Protocol):
    """What judging a code needs from the auth settings."""

    @property
    def pepper(self) -> bytes: ...

    @property
    def otp_max_attempts(self) -> int: ...


def code_streak(account_id: uuid.UUID, *, staff: bool) -> tuple[str, str]:
    """The lockout key of an account's wrong sign-in codes (its own, apart from passwords)."""
    return ("staff-code" if staff else "resident-code", str(account_id))


async def check_code(
    session: AsyncSession,
    config: CodeConfig,
    challenge_id: uuid.UUID,
    code: str,
    purpose: str,
    lockout: Lockout | None = None,
) -> uuid.UUID:
    """Spend one attempt on the challenge, consume it if the code is right, return its owner.

    With `lockout` (sign-in codes), the guess also counts on the account's code streak
    (checklist #24) before it is judged, and a locked account answers 429 unjudged; the
    caller's rollback then gives the challenge its attempt back. An unknown or dead
    challenge answers like a wrong code and touches no streak. Registration codes pass no
    lockout: anyone can start a registration for any pending ID, so its codes must not be
    able to lock that ID."""
    spent = await repository.spend_attempt(session, challenge_id, config.otp_max_attempts)
    if spent is None:
        raise InvalidCode()
    stored, resident_id, staff_id, stored_purpose = spent
    owner = staff_id if purpose == STAFF_LOGIN else resident_id
    if stored_purpose != purpose or owner is None:
        raise InvalidCode()
    streak = code_streak(owner, staff=purpose == STAFF_LOGIN)
    if lockout is not None:
        await lockout.attempt(*streak)
    if not otp.code_matches(config.pepper, challenge_id, code, stored):
        raise InvalidCode()
    if not await repository.consume(session, challenge_id):
        raise InvalidCode()
    if lockout is not None:
        await lockout.succeeded(*streak)
    return owner
