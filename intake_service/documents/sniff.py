"""Decides a document's type from its first bytes; names and declared types are not trusted."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FileKind:
    """An accepted document type."""

    content_type: str
    extension: str


PDF = FileKind("application/pdf", "pdf")
PNG = FileKind("image/png", "png")
JPEG = FileKind("image/jpeg", "jpg")

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


def safe_filename(name: str | None, kind: FileKind) -> str:
    """A display name without paths or control characters, ending in the sniffed extension."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(ch for ch in base if ch.isprintable() and ch not in '<>:"|?*').strip(" .")
    stem = base.rsplit(".", 1)[0] if "." in base else base
    stem = stem[:200] or "document"
    return f"{stem}.{kind.extension}"
