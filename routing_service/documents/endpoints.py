"""GET /v1/staff/requests/{id}/documents/{document_id}: a clean document, as an attachment."""

from __future__ import annotations

import uuid

import structlog
from fastapi import APIRouter, Request, Response

from routing_service.deps import DB, Staff
from routing_service.documents import service
from shared.downloads import attachment, attachment_responses, read_verified
from shared.storage import DocumentStore

router = APIRouter(prefix="/v1/staff", tags=["staff workspace"])
log = structlog.get_logger()


@router.get(
    "/requests/{request_id}/documents/{document_id}",
    response_class=Response,
    summary="Download a document of a request in your departments",
    responses=attachment_responses("No such request or document in your departments"),
)
async def download(
    request_id: uuid.UUID, document_id: uuid.UUID, staff: Staff, db: DB, request: Request
) -> Response:
    """Streamed through us, never a link to S3, so the bucket stays private and each download
    passes the same access check as the request page."""
    async with db.read() as session:
        document = await service.downloadable(session, staff, request_id, document_id)
    store: DocumentStore = request.app.state.store
    data = await read_verified(store, document)
    log.info("documents.downloaded", document_id=str(document.id), staff_id=str(staff.id))
    return attachment(data, filename=document.filename, content_type=document.content_type)
