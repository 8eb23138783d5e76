"""How a stored document is handed out, to staff or to its resident: only once clamd called
it clean, only the bytes that were scanned, and always as an attachment never sniffed."""

from __future__ import annotations

import hashlib
import unicodedata
from urllib.parse import quote

import structlog
from botocore.exceptions import ClientError
from fastapi import Response

from shared.db.requests import Document, ScanStatus
from shared.errors import AppError, Conflict
from shared.filenames import display_name
from shared.storage import DocumentStore

log = structlog.get_logger()

_EXTENSIONS = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}


class DocumentNotClean(Conflict):
    """Not scanned, or the scan did not say clean: never served, whoever asks."""

    code = "document_not_downloadable"

    def __init__(self, scan_status: str) -> None:
        if scan_status == ScanStatus.not_scanned:
            en = "This document has not been checked for malware, so it cannot be downloaded."
            ar = "لم يُفحص هذا المستند بحثاً عن البرمجيات الضارة، لذا لا يمكن تنزيله."
        else:
            en = "This document did not pass the security check, so it cannot be downloaded."
            ar = "لم يجتز هذا المستند الفحص الأمني، لذا لا يمكن تنزيله."
        super().__init__(en, ar, extra={"scan_status": scan_status})


class DocumentCorrupted(AppError):
    """The stored object is missing or differs from what was scanned: never served."""

    status = 500
    code = "document_integrity_failed"
    message_en = "The stored document could not be verified. Please report this."
    message_ar = "تعذر التحقق من المستند المخزن. يرجى الإبلاغ عن ذلك."


def require_clean(document: Document) -> None:
    """Only a document clamd called clean is ever handed out."""
    if document.scan_status != ScanStatus.clean:
        raise DocumentNotClean(document.scan_status)


async def read_verified(store: DocumentStore, document: Document) -> bytes:
    """The object's bytes, only if their SHA-256 is the one recorded (and scanned) at upload."""
    try:
        data = await store.read(document.storage_key)
    except ClientError as exc:
        log.error("documents.object_missing", document_id=str(document.id), error=str(exc))
        raise DocumentCorrupted() from exc
    if hashlib.sha256(data).hexdigest() != document.sha256:
        log.error("documents.integrity_failed", document_id=str(document.id))
        raise DocumentCorrupted()
    return data


def content_disposition(filename: str, content_type: str) -> str:
    """RFC 6266 `attachment` with an ASCII fallback and the exact name as UTF-8 (RFC 8187)."""
    name = display_name(filename, _EXTENSIONS.get(content_type, "bin"))
    fallback = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    fallback = "".join(c if c.isalnum() or c in "-_. ()" else "_" for c in fallback)
    stem, _, extension = fallback.rpartition(".")
    fallback = f"{stem.strip('_ .') or 'document'}.{extension}"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def attachment(data: bytes, *, filename: str, content_type: str) -> Response:
    """The bytes as a download: never rendered inline, never re-typed by the browser, never
    cached by a shared proxy, and sandboxed should anything still try to render it."""
    return Response(
        content=data,
        media_type=content_type,
        headers={
            "Content-Disposition": content_disposition(filename, content_type),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


_BYTES = {"schema": {"type": "string", "format": "binary"}}


def attachment_responses(not_found: str) -> dict[int | str, dict[str, object]]:
    """The OpenAPI answers of a download endpoint (`responses=` of the route)."""
    return {
        200: {
            "description": "The bytes, as an attachment",
            "content": {"application/pdf": _BYTES, "image/jpeg": _BYTES, "image/png": _BYTES},
        },
        404: {"description": not_found},
        409: {"description": "Not scanned, or the scan did not say clean"},
    }
