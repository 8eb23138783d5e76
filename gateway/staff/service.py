"""Staff management rules: only admins, only known departments, usernames unique."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth import repository
from gateway.auth.passwords import Passwords
from gateway.staff.schemas import CreateStaffIn, StaffOut, UpdateStaffIn
from shared.db.catalog import Department
from shared.db.identity import Staff, StaffDepartment
from shared.errors import AppError, Conflict, Forbidden, NotFound
from shared.identity import Identity, PrincipalKind


class UnknownDepartment(AppError):
    """A department code that is not in the catalog."""

    status = 422
    code = "unknown_department"
    message_en = "One of the departments does not exist."
    message_ar = "إحدى الإدارات غير موجودة."


class UsernameTaken(Conflict):
    """Usernames are unique."""

    code = "username_taken"
    message_en = "This username is already in use."
    message_ar = "اسم المستخدم مستخدم مسبقاً."


class StaffNotFound(NotFound):
    """No such staff account."""

    code = "staff_not_found"


def require_admin(identity: Identity) -> None:
    """Only an admin manages staff; residents and other staff get 403."""
    if identity.kind is not PrincipalKind.staff or "admin" not in identity.roles:
        raise Forbidden()


async def _check_departments(session: AsyncSession, codes: list[str]) -> list[str]:
    unique = sorted(set(codes))
    if unique:
        found = set(
            await session.scalars(select(Department.code).where(Department.code.in_(unique)))
        )
        if found != set(unique):
            raise UnknownDepartment(extra={"unknown": sorted(set(unique) - found)})
    return unique


async def _set_departments(session: AsyncSession, staff_id: uuid.UUID, codes: list[str]) -> None:
    await session.execute(delete(StaffDepartment).where(StaffDepartment.staff_id == staff_id))
    session.add_all(StaffDepartment(staff_id=staff_id, department_code=c) for c in codes)
    await session.flush()


async def to_out(session: AsyncSession, staff: Staff) -> StaffOut:
    """The API view of a staff account."""
    return StaffOut(
        id=staff.id,
        username=staff.username,
        full_name=staff.full_name,
        phone=staff.phone,
        role=staff.role,
        departments=await repository.staff_departments(session, staff.id),
        active=staff.active,
        preferred_language=staff.preferred_language,
    )


async def create(session: AsyncSession, passwords: Passwords, body: CreateStaffIn) -> Staff:
    """A new staff account with its departments."""
    departments = await _check_departments(session, body.departments)
    if await repository.staff_by_username(session, body.username) is not None:
        raise UsernameTaken()
    staff = Staff(
        id=uuid.uuid4(),
        username=body.username,
        full_name=body.full_name,
        phone=body.phone,
        password_hash=await passwords.hash(body.password),
        role=body.role,
        preferred_language=body.preferred_language,
    )
    session.add(staff)
    await session.flush()
    await _set_departments(session, staff.id, departments)
    return staff


async def update(
    session: AsyncSession, staff_id: uuid.UUID, body: UpdateStaffIn
) -> tuple[Staff, list[uuid.UUID]]:
    """Apply an admin's changes; returns the account and the sessions that had to end.

    Tokens carry role and departments, so a change of either, or a deactivation, ends every
    session of the account (checklist #32): its refresh tokens are revoked here, and the
    caller revokes the sessions' access tokens, which would otherwise keep the old rights
    until they expire."""
    staff = await session.get(Staff, staff_id, with_for_update=True)
    if staff is None:
        raise StaffNotFound()
    before = (staff.role, staff.active, await repository.staff_departments(session, staff.id))
    for field in ("full_name", "phone", "role", "active"):
        value = getattr(body, field)
        if value is not None:
            setattr(staff, field, value)
    if body.departments is not None:
        await _set_departments(
            session, staff.id, await _check_departments(session, body.departments)
        )
    await session.flush()
    after = (staff.role, staff.active, await repository.staff_departments(session, staff.id))
    ended: list[uuid.UUID] = []
    if after != before:
        ended = await repository.revoke_staff_sessions(session, staff.id, datetime.now(UTC))
    return staff, ended


async def listing(session: AsyncSession) -> list[Staff]:
    """Every staff account, by username."""
    return list(await session.scalars(select(Staff).order_by(Staff.username)))
