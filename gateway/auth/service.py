"""Sign-up and sign-in rules: who gets a code, when a code counts, how sessions rotate and end."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth import otp, repository
from gateway.auth.code_check import STAFF_LOGIN, check_code, code_streak
from gateway.auth.errors import InvalidCode, InvalidCredentials, InvalidRefreshToken
from gateway.auth.lockout import Lockout
from gateway.auth.passwords import Passwords
from gateway.auth.tokens import TokenIssuer, new_refresh_token, refresh_token_hash
from shared.db.identity import OtpChallenge, RefreshToken, Resident, Staff
from shared.identity import Identity, PrincipalKind
from shared.queue.contract import Job
from shared.queue.outbox import owe

log = structlog.get_logger()
PRODUCER = "gateway"


@dataclass(frozen=True)
class AuthConfig:
    """The numbers the rules need (from GatewaySettings)."""

    pepper: bytes
    otp_ttl: int
    otp_max_attempts: int
    refresh_ttl: int


@dataclass(frozen=True)
class IssuedTokens:
    """A fresh access/refresh pair."""

    access_token: str
    refresh_token: str
    expires_in: int


async def _challenge(
    session: AsyncSession,
    account: Resident | Staff,
    purpose: str,
    phone: str,
    config: AuthConfig,
) -> OtpChallenge:
    """A new code for this account and purpose, owed to the OTP queue in the same commit.

    Every older open code of the same account and purpose stops working (checklist #25): a
    code read off an old message, or an earlier sign-in's, cannot be used once a new one is
    sent."""
    code = otp.new_code()
    challenge_id = uuid.uuid4()
    expires_at = datetime.now(UTC) + timedelta(seconds=config.otp_ttl)
    is_staff = isinstance(account, Staff)
    await repository.supersede_open_challenges(
        session,
        resident_id=None if is_staff else account.id,
        staff_id=account.id if is_staff else None,
        purpose=purpose,
    )
    challenge = OtpChallenge(
        id=challenge_id,
        resident_id=None if is_staff else account.id,
        staff_id=account.id if is_staff else None,
        purpose=purpose,
        code_hash=otp.code_hash(config.pepper, challenge_id, code),
        expires_at=expires_at,
    )
    session.add(challenge)
    owe(
        session,
        Job.send_otp,
        {
            "event": "otp_code",
            **({} if is_staff else {"resident_id": str(account.id)}),
            "phone": phone,
            "language": account.preferred_language,
            "expires_at": expires_at.isoformat(),
            "values": {"code": code, "minutes": str(max(config.otp_ttl // 60, 1))},
        },
        producer=PRODUCER,
    )
    return challenge


async def register(
    session: AsyncSession,
    passwords: Passwords,
    config: AuthConfig,
    *,
    national_id: str,
    phone: str,
    password: str,
    language: str,
) -> None:
    """Create or refresh an unverified account and send a code; a verified one gets a notice."""
    password_hash = await passwords.hash(password)
    resident = await repository.resident_by_national_id(session, national_id, lock=True)
    if resident is not None and resident.verified_at is not None:
        owe(
            session,
            Job.send_sms,
            {"event": "account_exists", "resident_id": str(resident.id), "values": {}},
            producer=PRODUCER,
        )
        log.info("auth.register_existing_account")
        return
    if resident is None:
        resident = Resident(id=uuid.uuid4(), national_id=national_id)
        session.add(resident)
    resident.phone = phone
    resident.password_hash = password_hash
    resident.preferred_language = language
    await session.flush()
    await _challenge(session, resident, "register", phone, config)
    await session.flush()


async def verify_registration(
    session: AsyncSession, config: AuthConfig, *, national_id: str, code: str
) -> Resident:
    """Mark the account verified when the latest registration code is right."""
    resident = await repository.resident_by_national_id(session, national_id)
    if resident is None or resident.verified_at is not None:
        raise InvalidCode()
    challenge = await repository.latest_open_challenge(session, resident.id, "register")
    if challenge is None:
        raise InvalidCode()
    await check_code(session, config, challenge.id, code, "register")
    resident.verified_at = datetime.now(UTC)
    log.info("auth.resident_registered", resident_id=str(resident.id))
    return resident


async def check_password(
    passwords: Passwords,
    lockout: Lockout,
    login: tuple[str, str],
    account: Resident | Staff | None,
    password: str,
    *,
    usable: bool,
) -> None:
    """The password step for any account, by (kind, login ID).

    Everything here costs and answers the same whether or not the ID exists: the lock is
    kept per login ID (gateway/auth/lockout.py), a missing account is checked against a
    dummy hash, and a wrong password counts towards the ID's lock either way. `usable` is
    False for accounts that may not sign in yet or any more. Only after a right password
    does an account locked for wrong codes say so (429): no SMS is sent to be refused.
    """
    await lockout.check(*login)
    ok = await passwords.verify(account.password_hash if account is not None else None, password)
    if not ok:
        await lockout.failed(*login)
    if account is None or not ok or not usable:
        raise InvalidCredentials()
    await lockout.succeeded(*login)
    await lockout.check(*code_streak(account.id, staff=isinstance(account, Staff)))
    if passwords.needs_rehash(account.password_hash):
        # Parameters were raised since this hash was made: the password is at hand only now.
        account.password_hash = await passwords.hash(password)


async def start_login(
    session: AsyncSession,
    passwords: Passwords,
    config: AuthConfig,
    *,
    lockout: Lockout,
    national_id: str,
    password: str,
) -> tuple[OtpChallenge, str]:
    """Check the password (same cost whether or not the ID exists), then send a code."""
    resident = await repository.resident_by_national_id(session, national_id, lock=True)
    await check_password(
        passwords,
        lockout,
        ("resident", national_id),
        resident,
        password,
        usable=resident is not None and resident.verified_at is not None,
    )
    assert resident is not None  # check_password raised otherwise
    challenge = await _challenge(session, resident, "login", resident.phone, config)
    await session.flush()
    return challenge, resident.phone


async def identity_of(session: AsyncSession, account: Resident | Staff) -> Identity:
    """What the tokens of this account say: kind, language, and for staff role and departments."""
    if isinstance(account, Staff):
        return Identity(
            subject=str(account.id),
            kind=PrincipalKind.staff,
            language=account.preferred_language,
            roles=(account.role,),
            departments=tuple(await repository.staff_departments(session, account.id)),
        )
    return Identity(
        subject=str(account.id), kind=PrincipalKind.resident, language=account.preferred_language
    )


async def _issue(
    session: AsyncSession,
    issuer: TokenIssuer,
    config: AuthConfig,
    account: Resident | Staff,
    session_id: uuid.UUID,
) -> IssuedTokens:
    """A new access token and a stored refresh token for this session."""
    identity = await identity_of(session, account)
    is_staff = isinstance(account, Staff)
    refresh, refresh_hash = new_refresh_token()
    session.add(
        RefreshToken(
            resident_id=None if is_staff else account.id,
            staff_id=account.id if is_staff else None,
            session_id=session_id,
            token_hash=refresh_hash,
            expires_at=datetime.now(UTC) + timedelta(seconds=config.refresh_ttl),
        )
    )
    await session.flush()
    return IssuedTokens(issuer.issue(identity, str(session_id)), refresh, issuer.ttl)


async def finish_login(
    session: AsyncSession,
    issuer: TokenIssuer,
    config: AuthConfig,
    *,
    lockout: Lockout,
    challenge_id: uuid.UUID,
    code: str,
) -> IssuedTokens:
    """Exchange a right login code for a new session's tokens."""
    resident_id = await check_code(session, config, challenge_id, code, "login", lockout)
    resident = await session.get(Resident, resident_id)
    if resident is None or resident.verified_at is None:
        raise InvalidCode()
    log.info("auth.signed_in", resident_id=str(resident.id))
    return await _issue(session, issuer, config, resident, uuid.uuid4())


async def refresh(
    session: AsyncSession, issuer: TokenIssuer, config: AuthConfig, *, token: str
) -> tuple[IssuedTokens | None, uuid.UUID | None]:
    """Rotate a refresh token. A reused one ends its whole session (it was probably stolen)."""
    stored = await repository.refresh_token_for_update(session, refresh_token_hash(token))
    now = datetime.now(UTC)
    if stored is None or stored.revoked_at is not None or stored.expires_at <= now:
        raise InvalidRefreshToken()
    if stored.used_at is not None:
        await repository.revoke_session(session, stored.session_id, now)
        log.warning("auth.refresh_token_reused", session_id=str(stored.session_id))
        return None, stored.session_id
    stored.used_at = now
    account: Resident | Staff | None = (
        await session.get(Staff, stored.staff_id)
        if stored.staff_id
        else await session.get(Resident, stored.resident_id)
    )
    if account is None or (isinstance(account, Staff) and not account.active):
        raise InvalidRefreshToken()
    return await _issue(session, issuer, config, account, stored.session_id), None


async def logout(session: AsyncSession, session_id: uuid.UUID) -> None:
    """End the session: every refresh token of it is revoked."""
    await repository.revoke_session(session, session_id, datetime.now(UTC))


async def session_of_refresh_token(session: AsyncSession, token: str) -> uuid.UUID | None:
    """The session a refresh token belongs to, if we know it."""
    stored = await repository.refresh_token_for_update(session, refresh_token_hash(token))
    return stored.session_id if stored else None


async def start_staff_login(
    session: AsyncSession,
    passwords: Passwords,
    config: AuthConfig,
    *,
    lockout: Lockout,
    username: str,
    password: str,
) -> tuple[OtpChallenge, str]:
    """Staff sign-in, step one: the same checks and lockout as residents, then an SMS code."""
    staff = await repository.staff_by_username(session, username)
    await check_password(
        passwords,
        lockout,
        ("staff", username),
        staff,
        password,
        usable=staff is not None and staff.active,
    )
    assert staff is not None  # check_password raised otherwise
    challenge = await _challenge(session, staff, STAFF_LOGIN, staff.phone, config)
    await session.flush()
    return challenge, staff.phone


async def finish_staff_login(
    session: AsyncSession,
    issuer: TokenIssuer,
    config: AuthConfig,
    *,
    lockout: Lockout,
    challenge_id: uuid.UUID,
    code: str,
) -> IssuedTokens:
    """Staff sign-in, step two: tokens that carry role and departments."""
    staff_id = await check_code(session, config, challenge_id, code, STAFF_LOGIN, lockout)
    staff = await session.get(Staff, staff_id)
    if staff is None or not staff.active:
        raise InvalidCode()
    log.info("auth.staff_signed_in", staff_id=str(staff.id), role=staff.role)
    return await _issue(session, issuer, config, staff, uuid.uuid4())
