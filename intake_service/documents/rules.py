"""The content rules every upload must pass before it is scanned, stored or recorded.

Plain functions over bytes and strings, so each rule is tested without a server. Order
matters only for the answer: the name first (it needs no parsing), then whether name,
declared type and bytes agree (415), then the structure of the bytes (422).
"""

from __future__ import annotations

from intake_service.documents import images, pdf
from intake_service.documents.errors import (
    DocumentDamaged,
    DocumentPolyglot,
    DocumentTypeMismatch,
    HostileFilename,
    ImageTooLarge,
    PdfActiveContent,
    PdfEncrypted,
    PdfTooManyPages,
    PdfUninspectable,
)
from intake_service.documents.polyglot import hides_data_after, polyglot_reason
from intake_service.documents.sniff import JPEG, PDF, PNG, FileKind
from shared.filenames import extension_of, hostile_reason

MAX_PIXELS = 40_000_000
MAX_SIDE = 10_000
MAX_PDF_PAGES = 100
# RFC 7578 §4.4: a client that does not know a file's type labels it octet-stream; that is
# no claim at all, so only the extension and the bytes must then agree.
NO_CLAIM = frozenset({"", "application/octet-stream"})


def check_name_and_type(filename: str | None, declared: str | None, kind: FileKind) -> None:
    """The name is not hostile, and its extension and the declared type match the bytes."""
    reason = hostile_reason(filename or "")
    if reason:
        raise HostileFilename(reason)
    extension = extension_of(filename)
    if extension not in kind.extensions:
        raise DocumentTypeMismatch(kind.content_type, f".{extension}" if extension else "")
    media_type = (declared or "").split(";", 1)[0].strip().lower()
    if media_type not in NO_CLAIM and media_type not in kind.declared_types:
        raise DocumentTypeMismatch(kind.content_type, media_type)


def check_image(data: bytes, kind: FileKind) -> None:
    """Dimensions within limits, and nothing hidden after the image's end."""
    try:
        facts = images.png_facts(data) if kind is PNG else images.jpeg_facts(data)
    except images.MalformedImage as exc:
        raise DocumentDamaged() from exc
    if not facts.width or not facts.height:
        raise DocumentDamaged()
    if facts.width * facts.height > MAX_PIXELS or max(facts.width, facts.height) > MAX_SIDE:
        raise ImageTooLarge(MAX_PIXELS, MAX_SIDE)
    if hides_data_after(data, facts.end):
        raise DocumentPolyglot()


def check_pdf(data: bytes) -> None:
    """Not encrypted, no active content, readable by a parser, inspectable, within the page
    limit, nothing after its last %%EOF (incremental updates keep earlier ones inside)."""
    try:
        facts = pdf.pdf_facts(data)
    except pdf.PdfTooComplex as exc:
        raise PdfUninspectable() from exc
    if facts.encrypted:
        raise PdfEncrypted()
    if facts.active:
        raise PdfActiveContent(facts.active)
    if facts.damaged:
        raise DocumentDamaged()
    if facts.uninspectable:
        raise PdfUninspectable()
    if facts.pages > MAX_PDF_PAGES:
        raise PdfTooManyPages(MAX_PDF_PAGES)
    if facts.end is None:
        raise DocumentDamaged()
    if hides_data_after(data, facts.end):
        raise DocumentPolyglot()


def check_content(data: bytes, kind: FileKind) -> None:
    """Every structural rule for the sniffed type; raises the first one broken."""
    if polyglot_reason(data, kind):
        raise DocumentPolyglot()
    if kind is PDF:
        check_pdf(data)
    elif kind in (PNG, JPEG):
        check_image(data, kind)
