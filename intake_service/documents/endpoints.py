"""A resident's documents: add a PDF, JPEG or PNG to their request, and download it again."""

from __future__ import annotations

import uuid
from functools import partial

from fastapi import APIRouter, Request, Response, UploadFile

from intake_service.deps import DB, Resident, Settings
from intake_service.documents import service
from intake_service.documents.deadline import until_hung_up
from intake_service.documents.errors import DocumentTooLarge
from intake_service.requests.schemas import DocumentOut
from intake_service.settings import IntakeSettings
from shared.downloads import attachment, attachment_responses, read_verified
from shared.storage import DocumentStore

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
    responses={
        415: {"description": "Not a PDF, JPEG or PNG, or its name or declared type disagree"},
        422: {"description": "A content rule refused it, or the malware scan did"},
        503: {
            "description": "The malware scanner is unavailable, or the upload could not be "
            "stored in time; retry after Retry-After"
        },
    },
)
async def upload_document(
    request_id: uuid.UUID,
    file: UploadFile,
    request: Request,
    resident: Resident,
    db: DB,
    settings: Settings,
) -> DocumentOut:
    """The type comes from the file's magic bytes; the name's extension and the declared type
    must agree with it. Scanned for malware before it is stored when a scanner is set."""
    data = await read_upload(file, settings)
    store: DocumentStore = request.app.state.store
    document = await service.attach(
        db,
        store,
        request.app.state.scanner,
        resident_id=uuid.UUID(resident.subject),
        request_id=request_id,
        filename=file.filename,
        declared_type=file.content_type,
        data=data,
        max_bytes=settings.max_document_bytes,
        max_documents=settings.max_documents_per_request,
        within=settings.upload_timeout,
        hung_up=partial(until_hung_up, request.receive),
    )
    return DocumentOut.model_validate(document)


@router.get(
    "/{request_id}/documents/{document_id}",
    response_class=Response,
    summary="Download one of your documents",
    responses=attachment_responses("No such request or document of yours"),
)
async def download_document(
    request_id: uuid.UUID, document_id: uuid.UUID, request: Request, resident: Resident, db: DB
) -> Response:
    """The same rules as staff downloads: clean only, the bytes that were scanned, attachment."""
    async with db.read() as session:
        document = await service.own_clean_document(
            session, uuid.UUID(resident.subject), request_id, document_id
        )
    data = await read_verified(request.app.state.store, document)
    return attachment(data, filename=document.filename, content_type=document.content_type)
