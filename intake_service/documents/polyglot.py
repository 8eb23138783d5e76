"""Signs that a file is also something else: a ZIP (JAR, DOCX, APK) or a web page.

ZIP readers find an archive by its end-of-central-directory record, which must sit in the
last 64 KiB + 22 bytes (the longest archive comment); a local header together with a central
directory header anywhere is the same archive, moved. Four-byte markers in compressed data
match by chance about once per 4 GB, so real scans are not refused by accident."""

from __future__ import annotations

from intake_service.documents.sniff import PDF, FileKind

ZIP_END = b"PK\x05\x06"
ZIP_LOCAL = b"PK\x03\x04"
ZIP_CENTRAL = b"PK\x01\x02"
ZIP_END_WINDOW = 65_535 + 22
# Browsers decide a PDF is HTML from its first bytes; images must carry no markup at all.
# Literal searches over a lower-cased copy run at memchr speed, whatever the bytes are.
PDF_MARKUP_WINDOW = 1024
MARKUP = (
    b"<script",
    b"<html",
    b"<body",
    b"<head",
    b"<iframe",
    b"<svg",
    b"<object",
    b"<embed",
    b"<meta",
    b"<form",
    b"<?php",
    b"javascript:",
)
# Padding some writers leave after an image's or a PDF's end.
PADDING = b"\x00\xff\r\n\t "
TRAILING_SLACK = 32


def polyglot_reason(data: bytes, kind: FileKind) -> str | None:
    """ "zip" or "markup" when the bytes also carry another format, else None."""
    if ZIP_END in data[-ZIP_END_WINDOW:] or (ZIP_LOCAL in data and ZIP_CENTRAL in data):
        return "zip"
    window = (data[:PDF_MARKUP_WINDOW] if kind is PDF else data).lower()
    if any(marker in window for marker in MARKUP):
        return "markup"
    return None


def hides_data_after(data: bytes, end: int) -> bool:
    """Whether more than a few bytes other than padding follow the format's own end."""
    return len(data[end:].strip(PADDING)) > TRAILING_SLACK
