"""/v1/partner: partner systems file, document, submit and follow requests for residents."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, UploadFile

from intake_service.deps import DB, Settings
from intake_service.documents import service as documents
from intake_service.documents.deadline import until_hung_up
from intake_service.documents.endpoints import read_upload
from intake_service.partner import service
from intake_service.partner.schemas import HandoffIn, PartnerRequestIn
from intake_service.requests import drafts
from intake_service.requests import service as requests
from intake_service.requests.schemas import (
    CreateRequestIn,
    DocumentOut,
    RequestOut,
    RequestPageOut,
)
from shared import pagination
from shared.errors import Forbidden
from shared.http import identity_from
from shared.identity import Identity, PrincipalKind

router = APIRouter(prefix="/v1/partner", tags=["partner"])


async def current_partner(request: Request) -> Identity:
    """The partner system the gateway vouched for (scopes checked per call); residents and
    staff get 403 here, before the body is read or validated."""
    settings = request.app.state.settings
    identity = identity_from(request, settings.internal_auth_secret.get_secret_value().encode())
    if identity.kind is not PrincipalKind.partner:
        raise Forbidden()
    return identity


Partner = Annotated[Identity, Depends(current_partner)]


@router.post("/requests", status_code=201, response_model=RequestOut)
async def file_request(body: PartnerRequestIn, partner: Partner, db: DB) -> RequestOut:
    """A draft for the resident with this national ID and phone (needs requests:write)."""
    service.require_partner(partner, "requests:write")
    service.require_department(partner, body.department_code)
    async with db.transaction() as session:
        resident = await service.resident_for(session, body.resident)
        draft = CreateRequestIn(
            department_code=body.department_code,
            service_code=body.service_code,
            description=body.description,
        )
        created, event = await drafts.create_draft(
            session, resident.id, draft, idempotency_key=None
        )
        created.partner_client_id = uuid.UUID(partner.subject)
        await session.flush()
        return await requests.detail(session, created, fresh=event)


@router.post("/handoffs", status_code=201, response_model=RequestOut)
async def hand_off(body: HandoffIn, partner: Partner, db: DB) -> RequestOut:
    """A failed e-service opens a pre-filled draft; the resident completes and submits it."""
    service.require_partner(partner, "requests:write")
    async with db.transaction() as session:
        return await requests.detail(session, await service.handoff(session, partner, body))


@router.post("/requests/{request_id}/documents", status_code=201, response_model=DocumentOut)
async def upload(
    request_id: uuid.UUID,
    file: UploadFile,
    request: Request,
    partner: Partner,
    db: DB,
    settings: Settings,
) -> DocumentOut:
    """Attach a document to a draft the partner filed."""
    service.require_partner(partner, "requests:write")
    async with db.read() as session:
        target = await service.filed(session, partner, request_id)
    document = await documents.attach(
        db,
        request.app.state.store,
        request.app.state.scanner,
        resident_id=target.resident_id,
        request_id=request_id,
        filename=file.filename,
        declared_type=file.content_type,
        data=await read_upload(file, settings),
        max_bytes=settings.max_document_bytes,
        max_documents=settings.max_documents_per_request,
        within=settings.upload_timeout,
        hung_up=partial(until_hung_up, request.receive),
    )
    return DocumentOut.model_validate(document)


@router.post("/requests/{request_id}/submit", response_model=RequestOut)
async def submit(request_id: uuid.UUID, partner: Partner, db: DB) -> RequestOut:
    """Submit a draft the partner filed; the resident gets the same SMS as if they had."""
    service.require_partner(partner, "requests:write")
    async with db.transaction() as session:
        target = await service.filed(session, partner, request_id, lock=True)
        submitted = await requests.submit(session, target.resident_id, request_id)
        return await requests.detail(session, submitted)


@router.get("/requests/{request_id}", response_model=RequestOut)
async def read(request_id: uuid.UUID, partner: Partner, db: DB) -> RequestOut:
    """A request the partner filed, or a submitted one its scope covers; any other is 404."""
    service.require_partner(partner, "requests:read")
    async with db.read() as session:
        return await requests.detail(session, await service.readable(session, partner, request_id))


@router.get("/requests", response_model=RequestPageOut)
async def list_requests(
    partner: Partner,
    db: DB,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> RequestPageOut:
    """Requests the partner filed or may read, newest first."""
    service.require_partner(partner, "requests:read")
    after = pagination.decode_cursor(cursor) if cursor else None
    async with db.read() as session:
        rows = await service.page(session, partner, limit=limit + 1, after=after)
    items = list(rows[:limit])
    next_cursor = requests.encode_cursor(items[-1]) if len(rows) > limit and items else None
    return RequestPageOut(items=[requests.summary(r) for r in items], next_cursor=next_cursor)
