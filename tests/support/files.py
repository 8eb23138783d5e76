"""Small real files of each accepted type, and impostors."""

from __future__ import annotations

import struct
import zlib

from devstack.clamd import EICAR

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
# A well-formed PDF that carries the EICAR test string in a comment: passes the content
# rules, and clamd (devstack/clamd.py's signatures) calls it infected.
EICAR_PDF = b"%PDF-1.4\n% " + EICAR + b"\n" + PDF[len(b"%PDF-1.4\n") :]
# SOI, a JFIF APP0, a 1×1 greyscale frame header (SOF0), EOI: enough for the header checks.
JPEG = (
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    b"\xff\xc0\x00\x0b\x08\x00\x01\x00\x01\x01\x01\x11\x00"
    b"\xff\xd9"
)


def png() -> bytes:
    """A valid 1×1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00\x00"))
        + chunk(b"IEND", b"")
    )


EXE = b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 64
