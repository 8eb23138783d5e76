"""/v1/staff/auth (sign-in with password + SMS code) and /v1/admin/staff (admins only)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from gateway.auth import service as auth
from gateway.auth.code_limits import limit_code_sends
from gateway.auth.errors import InvalidCode, InvalidCredentials
from gateway.auth.schemas import ChallengeOut, LoginVerifyIn, TokensOut
from gateway.db import transaction
from gateway.deps import GatewayState, client_ip, get_state
from gateway.ratelimit import Limit
from gateway.staff import service
from gateway.staff.schemas import CreateStaffIn, StaffLoginIn, StaffOut, UpdateStaffIn
from shared.identity import Identity
from shared.validation import mask_phone

router = APIRouter(tags=["staff"])
State = Annotated[GatewayState, Depends(get_state)]


async def current_admin(request: Request, state: State) -> Identity:
    """The signed-in admin, or 401/403."""
    claims = await state.guard.authenticate(request.headers.get("authorization"))
    service.require_admin(claims.identity)
    return claims.identity


Admin = Annotated[Identity, Depends(current_admin)]


@router.post("/v1/staff/auth/login", response_model=ChallengeOut)
async def staff_login(body: StaffLoginIn, request: Request, state: State) -> ChallengeOut:
    """Check username and password, then send the sign-in code to the staff phone."""
    settings = state.settings
    ip = client_ip(request, settings.trusted_proxy_hops)
    await state.limiter.hit(
        "login-ip", ip, Limit(settings.login_per_ip_per_minute, 60), fail_closed=True
    )
    await state.limiter.hit(
        "login-staff",
        body.username,
        Limit(settings.login_per_id_per_minute, 60),
        fail_closed=True,
    )
    async with transaction(state.sessions, commit_on=(InvalidCredentials,)) as session:
        challenge, phone = await auth.start_staff_login(
            session,
            state.passwords,
            state.auth,
            lockout=state.lockout,
            username=body.username,
            password=body.password,
        )
        await limit_code_sends(state, request, phone, f"staff:{body.username}")
    return ChallengeOut(
        challenge_id=challenge.id, expires_in=state.auth.otp_ttl, phone=mask_phone(phone)
    )


@router.post("/v1/staff/auth/login/verify", response_model=TokensOut)
async def staff_login_verify(body: LoginVerifyIn, state: State) -> TokensOut:
    """Exchange the code for tokens carrying role and departments (refresh: /v1/auth/refresh)."""
    async with transaction(state.sessions, commit_on=(InvalidCode,)) as session:
        tokens = await auth.finish_staff_login(
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


@router.post("/v1/admin/staff", status_code=201, response_model=StaffOut)
async def create_staff(body: CreateStaffIn, state: State, _: Admin) -> StaffOut:
    """Create an officer, supervisor or admin in the given departments."""
    async with transaction(state.sessions) as session:
        staff = await service.create(session, state.passwords, body)
        return await service.to_out(session, staff)


@router.get("/v1/admin/staff", response_model=list[StaffOut])
async def list_staff(state: State, _: Admin) -> list[StaffOut]:
    """Every staff account."""
    async with state.sessions() as session:
        return [await service.to_out(session, s) for s in await service.listing(session)]


@router.patch("/v1/admin/staff/{staff_id}", response_model=StaffOut)
async def update_staff(
    staff_id: uuid.UUID, body: UpdateStaffIn, state: State, _: Admin
) -> StaffOut:
    """Change role, departments, phone or name, or deactivate. A change of role or departments,
    or a deactivation, signs the member out everywhere at once."""
    async with transaction(state.sessions) as session:
        staff, ended = await service.update(session, staff_id, body)
        for session_id in ended:  # before the commit: if Redis fails, nothing changes (503)
            await state.guard.revoke_session(str(session_id))
        return await service.to_out(session, staff)
