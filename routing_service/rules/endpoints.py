"""/v1/admin/routing-rules: admins decide which queue requests join, effective at once."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from routing_service.deps import DB, Admin
from shared.db.catalog import ServiceType
from shared.db.routing import RoutingRule
from shared.errors import AppError, Conflict, NotFound
from shared.validation import InputModel

router = APIRouter(prefix="/v1/admin/routing-rules", tags=["routing rules"])
QUEUE = r"^[a-z][a-z0-9_]{1,63}$"


class RuleIn(InputModel):
    """A rule for a whole department, or for one of its services."""

    model_config = ConfigDict(extra="forbid")

    department_code: str = Field(min_length=1, max_length=64)
    service_code: str | None = Field(default=None, max_length=64)
    queue_code: str = Field(pattern=QUEUE)
    auto_assign: bool = True


class RuleChangeIn(InputModel):
    """Changes to a rule; fields left out stay."""

    model_config = ConfigDict(extra="forbid")

    queue_code: str | None = Field(default=None, pattern=QUEUE)
    auto_assign: bool | None = None
    active: bool | None = None


class RuleOut(BaseModel):
    """A routing rule."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    department_code: str
    service_code: str | None
    queue_code: str
    auto_assign: bool
    active: bool
    updated_at: datetime


class InvalidScope(AppError):
    """The department or service is not in the catalog, or the service is another department's."""

    status = 422
    code = "invalid_rule_scope"
    message_en = "The department or service of this rule does not exist."
    message_ar = "الإدارة أو الخدمة المحددة في القاعدة غير موجودة."


class RuleExists(Conflict):
    """Only one active rule per department or service."""

    code = "rule_exists"
    message_en = "An active rule already exists for this department or service."
    message_ar = "توجد قاعدة فعالة لهذه الإدارة أو الخدمة."


class RuleNotFound(NotFound):
    """No such rule."""

    code = "rule_not_found"


async def _check_scope(session: AsyncSession, department: str, service: str | None) -> None:
    query = select(ServiceType.code).where(ServiceType.department_code == department)
    if service is not None:
        query = query.where(ServiceType.code == service)
    if await session.scalar(query.limit(1)) is None:
        raise InvalidScope()


@router.get("", response_model=list[RuleOut])
async def list_rules(_: Admin, db: DB) -> list[RuleOut]:
    """Every rule, active or not."""
    async with db.read() as session:
        rules = await session.scalars(
            select(RoutingRule).order_by(RoutingRule.department_code, RoutingRule.service_code)
        )
        return [RuleOut.model_validate(r) for r in rules]


@router.post("", status_code=201, response_model=RuleOut)
async def create_rule(body: RuleIn, _: Admin, db: DB) -> RuleOut:
    """Add a rule; the next routed request follows it."""
    try:
        async with db.transaction() as session:
            await _check_scope(session, body.department_code, body.service_code)
            rule = RoutingRule(id=uuid.uuid4(), **body.model_dump())
            session.add(rule)
            await session.flush()
            return RuleOut.model_validate(rule)
    except IntegrityError as exc:
        raise RuleExists() from exc


@router.patch("/{rule_id}", response_model=RuleOut)
async def change_rule(rule_id: uuid.UUID, body: RuleChangeIn, _: Admin, db: DB) -> RuleOut:
    """Change a rule's queue or auto-assignment, or switch it off."""
    try:
        async with db.transaction() as session:
            rule = await session.get(RoutingRule, rule_id, with_for_update=True)
            if rule is None:
                raise RuleNotFound()
            for field, value in body.model_dump(exclude_none=True).items():
                setattr(rule, field, value)
            await session.flush()
            return RuleOut.model_validate(rule)
    except IntegrityError as exc:
        raise RuleExists() from exc


@router.delete("/{rule_id}", status_code=204, response_class=Response)
async def delete_rule(rule_id: uuid.UUID, _: Admin, db: DB) -> Response:
    """Switch a rule off (kept for the record)."""
    async with db.transaction() as session:
        rule = await session.get(RoutingRule, rule_id, with_for_update=True)
        if rule is None:
            raise RuleNotFound()
        rule.active = False
    return Response(status_code=204)
