"""Errors of document uploads, in both languages."""

from __future__ import annotations

from shared.errors import AppError, Conflict


class UnsupportedDocumentType(AppError):
    """The bytes are not a PDF, JPEG or PNG, whatever the name says."""

    status = 415
    code = "unsupported_document_type"
    message_en = "Only PDF, JPEG and PNG documents are accepted."
    message_ar = "تُقبل المستندات بصيغة PDF أو JPEG أو PNG فقط."


class DocumentTooLarge(AppError):
    """Over the per-document size limit."""

    status = 413
    code = "document_too_large"

    def __init__(self, limit: int) -> None:
        mb = limit // (1024 * 1024)
        super().__init__(
            f"A document may be at most {mb} MB.",
            f"الحد الأقصى لحجم المستند {mb} ميغابايت.",
            extra={"max_bytes": limit},
        )


class EmptyDocument(AppError):
    """A file with no bytes."""

    status = 422
    code = "empty_document"
    message_en = "The document is empty."
    message_ar = "المستند فارغ."


class TooManyDocuments(Conflict):
    """The request already has the most documents allowed."""

    code = "too_many_documents"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"A request may have at most {limit} documents.",
            f"الحد الأقصى لعدد المستندات في الطلب {limit}.",
            extra={"max_documents": limit},
        )
