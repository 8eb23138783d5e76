"""Decides a document's type from its first bytes; names and declared types are only checked
against it (rules.py), never trusted on their own."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FileKind:
    """An accepted document type, with the names and declared types that may go with it."""

    content_type: str
    extension: str
    extensions: frozenset[str]
    declared_types: frozenset[str]


PDF = FileKind("application/pdf", "pdf", frozenset({"pdf"}), frozenset({"application/pdf"}))
PNG = FileKind("image/png", "png", frozenset({"png"}), frozenset({"image/png"}))
# image/jpg and image/pjpeg are what some phones and old browsers send for a JPEG.
JPEG = FileKind(
    "image/jpeg",
    "jpg",
    frozenset({"jpg", "jpeg"}),
    frozenset({"image/jpeg", "image/jpg", "image/pjpeg"}),
)

_SIGNATURES: tuple[tuple[bytes, FileKind], ...] = (
    (b"%PDF-", PDF),
    (b"\x89PNG\r\n\x1a\n", PNG),
    (b"\xff\xd8\xff", JPEG),
)


def sniff(head: bytes) -> FileKind | None:
    """The accepted type whose magic bytes start `head`, or None."""
    for magic, kind in _SIGNATURES:
        if head.startswith(magic):
            return kind
    return None
