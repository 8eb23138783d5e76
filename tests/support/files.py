"""Small real files of each accepted type, and impostors."""

from __future__ import annotations

import struct
import zlib

from devstack.clamd import EICAR

# The smallest PDF a reader opens: a catalog, a page tree and one page (no xref table, so
# readers rebuild it, as they do for many real files).
PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
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


_SCRIPTED = (
    b"<</Type /Catalog /Pages 4 0 R /OpenAction 3 0 R>>",
    b"<</S /JavaScript /JS (app.alert(1))>>",
    b"<</Type /Pages /Kids [5 0 R] /Count 1>>",
    b"<</Type /Page /Parent 4 0 R /MediaBox [0 0 612 792]>>",
)
_HARMLESS = (b"<</Type /Catalog /Pages 4 0 R>>", b"<<>>", *_SCRIPTED[2:])


def _object_stream(objects: tuple[bytes, ...], *, padding: int, typed: bool) -> bytes:
    """Object 1: a Flate object stream holding `objects` as objects 2, 3, ..."""
    offsets, bodies = [], b""
    for body in objects:
        offsets.append(len(bodies))
        bodies += body + b"\n"
    pairs = zip(range(2, 2 + len(objects)), offsets, strict=True)
    index = b" ".join(b"%d %d" % pair for pair in pairs) + b"\n"
    packed = zlib.compress(index + bodies)
    kind = b"/Type /ObjStm " if typed else b""
    return (
        b"1 0 obj\n<<%s/N %d /First %d /Filter /FlateDecode /Length %d"
        % (kind, len(objects), len(index), len(packed))
        + b" " * padding
        + b">>\nstream\n"
        + packed
        + b"\nendstream\nendobj\n"
    )


def _xref_stream(number: int, at: int, rows: list[tuple[int, int, int]], keys: bytes) -> bytes:
    """Cross-reference stream `number` at offset `at` with `rows` (type, field 2, field 3),
    and `startxref` pointing at it."""
    table = b"".join(struct.pack(">BIH", *row) for row in rows)
    return (
        b"%d 0 obj\n<</Type /XRef /W [1 4 2] %s /Length %d>>\nstream\n" % (number, keys, len(table))
        + table
        + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % at
    )


def pdf_with_hidden_script(
    *, padding: int = 5000, typed: bool = True, hidden_by: str | None = None, script: bool = True
) -> bytes:
    """A valid PDF whose catalog runs JavaScript on opening (`/OpenAction`), kept in a
    Flate-compressed object stream whose dictionary is padded with `padding` spaces and,
    unless `typed`, has no `/Type /ObjStm`; a cross-reference stream points into it, as in
    the attack run of issue 17. Readers (pypdf strict, qpdf) find the action.

    `hidden_by="update"` appends an incremental update that rewrites the objects in plain
    text and frees the object stream: the signed version a reader can show still runs it.
    `hidden_by="duplicate"` puts a harmless object stream numbered 1, which the table points
    to, before the scripted one: a reader that rebuilds the table takes the later one.
    `script=False` leaves the script out: the same file, harmless."""
    head = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
    scripted = _object_stream(_SCRIPTED if script else _HARMLESS, padding=padding, typed=typed)
    compressed = [(2, 1, i) for i in range(len(_SCRIPTED))]
    if hidden_by == "duplicate":
        out = head + _object_stream(_HARMLESS, padding=0, typed=True) + scripted
        rows = [(0, 0, 65535), (1, len(head), 0), *compressed, (1, len(out), 0)]
        return out + _xref_stream(6, len(out), rows, b"/Size 7 /Root 2 0 R")
    out = head + scripted
    rows = [(0, 0, 65535), (1, len(head), 0), *compressed, (1, len(out), 0)]
    out += _xref_stream(6, len(out), rows, b"/Size 7 /Root 2 0 R")
    if hidden_by != "update":
        return out
    previous = len(head) + len(scripted)
    rows = [(0, 0, 0)]  # object 1, the object stream, is free from here on
    for number, body in enumerate(_HARMLESS, start=2):
        rows.append((1, len(out), 0))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    rows.append((1, len(out), 0))
    keys = b"/Index [1 5 7 1] /Size 8 /Root 2 0 R /Prev %d" % previous
    return out + _xref_stream(7, len(out), rows, keys)
