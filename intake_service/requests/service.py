"""Business rules of a request's life in intake: draft, submit, read, list."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy.ext.asyncio import AsyncSession

from intake_service.catalog.repository import active_service
from intake_service.requests import repository
from intake_service.requests.errors import (
    DescriptionRequired,
    RequestNotFound,
    UnknownService,
)
from intake_service.requests.schemas import (
    DocumentOut,
    Label,
    NamedRef,
    RequestOut,
    RequestPageOut,
    RequestSummaryOut,
    ServiceRef,
    TimelineEventOut,
)
from shared import pagination
from shared.db.requests import Document, Request, RequestEvent
from shared.queue.contract import Job
from shared.queue.outbox import owe
from shared.request_status import Action, InvalidTransition, Status, label, next_status
from shared.workflow import transition

RIYADH = timezone(timedelta(hours=3))
PRODUCER = "intake"


def format_reference(year: int, number: int) -> str:
    """Human-readable reference, e.g. TW-2026-00001234."""
    return f"TW-{year}-{number:08d}"


async def owned_or_404(
    session: AsyncSession, resident_id: uuid.UUID, request_id: uuid.UUID, *, lock: bool = False
) -> Request:
    """The resident's own request; anyone else's is indistinguishable from a missing one."""
    request = await repository.get_owned(session, resident_id, request_id, lock=lock)
    if request is None:
        raise RequestNotFound()
    return request


async def submit(session: AsyncSession, resident_id: uuid.UUID, request_id: uuid.UUID) -> Request:
    """Submit a draft: reference, timeline event, and routing plus an SMS owed, in one commit."""
    request = await owned_or_404(session, resident_id, request_id, lock=True)
    next_status(Action.submit, request.status)  # 409 before any reference is spent
    if not request.description.strip():
        raise DescriptionRequired()
    if await active_service(session, request.department_code, request.service_code) is None:
        raise UnknownService()
    now = datetime.now(UTC)
    number = await repository.next_reference_number(session)
    request.reference = format_reference(now.astimezone(RIYADH).year, number)
    request.submitted_at = now
    transition(
        session,
        request,
        Action.submit,
        actor_type="resident",
        actor_id=str(resident_id),
        producer=PRODUCER,
        data={"reference": request.reference},
        now=now,
    )
    owe(session, Job.route_request, {"request_id": str(request.id)}, producer=PRODUCER)
    await session.flush()
    return request


def encode_cursor(request: Request) -> str:
    """Opaque cursor pointing just past this request."""
    return pagination.encode_cursor(request.created_at, request.id)


decode_cursor = pagination.decode_cursor


def summary(request: Request) -> RequestSummaryOut:
    """The list view of a request."""
    return RequestSummaryOut(
        id=request.id,
        reference=request.reference,
        status=request.status,
        status_label=Label(**label(request.status)),
        department_code=request.department_code,
        service_code=request.service_code,
        created_at=request.created_at,
        submitted_at=request.submitted_at,
    )


async def page(
    session: AsyncSession, resident_id: uuid.UUID, *, limit: int, cursor: str | None
) -> RequestPageOut:
    """One page of the resident's requests, newest first."""
    after = decode_cursor(cursor) if cursor else None
    rows = await repository.page_for_resident(session, resident_id, limit=limit + 1, after=after)
    items = list(rows[:limit])
    next_cursor = encode_cursor(items[-1]) if len(rows) > limit and items else None
    return RequestPageOut(items=[summary(r) for r in items], next_cursor=next_cursor)


CATALOG_TTL = 60.0
_CATALOG: dict[tuple[str, str], tuple[float, NamedRef, ServiceRef]] = {}


async def catalog_refs(
    session: AsyncSession, department_code: str, service_code: str
) -> tuple[NamedRef, ServiceRef]:
    """The department and service a request points at, as every request page shows them.

    They change a few times a year, so each process keeps them for a minute: a request page
    then costs no catalog queries."""
    key = (department_code, service_code)
    cached = _CATALOG.get(key)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1], cached[2]
    department, service = await repository.department_and_service(
        session, department_code, service_code
    )
    refs = (
        NamedRef(code=department.code, name_ar=department.name_ar, name_en=department.name_en),
        ServiceRef(
            code=service.code,
            name_ar=service.name_ar,
            name_en=service.name_en,
            response_time_hours=service.response_time_hours,
        ),
    )
    _CATALOG[key] = (time.monotonic() + CATALOG_TTL, *refs)
    return refs


async def detail(
    session: AsyncSession, request: Request, *, fresh: RequestEvent | None = None
) -> RequestOut:
    """The full view: status, department, service, documents and timeline.

    `fresh` is the only event of a draft made in this transaction: it has no documents and
    no other events, so neither is read back."""
    if fresh is not None:
        documents: Sequence[Document] = []
        events: Sequence[RequestEvent] = [fresh]
    else:
        documents = await repository.documents_of(session, request.id)
        events = await repository.events_of(session, request.id)
    timeline = [
        TimelineEventOut(
            type=e.type,
            from_status=e.from_status,
            to_status=e.to_status,
            actor_type=e.actor_type,
            at=e.created_at,
            data=e.data,
        )
        for e in events
        if not e.internal
    ]
    return await _request_out(
        session, request, [DocumentOut.model_validate(d) for d in documents], timeline
    )


async def view(session: AsyncSession, resident_id: uuid.UUID, request_id: uuid.UUID) -> RequestOut:
    """The resident's own request page, read in one query; anyone else's is a 404."""
    found = await repository.owned_with_history(session, resident_id, request_id)
    if found is None:
        raise RequestNotFound()
    request, documents, timeline = found
    return await _request_out(
        session,
        request,
        [DocumentOut(**{**d, "created_at": _utc(d["created_at"])}) for d in documents],
        [TimelineEventOut(**{**e, "at": _utc(e["at"])}) for e in timeline],
    )


async def _request_out(
    session: AsyncSession,
    request: Request,
    documents: list[DocumentOut],
    timeline: list[TimelineEventOut],
) -> RequestOut:
    """The resident's view of a request, however its documents and timeline were read."""
    department, service = await catalog_refs(session, request.department_code, request.service_code)
    return RequestOut(
        id=request.id,
        reference=request.reference,
        status=request.status,
        status_label=Label(**label(request.status)),
        department=department,
        service=service,
        description=request.description,
        documents=documents,
        timeline=timeline,
        created_at=request.created_at,
        submitted_at=request.submitted_at,
        updated_at=request.updated_at,
        rating=request.rating,
        origin=origin_of(request),
    )


def _utc(text: str) -> datetime:
    """A timestamp as Postgres wrote it into JSON, in UTC like those read as columns."""
    return datetime.fromisoformat(text).astimezone(UTC)


async def resident_action(
    session: AsyncSession,
    resident_id: uuid.UUID,
    request_id: uuid.UUID,
    action: Action,
    data: dict[str, object],
) -> Request:
    """respond or withdraw: the resident's own moves, through the one state machine."""
    request = await owned_or_404(session, resident_id, request_id, lock=True)
    transition(
        session,
        request,
        action,
        actor_type="resident",
        actor_id=str(resident_id),
        producer=PRODUCER,
        data=data,
    )
    await session.flush()
    return request


async def rate(
    session: AsyncSession,
    resident_id: uuid.UUID,
    request_id: uuid.UUID,
    score: int,
    comment: str | None,
) -> Request:
    """Rate a resolved request once (1–5); rating closes it."""
    request = await owned_or_404(session, resident_id, request_id, lock=True)
    now = datetime.now(UTC)
    transition(
        session,
        request,
        Action.rate,
        actor_type="resident",
        actor_id=str(resident_id),
        producer=PRODUCER,
        data={"score": score},
        now=now,
    )
    request.rating = score
    request.rating_comment = comment
    request.rated_at = now
    await session.flush()
    return request


async def edit_draft(
    session: AsyncSession, resident_id: uuid.UUID, request_id: uuid.UUID, description: str
) -> Request:
    """Change a draft's description (a hand-off draft arrives without one)."""
    request = await owned_or_404(session, resident_id, request_id, lock=True)
    if request.status != Status.draft.value:
        raise InvalidTransition(request.status, "edit")
    request.description = description
    request.version += 1
    request.updated_at = datetime.now(UTC)
    await session.flush()
    return request


def origin_of(request: Request) -> dict[str, object] | None:
    """The failed e-service a hand-off came from, if any."""
    if request.origin_service is None:
        return None
    return {
        "service": request.origin_service,
        "error_code": request.origin_error_code,
        "transaction_reference": request.origin_reference,
        "data": request.origin_data or {},
    }
