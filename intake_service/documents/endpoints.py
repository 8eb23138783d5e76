"""POST /v1/requests/{id}/documents: a resident adds a PDF, JPEG or PNG to their request."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, UploadFile

from intake_service.deps import DB, Resident, Settings
from intake_service.documents import service
from intake_service.documents.errors import DocumentTooLarge
from intake_service.documents.storage import DocumentStore
from intake_service.requests.schemas import DocumentOut
from intake_service.settings import IntakeSettings

router = APIRouter(prefix="/v1/requests", tags=["documents"])


async def read_upload(file: UploadFile, settings: IntakeSettings) -> bytes:
    """The upload's bytes, refused past the size limit without reading further."""
    data = await file.read(settings.max_document_bytes + 1)
    if len(data) > settings.max_document_bytes:
        raise DocumentTooLarge(settings.max_document_bytes)
    return data


@router.post(
    "/{request_id}/documents",
    status_code=201,
    response_model=DocumentOut,
    summary="Upload a document (PDF, JPEG or PNG; 10 MB at most; 5 per request)",
)
async def upload_document(
    request_id: uuid.UUID,
    file: UploadFile,
    request: Request,
    resident: Resident,
    db: DB,
    settings: Settings,
) -> DocumentOut:
    """The type comes from the file's magic bytes, not its name or declared type."""
    data = await read_upload(file, settings)
    store: DocumentStore = request.app.state.store
    document = await service.attach(
        db,
        store,
        resident_id=uuid.UUID(resident.subject),
        request_id=request_id,
        filename=file.filename,
        data=data,
        max_bytes=settings.max_document_bytes,
        max_documents=settings.max_documents_per_request,
    )
    return DocumentOut.model_validate(document)
