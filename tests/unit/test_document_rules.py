"""The content rules of uploads (reliability checklist #35, #36), on files built in the test."""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib

import pytest

from intake_service.documents import errors, rules
from intake_service.documents import pdf as pdf_rules
from intake_service.documents.sniff import JPEG, PDF, PNG, FileKind
from shared.errors import AppError
from tests.support import files


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png(width: int = 1, height: int = 1, *, extra: bytes = b"", after: bytes = b"") -> bytes:
    """A PNG whose header claims `width`×`height`; nothing is decoded, so the pixels need not
    exist (which is exactly how a pixel flood is built)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + extra
        + _chunk(b"IDAT", zlib.compress(b"\x00\x00"))
        + _chunk(b"IEND", b"")
        + after
    )


def jpeg(width: int = 1, height: int = 1, *, app1: bytes = b"", after: bytes = b"") -> bytes:
    """SOI, an optional APP1, a frame header, a tiny scan (with a stuffed 0xFF00), EOI."""
    segments = b"\xff\xd8"
    if app1:
        segments += b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1
    segments += b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    segments += b"\xff\xda" + struct.pack(">H", 8) + b"\x01\x01\x00\x00\x3f\x00"
    return segments + b"\x12\xff\x00\x34\xff\xd0\x56" + b"\xff\xd9" + after


def pdf(*objects: bytes, tail: bytes = b"") -> bytes:
    """A one-page PDF (catalog 1, page tree 2, page 3) with the given object bodies after it,
    numbered from 4, ending in %%EOF."""
    body = files.PDF[: files.PDF.index(b"trailer")]
    for number, content in enumerate(objects, start=4):
        body += b"%d 0 obj\n" % number + content + b"\nendobj\n"
    return body + b"trailer\n<</Root 1 0 R>>\n%%EOF\n" + tail


def object_stream(content: bytes, *filters: bytes) -> bytes:
    """An object stream holding `content`, deflated unless other filters are named."""
    data = zlib.compress(content) if not filters else content
    names = b"".join(filters) or b"/FlateDecode"
    return (
        b"<</Type /ObjStm /N 1 /First 4 /Filter %s /Length %d>>\nstream\n" % (names, len(data))
        + data
        + b"\nendstream"
    )


def _refused(data: bytes, kind: FileKind) -> AppError:
    with pytest.raises(AppError) as caught:
        rules.check_content(data, kind)
    return caught.value


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (files.PDF, PDF),
        (files.png(), PNG),
        (files.JPEG, JPEG),
        (png(6000, 6000), PNG),
        (png(after=b"\x00" * 200), PNG),  # padding after IEND is no payload
        (jpeg(app1=b"Exif\x00\x00" + jpeg()), JPEG),  # a thumbnail's own EOI is not the end
        (pdf(b"<</Producer (scanner)>>"), PDF),
        (pdf() + pdf(b"<</Info 1>>")[9:], PDF),  # an incremental update
        (pdf(object_stream(b"9 0 <</Producer (scanner)>>")), PDF),
        (pdf(object_stream(b"9 0 <</Producer (scanner)>>".hex().encode(), b"/AHx")), PDF),
    ],
)
def test_ordinary_documents_pass(data: bytes, kind: FileKind) -> None:
    rules.check_content(data, kind)


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("payload.class", b"\xca\xfe\xba\xbe")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (files.PDF + _zip(), PDF),
        (pdf(b"<</Type /Catalog>>", _zip()), PDF),
        (png(after=_zip()), PNG),
        (b"%PDF-1.4\n<html><script>alert(1)</script>\n" + files.PDF[9:], PDF),
        (png(extra=_chunk(b"tEXt", b"c\x00<script>alert(1)</script>")), PNG),
        (jpeg(app1=b"<?php system($_GET['c']); ?>"), JPEG),
        (png(after=b"#!/bin/sh\nrm -rf ~\n" * 4), PNG),
        (jpeg(after=b"MZ" + b"\x90" * 100), JPEG),
        (files.PDF + b"hidden payload after the end of file, " * 3, PDF),
    ],
)
def test_polyglots_and_hidden_data_are_refused(data: bytes, kind: FileKind) -> None:
    assert isinstance(_refused(data, kind), errors.DocumentPolyglot)


@pytest.mark.parametrize(
    "data",
    [png(50_000, 50_000), png(10_001, 10), png(7000, 7000), jpeg(20_000, 20_000)],
)
def test_pixel_floods_are_refused_from_the_header(data: bytes) -> None:
    kind = PNG if data.startswith(b"\x89PNG") else JPEG
    refusal = _refused(data, kind)
    assert isinstance(refusal, errors.ImageTooLarge)
    assert refusal.status == 422


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (png()[:30], PNG),
        (png(0, 0), PNG),
        (b"\x89PNG\r\n\x1a\n" + _chunk(b"IDAT", b"") + _chunk(b"IEND", b""), PNG),
        (files.JPEG.replace(b"\xff\xc0", b"\xff\xe2"), JPEG),  # no frame header
        (jpeg()[:-2], JPEG),  # no EOI
        (b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\n", PDF),  # no %%EOF
    ],
)
def test_damaged_files_are_refused(data: bytes, kind: FileKind) -> None:
    assert isinstance(_refused(data, kind), errors.DocumentDamaged)


def test_encrypted_pdf_is_refused() -> None:
    data = pdf(b"<</Filter /Standard /V 2>>").replace(
        b"<</Root 1 0 R>>", b"<</Root 1 0 R /Encrypt 4 0 R>>"
    )
    assert isinstance(_refused(data, PDF), errors.PdfEncrypted)


@pytest.mark.parametrize(
    "catalog",
    [
        b"<</Type /Catalog /OpenAction 2 0 R>>",
        b"<</Type /Catalog /Names <</JavaScript 3 0 R>>>>",
        b"<</S /JavaScript /JS (app.alert(1))>>",
        b"<</Type /Catalog /OpenAction <</S /J#61vaScript /J#53 (x)>>>>",  # hex-escaped
        b"<</Type /Action /S /Launch /F (cmd.exe)>>",
        b"<</Type /Catalog /Names <</EmbeddedFiles 4 0 R>>>>",
        b"<</Type /Filespec /EF <</F 5 0 R>> /Subtype /EmbeddedFile>>",
        b"<</Type /Page /AA <</O 6 0 R>>>>",
        b"<</Type /Annot /Subtype /RichMedia>>",
        b"<</Type /Catalog /AcroForm <</XFA 7 0 R>>>>",
    ],
)
def test_active_content_in_pdfs_is_refused(catalog: bytes) -> None:
    refusal = _refused(pdf(catalog), PDF)
    assert isinstance(refusal, errors.PdfActiveContent)
    assert refusal.extra["found"]


def test_active_content_inside_a_compressed_object_stream_is_found() -> None:
    hidden = object_stream(b"9 0 <</S /JavaScript /JS (app.alert(1))>>")
    assert isinstance(_refused(pdf(hidden), PDF), errors.PdfActiveContent)


def test_active_content_inside_a_hex_encoded_object_stream_is_found() -> None:
    hidden = object_stream(b"9 0 <</S /JavaScript>>".hex().encode(), b"/ASCIIHexDecode")
    assert isinstance(_refused(pdf(hidden), PDF), errors.PdfActiveContent)


@pytest.mark.parametrize("typed", [True, False], ids=["typed", "without-type"])
@pytest.mark.parametrize("padding", [0, 5000, 100_000])
def test_a_script_in_an_object_stream_behind_a_padded_dictionary_is_found(
    padding: int, typed: bool
) -> None:
    """Issue 17: the dictionary was searched only in the 4 KiB before `stream`."""
    data = files.pdf_with_hidden_script(padding=padding, typed=typed)
    refusal = _refused(data, PDF)
    assert isinstance(refusal, errors.PdfActiveContent)
    assert refusal.extra["found"] == ["OpenAction"]


@pytest.mark.parametrize("hidden_by", ["update", "duplicate"])
def test_a_script_in_an_object_stream_the_table_leaves_out_is_found(hidden_by: str) -> None:
    """An earlier revision (a signed version a reader shows) or the object a reader takes
    when it rebuilds the table: the newest table alone never points at the script."""
    data = files.pdf_with_hidden_script(padding=0, hidden_by=hidden_by)
    refusal = _refused(data, PDF)
    assert isinstance(refusal, errors.PdfActiveContent)
    assert refusal.extra["found"] == ["OpenAction"]


@pytest.mark.parametrize("hidden_by", [None, "update", "duplicate"])
def test_the_same_files_without_the_script_pass(hidden_by: str | None) -> None:
    data = files.pdf_with_hidden_script(padding=0, hidden_by=hidden_by, script=False)
    rules.check_content(data, PDF)


def test_an_object_stream_whose_length_is_wrong_is_refused() -> None:
    """qpdf recovers the length of the stream that holds the catalog while it opens the
    file; what it then reads is not what the dictionary declares."""
    data = files.pdf_with_hidden_script(padding=0, script=False)
    declared = re.search(rb"/Length (\d+)", data)
    assert declared
    wrong = data[: declared.start(1)] + b"%d" % (int(declared[1]) + 7) + data[declared.end(1) :]
    assert isinstance(_refused(wrong, PDF), errors.PdfUninspectable)


@pytest.mark.parametrize(
    "filters",
    [b"/LZWDecode", b"/DCTDecode", b"/FooDecode", b"[/FlateDecode /JBIG2Decode]"],
)
def test_object_stream_in_an_encoding_we_do_not_decode_is_refused(filters: bytes) -> None:
    hidden = object_stream(b"9 0 <</Producer (x)>>", filters)
    assert isinstance(_refused(pdf(hidden), PDF), errors.PdfUninspectable)


def test_object_stream_that_does_not_inflate_is_refused() -> None:
    hidden = object_stream(b"not deflated at all", b"/FlateDecode")
    assert isinstance(_refused(pdf(hidden), PDF), errors.PdfUninspectable)


def test_pdf_no_reader_can_open_is_damaged() -> None:
    no_pages = b"%PDF-1.7\n1 0 obj<</Type /Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    assert isinstance(_refused(no_pages, PDF), errors.DocumentDamaged)


def test_pdf_over_the_page_limit_is_refused() -> None:
    more = [b"<</Type /Page /Parent 2 0 R>>"] * rules.MAX_PDF_PAGES  # and pdf()'s own page
    assert isinstance(_refused(pdf(*more), PDF), errors.PdfTooManyPages)
    rules.check_content(pdf(*more[1:]), PDF)


@pytest.mark.parametrize(
    ("name", "declared", "kind"),
    [
        ("scan.pdf", "application/pdf", PDF),
        ("SCAN.PDF", "application/pdf; charset=binary", PDF),
        ("photo.jpeg", "image/jpeg", JPEG),
        ("photo.jpg", "image/pjpeg", JPEG),
        ("photo.png", "application/octet-stream", PNG),  # RFC 7578: no claim
        ("photo.png", None, PNG),
        ("جواز السفر.pdf", "application/pdf", PDF),
        ("passport 😀.png", "image/png", PNG),
        ("scan.2024.05.pdf", "application/pdf", PDF),
    ],
)
def test_name_type_and_bytes_that_agree_pass(
    name: str, declared: str | None, kind: FileKind
) -> None:
    rules.check_name_and_type(name, declared, kind)


@pytest.mark.parametrize(
    ("name", "declared", "kind"),
    [
        ("photo.pdf", "application/pdf", PNG),  # PNG bytes named and declared a PDF
        ("scan.pdf", "image/png", PDF),
        ("x.pdf.exe", "application/pdf", PDF),
        ("setup.exe", "application/pdf", PDF),  # an EXE declared a PDF never gets this far
        ("scan", "application/pdf", PDF),
        (None, "application/pdf", PDF),
        ("doc.docx", "application/pdf", PDF),
        ("page.html", "text/html", PDF),
    ],
)
def test_name_or_declared_type_that_disagree_is_415(
    name: str | None, declared: str, kind: FileKind
) -> None:
    with pytest.raises(errors.DocumentTypeMismatch) as caught:
        rules.check_name_and_type(name, declared, kind)
    assert caught.value.status == 415


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../../etc/passwd.pdf", "path"),
        ("C:\\Windows\\scan.pdf", "path"),
        ("scan\x00.exe.pdf", "control_character"),
        ("scan\r\nSet-Cookie: a=b.pdf", "control_character"),
        ("invoice\u202efdp.exe.pdf", "bidi_control"),
        ("\u2067scan.pdf", "bidi_control"),
        ("a" * 10_000 + ".pdf", "too_long"),
    ],
)
def test_hostile_names_are_refused_with_the_reason(name: str, reason: str) -> None:
    with pytest.raises(errors.HostileFilename) as caught:
        rules.check_name_and_type(name, "application/pdf", PDF)
    assert caught.value.status == 422
    assert caught.value.extra == {"reason": reason}


@pytest.mark.parametrize(
    "data",
    [
        b"%PDF-1.7\n" + b"/a" * 1_000_001 + b"\n%%EOF\n",  # a million names, nothing else
        b"%PDF-1.7\n" + b"1 0 obj<</Type/ObjStm>>stream\nendstream\n" * 100_001 + b"%%EOF\n",
        pdf(b"<</Type /ObjStm /N 1 /First 4>>\nstream\n9 0 <<>>"),  # a stream that never ends
        pdf(tail=b"%%EOF\n" * pdf_rules.MAX_REVISIONS),  # more revisions than the limit
        pdf(*[b"<<>>"] * pdf_rules.MAX_OBJECTS),  # more objects than the limit, counted
        files.PDF.replace(  # ... and found by the parser when no `endobj` is there to count
            b"trailer",
            b"".join(b"%d 0 obj<<>>\n" % n for n in range(9, 9 + pdf_rules.MAX_OBJECTS))
            + b"trailer",
        ),
        pdf(object_stream(b"\x00" * 20 * 1024 * 1024)),  # inflates past the budget
    ],
)
def test_pdfs_built_to_exhaust_the_inspection_are_refused(data: bytes) -> None:
    assert isinstance(_refused(data, PDF), errors.PdfUninspectable)


def test_jpeg_padded_with_megabytes_of_fill_is_refused() -> None:
    data = jpeg()[:-2] + b"\xff" * (2 * 1024 * 1024) + b"\xff\xd9"
    assert isinstance(_refused(data, JPEG), errors.DocumentDamaged)
