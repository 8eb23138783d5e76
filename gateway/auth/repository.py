"""Data access for residents, challenges and refresh tokens (the gateway's own tables)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.identity import OtpChallenge, RefreshToken, Resident, Staff, StaffDepartment


async def resident_by_national_id(
    session: AsyncSession, national_id: str, *, lock: bool = False
) -> Resident | None:
    """The account for this ID, optionally locked for an update."""
    query = select(Resident).where(Resident.national_id == national_id)
    if lock:
        query = query.with_for_update()
    result: Resident | None = await session.scalar(query)
    return result


async def latest_open_challenge(
    session: AsyncSession, resident_id: uuid.UUID, purpose: str
) -> OtpChallenge | None:
    """The newest unconsumed challenge of this purpose (older ones are superseded)."""
    result: OtpChallenge | None = await session.scalar(
        select(OtpChallenge)
        .where(OtpChallenge.resident_id == resident_id, OtpChallenge.purpose == purpose)
        .order_by(OtpChallenge.created_at.desc())
        .limit(1)
    )
    if result is None or result.consumed_at is not None:
        return None
    return result


async def supersede_open_challenges(
    session: AsyncSession,
    *,
    resident_id: uuid.UUID | None,
    staff_id: uuid.UUID | None,
    purpose: str,
) -> None:
    """Close every open challenge of this account and purpose: only the newest code works."""
    owner = (
        OtpChallenge.staff_id == staff_id
        if staff_id is not None
        else OtpChallenge.resident_id == resident_id
    )
    await session.execute(
        update(OtpChallenge)
        .where(owner, OtpChallenge.purpose == purpose, OtpChallenge.consumed_at.is_(None))
        .values(consumed_at=text("now()"))
    )


async def spend_attempt(
    session: AsyncSession, challenge_id: uuid.UUID, max_attempts: int
) -> tuple[bytes, uuid.UUID | None, uuid.UUID | None, str] | None:
    """Count one guess atomically; None if the challenge is dead (used, expired, exhausted)."""
    row = (
        await session.execute(
            text(
                """
                UPDATE otp_challenges SET attempts = attempts + 1
                WHERE id = :id AND consumed_at IS NULL AND expires_at > now()
                  AND attempts < :max
                RETURNING code_hash, resident_id, staff_id, purpose
                """
            ),
            {"id": challenge_id, "max": max_attempts},
        )
    ).first()
    return (bytes(row[0]), row[1], row[2], row[3]) if row else None


async def consume(session: AsyncSession, challenge_id: uuid.UUID) -> bool:
    """Mark the challenge used; False if a concurrent call already did (single use)."""
    result = await session.execute(
        update(OtpChallenge)
        .where(OtpChallenge.id == challenge_id, OtpChallenge.consumed_at.is_(None))
        .values(consumed_at=text("now()"))
        .returning(OtpChallenge.id)
    )
    return result.first() is not None


async def staff_by_username(session: AsyncSession, username: str) -> Staff | None:
    """The staff account with this username, locked for an update."""
    result: Staff | None = await session.scalar(
        select(Staff).where(Staff.username == username).with_for_update()
    )
    return result


async def staff_departments(session: AsyncSession, staff_id: uuid.UUID) -> list[str]:
    """Codes of the departments a staff member works in."""
    rows = await session.scalars(
        select(StaffDepartment.department_code)
        .where(StaffDepartment.staff_id == staff_id)
        .order_by(StaffDepartment.department_code)
    )
    return list(rows)


async def refresh_token_for_update(session: AsyncSession, token_hash: bytes) -> RefreshToken | None:
    """The stored refresh token with this hash, locked."""
    result: RefreshToken | None = await session.scalar(
        select(RefreshToken).where(RefreshToken.token_hash == token_hash).with_for_update()
    )
    return result


async def revoke_session(session: AsyncSession, session_id: uuid.UUID, now: datetime) -> None:
    """Revoke every refresh token of a session."""
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.session_id == session_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )


async def revoke_staff_sessions(
    session: AsyncSession, staff_id: uuid.UUID, now: datetime
) -> list[uuid.UUID]:
    """Revoke every live refresh token of a staff member; the sessions they belonged to."""
    return await revoke_account_sessions(session, staff_id=staff_id, now=now)


async def revoke_account_sessions(
    session: AsyncSession,
    *,
    resident_id: uuid.UUID | None = None,
    staff_id: uuid.UUID | None = None,
    now: datetime,
) -> list[uuid.UUID]:
    """Revoke every live refresh token of one account; the sessions they belonged to."""
    owner = (
        RefreshToken.staff_id == staff_id
        if staff_id is not None
        else RefreshToken.resident_id == resident_id
    )
    rows = await session.scalars(
        update(RefreshToken)
        .where(owner, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(RefreshToken.session_id)
    )
    return sorted(set(rows))
