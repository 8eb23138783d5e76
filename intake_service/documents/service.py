"""Attach a document to a request: check, sniff, hash, store in S3, then record it."""

from __future__ import annotations

import base64
import hashlib
import uuid

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from intake_service.documents.errors import (
    DocumentTooLarge,
    EmptyDocument,
    TooManyDocuments,
    UnsupportedDocumentType,
)
from intake_service.documents.sniff import safe_filename, sniff
from intake_service.documents.storage import DocumentStore
from intake_service.requests import repository
from intake_service.requests.service import owned_or_404
from shared.db.database import Database
from shared.db.requests import Document, Request
from shared.request_status import InvalidTransition, Status

log = structlog.get_logger()

# States in which a resident may add documents.
OPEN_FOR_DOCUMENTS = {Status.draft.value, Status.awaiting_resident.value}


async def check_can_attach(
    session: AsyncSession, resident_id: uuid.UUID, request_id: uuid.UUID, limit: int
) -> Request:
    """The request, if it is the resident's, open for documents and not full."""
    request = await owned_or_404(session, resident_id, request_id)
    if request.status not in OPEN_FOR_DOCUMENTS:
        raise InvalidTransition(request.status, "add_document")
    if await repository.count_documents(session, request.id) >= limit:
        raise TooManyDocuments(limit)
    return request


async def attach(
    db: Database,
    store: DocumentStore,
    *,
    resident_id: uuid.UUID,
    request_id: uuid.UUID,
    filename: str | None,
    data: bytes,
    max_bytes: int,
    max_documents: int,
) -> Document:
    """Store the bytes in S3 first, then record them; an unrecorded upload is deleted again."""
    async with db.read() as session:
        await check_can_attach(session, resident_id, request_id, max_documents)
    if not data:
        raise EmptyDocument()
    if len(data) > max_bytes:
        raise DocumentTooLarge(max_bytes)
    kind = sniff(data[:16])
    if kind is None:
        raise UnsupportedDocumentType()
    digest = hashlib.sha256(data)
    document_id = uuid.uuid4()
    key = f"requests/{request_id}/{document_id}.{kind.extension}"
    await store.put(
        key,
        data,
        content_type=kind.content_type,
        sha256_b64=base64.b64encode(digest.digest()).decode(),
    )
    try:
        async with db.transaction() as session:
            request = await owned_or_404(session, resident_id, request_id, lock=True)
            if request.status not in OPEN_FOR_DOCUMENTS:
                raise InvalidTransition(request.status, "add_document")
            if await repository.count_documents(session, request.id) >= max_documents:
                raise TooManyDocuments(max_documents)
            document = Document(
                id=document_id,
                request_id=request.id,
                filename=safe_filename(filename, kind),
                content_type=kind.content_type,
                size_bytes=len(data),
                sha256=digest.hexdigest(),
                storage_key=key,
            )
            session.add(document)
            repository.add_event(
                session,
                request,
                "document_added",
                from_status=None,
                to_status=None,
                actor_type="resident",
                actor_id=str(resident_id),
                data={"document_id": str(document_id), "filename": document.filename},
            )
            await session.flush()
    except BaseException:
        try:
            await store.delete(key)
        except Exception:  # the original failure matters more than the clean-up's
            log.warning("documents.orphan_left", key=key)
        raise
    log.info(
        "documents.attached",
        request=str(request_id),
        document_id=str(document_id),
        size=len(data),
        content_type=kind.content_type,
    )
    return document
