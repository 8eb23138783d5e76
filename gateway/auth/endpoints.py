"""/v1/auth: register, verify, sign in with password + SMS code, refresh, sign out, and
change one's password (residents and staff)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response

from gateway.auth import password_change, service
from gateway.auth.code_limits import limit_code_sends
from gateway.auth.errors import InvalidCode, InvalidCredentials, InvalidRefreshToken
from gateway.auth.policy import check_new_password
from gateway.auth.schemas import (
    ChallengeOut,
    ChangePasswordIn,
    CodeSentOut,
    LoginIn,
    LoginVerifyIn,
    LogoutIn,
    RefreshIn,
    RegisteredOut,
    RegisterIn,
    RegisterVerifyIn,
    TokensOut,
)
from gateway.auth.tokens import AccessClaims, InvalidToken
from gateway.db import transaction
from gateway.deps import GatewayState, client_ip, get_state
from gateway.ratelimit import Limit
from shared.validation import mask_phone

router = APIRouter(prefix="/v1/auth", tags=["auth"])
State = Annotated[GatewayState, Depends(get_state)]


async def bearer_claims(request: Request, state: State) -> AccessClaims:
    """The caller's verified token (401 without one), checked before the body is looked at."""
    return await state.guard.authenticate(request.headers.get("authorization"))


Claims = Annotated[AccessClaims, Depends(bearer_claims)]


@router.post("/register", status_code=202, response_model=CodeSentOut)
async def register(body: RegisterIn, request: Request, state: State) -> CodeSentOut:
    """Start sign-up; the answer is the same whether or not the ID is already registered."""
    await limit_code_sends(state, request, body.phone, f"resident:{body.national_id}")
    async with state.sessions() as session, session.begin():
        await service.register(
            session,
            state.passwords,
            state.auth,
            national_id=body.national_id,
            phone=body.phone,
            password=body.password,
            language=body.preferred_language,
        )
    return CodeSentOut(phone=mask_phone(body.phone), expires_in=state.auth.otp_ttl)


@router.post("/register/verify", status_code=201, response_model=RegisteredOut)
async def verify_registration(body: RegisterVerifyIn, state: State) -> RegisteredOut:
    """Finish sign-up with the SMS code; a wrong guess still counts against the code."""
    async with transaction(state.sessions, commit_on=(InvalidCode,)) as session:
        resident = await service.verify_registration(
            session, state.auth, national_id=body.national_id, code=body.code
        )
    return RegisteredOut(national_id=resident.national_id)


@router.post("/login", response_model=ChallengeOut)
async def login(body: LoginIn, request: Request, state: State) -> ChallengeOut:
    """Check ID and password, then send the sign-in code by SMS."""
    settings = state.settings
    ip = client_ip(request, settings.trusted_proxy_hops)
    await state.limiter.hit(
        "login-ip", ip, Limit(settings.login_per_ip_per_minute, 60), fail_closed=True
    )
    await state.limiter.hit(
        "login-id", body.national_id, Limit(settings.login_per_id_per_minute, 60), fail_closed=True
    )
    async with transaction(state.sessions, commit_on=(InvalidCredentials,)) as session:
        challenge, phone = await service.start_login(
            session,
            state.passwords,
            state.auth,
            lockout=state.lockout,
            national_id=body.national_id,
            password=body.password,
        )
        await limit_code_sends(state, request, phone, f"resident:{body.national_id}")
    return ChallengeOut(
        challenge_id=challenge.id, expires_in=state.auth.otp_ttl, phone=mask_phone(phone)
    )


@router.post("/login/verify", response_model=TokensOut)
async def verify_login(body: LoginVerifyIn, state: State) -> TokensOut:
    """Exchange the SMS code for an access token and a refresh token."""
    async with transaction(state.sessions, commit_on=(InvalidCode,)) as session:
        tokens = await service.finish_login(
            session,
            state.issuer,
            state.auth,
            lockout=state.lockout,
            challenge_id=body.challenge_id,
            code=body.code,
        )
    return TokensOut(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in,
    )


@router.post("/refresh", response_model=TokensOut)
async def refresh(body: RefreshIn, state: State) -> TokensOut:
    """Rotate the refresh token; presenting a used one ends the session everywhere."""
    async with state.sessions() as session, session.begin():
        tokens, reused_session = await service.refresh(
            session, state.issuer, state.auth, token=body.refresh_token
        )
    if tokens is None:
        if reused_session is not None:
            await state.guard.revoke_session(str(reused_session))
        raise InvalidRefreshToken()
    return TokensOut(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in,
    )


@router.post("/logout", status_code=204, response_class=Response)
async def logout(request: Request, state: State, body: LogoutIn | None = None) -> Response:
    """End the session of the bearer token (or of the refresh token given)."""
    session_id: uuid.UUID | None = None
    authorization = request.headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        try:
            session_id = uuid.UUID(state.issuer.verify(authorization[7:].strip()).session_id)
        except (InvalidToken, ValueError):
            session_id = None
    async with state.sessions() as session, session.begin():
        if session_id is None and body is not None and body.refresh_token:
            session_id = await service.session_of_refresh_token(session, body.refresh_token)
        if session_id is None:
            raise InvalidRefreshToken()
        await service.logout(session, session_id)
    await state.guard.revoke_session(str(session_id))
    return Response(status_code=204)


@router.post("/password", status_code=204, response_class=Response)
async def change_password(
    body: ChangePasswordIn, request: Request, state: State, claims: Claims
) -> Response:
    """Change the caller's password and sign them out everywhere, this session included.

    The current password is checked like a sign-in (same limits, same lock, same 401), so a
    stolen access token is no faster a way to guess it. Afterwards no refresh or access
    token of the account works; the client signs in again with the new password."""
    identity = claims.identity
    check_new_password(identity.kind, body.new_password, body.current_password)
    settings = state.settings
    async with transaction(state.sessions) as session:
        account = await password_change.locked_account(session, identity)
        kind, login = account.login
        await state.limiter.hit(
            "login-ip",
            client_ip(request, settings.trusted_proxy_hops),
            Limit(settings.login_per_ip_per_minute, 60),
            fail_closed=True,
        )
        await state.limiter.hit(
            "login-staff" if kind == "staff" else "login-id",
            login,
            Limit(settings.login_per_id_per_minute, 60),
            fail_closed=True,
        )
        ended = await password_change.change_password(
            session,
            state.passwords,
            state.lockout,
            account,
            current=body.current_password,
            new=body.new_password,
        )
        # The caller's own session too, even if its refresh tokens were already gone. Before
        # the commit: if Redis cannot record a revocation, nothing changes (503).
        for session_id in sorted({*map(str, ended), claims.session_id}):
            await state.guard.revoke_session(session_id)
    return Response(status_code=204)
