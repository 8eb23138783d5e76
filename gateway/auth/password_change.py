"""Changing one's own password ends every session of the account (checklist #32).

Whoever changes a password may be locking out someone who learnt the old one, so nothing
obtained with the old password may outlive the change: every refresh token of the account
is revoked here, the open sign-in codes (sent after the old password was accepted) stop
working, and the caller denies the sessions' access tokens in Redis before committing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth import repository
from gateway.auth.code_check import STAFF_LOGIN
from gateway.auth.errors import InvalidAccessToken
from gateway.auth.lockout import Lockout
from gateway.auth.passwords import Passwords
from gateway.auth.service import check_password
from shared.db.identity import Resident, Staff
from shared.errors import Forbidden
from shared.identity import Identity, PrincipalKind

log = structlog.get_logger()
MAX_REVOKE_PASSES = 10
"""Bound on the revoke-until-nothing-is-left loop (each extra pass needs a racing refresh)."""


@dataclass(frozen=True)
class Account:
    """The signed-in account, locked for the change, and the login ID its lock is kept by."""

    row: Resident | Staff
    login: tuple[str, str]


async def locked_account(session: AsyncSession, identity: Identity) -> Account:
    """The caller's own account row, locked; partners have no password to change (403).

    A token whose account is gone answers like any dead token (401)."""
    if identity.kind not in (PrincipalKind.resident, PrincipalKind.staff):
        raise Forbidden()
    try:
        account_id = uuid.UUID(identity.subject)
    except ValueError as exc:
        raise InvalidAccessToken() from exc
    if identity.kind is PrincipalKind.staff:
        staff = await session.get(Staff, account_id, with_for_update=True)
        if staff is None:
            raise InvalidAccessToken()
        return Account(staff, ("staff", staff.username))
    resident = await session.get(Resident, account_id, with_for_update=True)
    if resident is None:
        raise InvalidAccessToken()
    return Account(resident, ("resident", resident.national_id))


async def change_password(
    session: AsyncSession,
    passwords: Passwords,
    lockout: Lockout,
    account: Account,
    *,
    current: str,
    new: str,
) -> list[uuid.UUID]:
    """Check the current password as sign-in does, store the new one, end every session.

    A wrong current password counts towards the same per-login-ID lock as a wrong sign-in
    (gateway/auth/lockout.py), so a stolen access token cannot be used to guess the password
    any faster than the sign-in page allows. Returns the sessions whose access tokens the
    caller must deny before committing."""
    row = account.row
    is_staff = isinstance(row, Staff)
    usable = row.active if isinstance(row, Staff) else row.verified_at is not None
    await check_password(passwords, lockout, account.login, row, current, usable=usable)
    row.password_hash = await passwords.hash(new)
    await repository.supersede_open_challenges(
        session,
        resident_id=None if is_staff else row.id,
        staff_id=row.id if is_staff else None,
        purpose=STAFF_LOGIN if is_staff else "login",
    )
    ended = await _revoke_all(session, row)
    log.info(
        "auth.password_changed",
        **({"staff_id": str(row.id)} if is_staff else {"resident_id": str(row.id)}),
        sessions_ended=len(ended),
    )
    return ended


async def _revoke_all(session: AsyncSession, row: Resident | Staff) -> list[uuid.UUID]:
    """Revoke until a pass finds nothing live.

    A refresh that locked its token before our UPDATE reached it commits a new token our
    statement cannot see (READ COMMITTED); our UPDATE then waited for it and revoked the old
    one, so that pass returned rows. The next statement sees the new token. A pass that
    revokes nothing met no such refresh, and later ones wait for our commit and find their
    token revoked."""
    is_staff = isinstance(row, Staff)
    ended: set[uuid.UUID] = set()
    now = datetime.now(UTC)
    for _ in range(MAX_REVOKE_PASSES):
        revoked = await repository.revoke_account_sessions(
            session,
            resident_id=None if is_staff else row.id,
            staff_id=row.id if is_staff else None,
            now=now,
        )
        if not revoked:
            break
        ended.update(revoked)
    return sorted(ended)
