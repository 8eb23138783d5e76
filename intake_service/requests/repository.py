"""Data access for requests, their events, documents and idempotency keys; never commits."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnClause,
    ScalarSelect,
    and_,
    func,
    literal_column,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.catalog import Department, ServiceType
from shared.db.requests import (
    REFERENCE_SEQUENCE,
    Document,
    IdempotencyKey,
    Request,
    RequestEvent,
)


async def get_owned(
    session: AsyncSession, resident_id: uuid.UUID, request_id: uuid.UUID, *, lock: bool = False
) -> Request | None:
    """The request if this resident owns it; optionally locked for a state change."""
    query = select(Request).where(Request.id == request_id, Request.resident_id == resident_id)
    if lock:
        query = query.with_for_update()
    result: Request | None = await session.scalar(query)
    return result


async def idempotency_record(
    session: AsyncSession, resident_id: uuid.UUID, key: str
) -> IdempotencyKey | None:
    """The earlier use of this Idempotency-Key by this resident, if any."""
    return await session.get(IdempotencyKey, (resident_id, key))


async def next_reference_number(session: AsyncSession) -> int:
    """Next value of the reference sequence: unique and never reused, gaps allowed."""
    value: int = await session.scalar(select(REFERENCE_SEQUENCE.next_value()))  # type: ignore[assignment]
    return value


def add_event(
    session: AsyncSession,
    request: Request,
    event_type: str,
    *,
    from_status: str | None,
    to_status: str | None,
    actor_type: str,
    actor_id: str | None,
    data: dict[str, object] | None = None,
) -> RequestEvent:
    """Append one timeline entry."""
    event = RequestEvent(
        request_id=request.id,
        type=event_type,
        from_status=from_status,
        to_status=to_status,
        actor_type=actor_type,
        actor_id=actor_id,
        data=data or {},
    )
    session.add(event)
    return event


async def page_for_resident(
    session: AsyncSession,
    resident_id: uuid.UUID,
    *,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
) -> Sequence[Request]:
    """Up to `limit` requests older than the cursor, newest first (keyset pagination)."""
    query = select(Request).where(Request.resident_id == resident_id)
    if after is not None:
        created, request_id = after
        query = query.where(
            or_(
                Request.created_at < created,
                and_(Request.created_at == created, Request.id < request_id),
            )
        )
    query = query.order_by(Request.created_at.desc(), Request.id.desc()).limit(limit)
    return (await session.scalars(query)).all()


def _documents_json() -> ScalarSelect[Any]:
    """The request's documents, oldest first, as one JSON array (correlated to Request)."""
    row = func.json_build_object(
        "id", Document.id,
        "filename", Document.filename,
        "content_type", Document.content_type,
        "size_bytes", Document.size_bytes,
        "sha256", Document.sha256,
        "scan_status", Document.scan_status,
        "created_at", Document.created_at,
    )  # fmt: skip
    return (
        select(func.coalesce(func.json_agg(aggregate_order_by(row, Document.created_at)), EMPTY))
        .where(Document.request_id == Request.id)
        .scalar_subquery()
    )


def _timeline_json() -> ScalarSelect[Any]:
    """The request's resident-visible events in order, as one JSON array."""
    row = func.json_build_object(
        "type", RequestEvent.type,
        "from_status", RequestEvent.from_status,
        "to_status", RequestEvent.to_status,
        "actor_type", RequestEvent.actor_type,
        "at", RequestEvent.created_at,
        "data", RequestEvent.data,
    )  # fmt: skip
    return (
        select(func.coalesce(func.json_agg(aggregate_order_by(row, RequestEvent.id)), EMPTY))
        .where(RequestEvent.request_id == Request.id, RequestEvent.internal.is_(False))
        .scalar_subquery()
    )


EMPTY: ColumnClause[Any] = literal_column("'[]'::json")


async def owned_with_history(
    session: AsyncSession, resident_id: uuid.UUID, request_id: uuid.UUID
) -> tuple[Request, list[dict[str, Any]], list[dict[str, Any]]] | None:
    """The resident's request with its documents and visible timeline, in one round trip.

    A request page is the most frequent read; three queries cost three socket writes each
    way, which on loopback cost more CPU than the queries themselves (py-spy --native)."""
    query = select(
        Request,
        type_coerce(_documents_json(), JSON),
        type_coerce(_timeline_json(), JSON),
    ).where(Request.id == request_id, Request.resident_id == resident_id)
    row = (await session.execute(query)).first()
    if row is None:
        return None
    return row[0], row[1], row[2]


async def documents_of(session: AsyncSession, request_id: uuid.UUID) -> Sequence[Document]:
    """The request's documents, oldest first."""
    return (
        await session.scalars(
            select(Document).where(Document.request_id == request_id).order_by(Document.created_at)
        )
    ).all()


async def count_documents(session: AsyncSession, request_id: uuid.UUID) -> int:
    """How many documents the request has."""
    count = await session.scalar(
        select(func.count()).select_from(Document).where(Document.request_id == request_id)
    )
    return int(count or 0)


async def events_of(session: AsyncSession, request_id: uuid.UUID) -> Sequence[RequestEvent]:
    """The request's timeline in order."""
    return (
        await session.scalars(
            select(RequestEvent)
            .where(RequestEvent.request_id == request_id)
            .order_by(RequestEvent.id)
        )
    ).all()


async def department_and_service(
    session: AsyncSession, department_code: str, service_code: str
) -> tuple[Department, ServiceType]:
    """The catalog rows a request points at (they exist: foreign keys guarantee it)."""
    department = await session.get(Department, department_code)
    service = await session.get(ServiceType, service_code)
    assert department is not None
    assert service is not None
    return department, service


# A resident's new draft in one statement and one round trip: the catalog check, the request,
# its first timeline event and the idempotency record. An unknown or inactive department or
# service selects no catalog row, so nothing is inserted and no row comes back. Foreign keys
# are checked at the statement's end, when the request row exists.
_INSERT_DRAFT = """
WITH service AS (
    SELECT d.code AS department_code, d.name_ar AS department_ar, d.name_en AS department_en,
           s.code AS service_code, s.name_ar AS service_ar, s.name_en AS service_en,
           s.response_time_hours
    FROM service_types s JOIN departments d ON d.code = s.department_code
    WHERE d.code = $2 AND s.code = $3 AND d.active AND s.active
), draft AS (
    INSERT INTO requests (id, resident_id, department_code, service_code, description, status)
    SELECT $1::uuid, $4::uuid, department_code, service_code, $5::text, 'draft' FROM service
    RETURNING id, created_at, updated_at
), created AS (
    INSERT INTO request_events (request_id, type, from_status, to_status, actor_type, actor_id)
    SELECT id, 'created', NULL, 'draft', 'resident', $6::text FROM draft
    RETURNING created_at
), remembered AS (
    INSERT INTO idempotency_keys (resident_id, key, request_hash, request_id)
    SELECT $4::uuid, $7::text, $8::text, id FROM draft WHERE $7::text IS NOT NULL
)
SELECT service.*, draft.id, draft.created_at, draft.updated_at, created.created_at AS event_at
FROM service, draft, created
"""


async def insert_draft(
    connection: Any,
    *,
    request_id: uuid.UUID,
    resident_id: uuid.UUID,
    department_code: str,
    service_code: str,
    description: str,
    idempotency_key: str | None,
    fingerprint: str | None,
) -> Any:
    """The new draft's timestamps and catalog names (an asyncpg Record), or None when the
    department or service is unknown or inactive. `connection` is asyncpg's own."""
    return await connection.fetchrow(
        _INSERT_DRAFT,
        request_id,
        department_code,
        service_code,
        resident_id,
        description,
        str(resident_id),
        idempotency_key,
        fingerprint,
    )
