"""Errors of document uploads, in both languages."""

from __future__ import annotations

from typing import ClassVar

from shared.errors import AppError, Conflict, NotFound


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


class DocumentTypeMismatch(AppError):
    """The name's extension or the declared type says something other than the bytes."""

    status = 415
    code = "document_type_mismatch"

    def __init__(self, detected: str, claimed: str) -> None:
        super().__init__(
            "The file name's extension and its declared type must match its contents "
            f"({detected}).",
            f"يجب أن يطابق امتداد اسم الملف ونوعه المعلن محتواه ({detected}).",
            extra={"detected_type": detected, "claimed": claimed},
        )


class HostileFilename(AppError):
    """A name that could only have been crafted or mangled; refused rather than repaired."""

    status = 422
    code = "hostile_filename"
    _MESSAGES: ClassVar[dict[str, tuple[str, str]]] = {
        "too_long": ("The file name is too long.", "اسم الملف طويل جداً."),
        "control_character": (
            "The file name contains control characters or line breaks.",
            "يحتوي اسم الملف على محارف تحكم أو فواصل أسطر.",
        ),
        "bidi_control": (
            "The file name contains text-direction control characters.",
            "يحتوي اسم الملف على محارف تحكم في اتجاه النص.",
        ),
        "path": ("The file name must not contain a path.", "يجب ألا يحتوي اسم الملف على مسار."),
    }

    def __init__(self, reason: str) -> None:
        en, ar = self._MESSAGES.get(
            reason, ("The file name is not accepted.", "اسم الملف غير مقبول.")
        )
        super().__init__(
            f"{en} Rename the file and try again.",
            f"{ar} أعد تسمية الملف وحاول مرة أخرى.",
            extra={"reason": reason},
        )


class DocumentPolyglot(AppError):
    """The bytes are also another format (an archive, a web page) or hide data after the end."""

    status = 422
    code = "document_polyglot"
    message_en = (
        "The file carries content of another kind (an archive, a web page or hidden data). "
        "Save it again as a plain PDF, JPEG or PNG."
    )
    message_ar = (
        "يحتوي الملف على محتوى من نوع آخر (أرشيف أو صفحة ويب أو بيانات مخفية). "
        "احفظه مجدداً كملف PDF أو JPEG أو PNG عادي."
    )


class DocumentDamaged(AppError):
    """The structure does not parse, so nothing about it can be checked."""

    status = 422
    code = "document_damaged"
    message_en = "The file is damaged or incomplete."
    message_ar = "الملف تالف أو غير مكتمل."


class ImageTooLarge(AppError):
    """A pixel flood: small on disk, enormous once decoded."""

    status = 422
    code = "image_dimensions_too_large"

    def __init__(self, max_pixels: int, max_side: int) -> None:
        megapixels = max_pixels // 1_000_000
        super().__init__(
            f"The image may be at most {megapixels} megapixels and {max_side} pixels per side.",
            f"الحد الأقصى للصورة {megapixels} ميغابكسل و{max_side} بكسل لكل ضلع.",
            extra={"max_pixels": max_pixels, "max_side": max_side},
        )


class PdfEncrypted(AppError):
    """An encrypted PDF cannot be scanned or read by staff."""

    status = 422
    code = "pdf_encrypted"
    message_en = "The PDF is password-protected or encrypted. Upload it without protection."
    message_ar = "ملف PDF محمي بكلمة مرور أو مشفر. ارفعه دون حماية."


class PdfActiveContent(AppError):
    """Scripts, automatic actions, embedded files or dynamic forms."""

    status = 422
    code = "pdf_active_content"

    def __init__(self, found: frozenset[str]) -> None:
        super().__init__(
            "The PDF contains scripts, automatic actions, embedded files or dynamic forms. "
            "Print it to a new PDF and upload that.",
            "يحتوي ملف PDF على نصوص برمجية أو إجراءات تلقائية أو ملفات مضمنة أو نماذج ديناميكية. "
            "اطبعه إلى ملف PDF جديد وارفعه.",
            extra={"found": sorted(found)},
        )


class PdfTooManyPages(AppError):
    """Over the page limit."""

    status = 422
    code = "pdf_too_many_pages"

    def __init__(self, max_pages: int) -> None:
        super().__init__(
            f"A PDF may have at most {max_pages} pages.",
            f"الحد الأقصى لعدد صفحات ملف PDF هو {max_pages}.",
            extra={"max_pages": max_pages},
        )


class PdfUninspectable(AppError):
    """Object streams in an encoding we do not decode, or too large to inflate: fail closed."""

    status = 422
    code = "pdf_uninspectable"
    message_en = (
        "The PDF is built in a way that cannot be checked. Print it to a new PDF and upload that."
    )
    message_ar = "ملف PDF مبني بطريقة يتعذر فحصها. اطبعه إلى ملف PDF جديد وارفعه."


class DocumentInfected(AppError):
    """The malware scanner found something; the bytes were not kept."""

    status = 422
    code = "document_rejected"
    message_en = "The file was rejected by the security check."
    message_ar = "رُفض الملف في الفحص الأمني."


class ScannerUnavailable(AppError):
    """The malware scanner is down, slow or over its limits: fail closed, the client may retry."""

    status = 503
    code = "scanner_unavailable"
    message_en = "Documents cannot be checked right now. Please try again shortly."
    message_ar = "يتعذر فحص المستندات حالياً. يرجى المحاولة بعد قليل."

    def __init__(self) -> None:
        super().__init__(headers={"Retry-After": "30"})


class DocumentNotFound(NotFound):
    """Not a document of this request (another request's looks the same as none)."""

    code = "document_not_found"
    message_en = "Document not found."
    message_ar = "المستند غير موجود."


class UploadTimedOut(AppError):
    """Checks, scan and storage did not end within UPLOAD_TIMEOUT (S3 slow, most likely), or
    the record within RECORD_BOUND: nothing was kept, the client may retry."""

    status = 503
    code = "upload_timeout"
    message_en = "The document could not be stored in time. Please try again shortly."
    message_ar = "تعذر حفظ المستند في الوقت المحدد. يرجى المحاولة بعد قليل."

    def __init__(self) -> None:
        super().__init__(headers={"Retry-After": "5"})


class ClientGone(AppError):
    """The caller hung up before the upload was recorded; the answer reaches nobody."""

    status = 499  # nginx's "client closed request", so it stands apart in the metrics
    code = "client_closed_request"
    message_en = "The request was abandoned by the client."
    message_ar = "تخلى العميل عن الطلب."
