"""Dependencies of the routing endpoints: the calling staff member, their scope, the database."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from routing_service.settings import RoutingSettings
from shared.db.database import Database, get_db
from shared.errors import Forbidden
from shared.http import identity_from
from shared.identity import PrincipalKind


@dataclass(frozen=True)
class StaffMember:
    """A verified staff caller and what they may reach."""

    id: uuid.UUID
    role: str
    departments: frozenset[str]

    @property
    def is_admin(self) -> bool:
        """Admins reach every department."""
        return self.role == "admin"

    @property
    def supervises(self) -> bool:
        """Supervisors (and admins) see and reassign everything in their departments."""
        return self.role in {"supervisor", "admin"}

    def covers(self, department_code: str) -> bool:
        """Whether this department is within the caller's scope."""
        return self.is_admin or department_code in self.departments


async def current_staff(request: Request) -> StaffMember:
    """The staff member the gateway vouched for; residents and partners get 403."""
    settings: RoutingSettings = request.app.state.settings
    identity = identity_from(request, settings.internal_auth_secret.get_secret_value().encode())
    if identity.kind is not PrincipalKind.staff or not identity.roles:
        raise Forbidden()
    return StaffMember(
        id=uuid.UUID(identity.subject),
        role=identity.roles[0],
        departments=frozenset(identity.departments),
    )


async def require_admin(staff: Annotated[StaffMember, Depends(current_staff)]) -> StaffMember:
    """Only admins manage routing rules."""
    if not staff.is_admin:
        raise Forbidden()
    return staff


async def require_supervisor(
    staff: Annotated[StaffMember, Depends(current_staff)],
) -> StaffMember:
    """Supervisors and admins: checked before the call's parameters, so nobody else learns
    even what a valid call would look like."""
    if not staff.supervises:
        raise Forbidden()
    return staff


DB = Annotated[Database, Depends(get_db)]
Staff = Annotated[StaffMember, Depends(current_staff)]
Supervisor = Annotated[StaffMember, Depends(require_supervisor)]
Admin = Annotated[StaffMember, Depends(require_admin)]
