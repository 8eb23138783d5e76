"""What a PDF declares, read from its names without rendering it: encryption, active content
(scripts, automatic actions, embedded files, forms that run code) and its page count.

Two readings, one rule. PDF names may be written with `#xx` escapes (`/J#61vaScript` is
`/JavaScript`), so each name we look for is matched in every spelling by one compiled
pattern that runs in the regex engine over the bytes, never name by name in Python: a file
of millions of names costs no more than any other 10 MiB. The pattern reads the file as it
lies, and the contents of every object stream, which only a parser can find the way a
reader does: qpdf (through pikepdf) reads the cross-reference table, each stream's
dictionary and `/Length`, and decodes the stream with its own filters under memory limits.
A hand-written search for `stream` and its dictionary was blind to a dictionary padded past
its window and to an object stream without `/Type /ObjStm` (issue 17). Readers do not all
take the same objects, so qpdf reads every view of the file one may show: the whole, each
earlier revision, and the whole with its tables rebuilt (where a duplicate object wins).
An object stream qpdf cannot decode cleanly is refused (fail closed); a file qpdf cannot
open at all is damaged. qpdf releases the GIL while it parses: the event loop runs on.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TypeGuard

import pikepdf
from pikepdf.settings import set_qpdf_limits

ACTIVE_NAMES = (
    "JavaScript",
    "JS",
    "OpenAction",
    "AA",
    "Launch",
    "EmbeddedFile",
    "EmbeddedFiles",
    "RichMedia",
    "XFA",
    "SubmitForm",
    "ImportData",
    "GoToE",
)
MAX_INFLATED_PER_STREAM = 16 * 1024 * 1024
MAX_INFLATED_TOTAL = 64 * 1024 * 1024
MAX_PAGES_COUNTED = 10_000  # counting stops here; the limit is far lower
# Far above any real document (a 10 MiB PDF has tens of thousands of names, hundreds of
# streams, a few thousand objects), low enough that a file built only of them is refused in
# well under a second.
MAX_NAMES = 1_000_000
MAX_STREAMS = 50_000
MAX_OBJECTS = 100_000
MAX_REVISIONS = 16  # a signed form signed and filled many times over has a handful
# Filters qpdf decodes under a memory limit (LZW has none, so an object stream in it is
# refused); ASCIIHex and ASCII85 only shrink.
BOUNDED_FILTERS = frozenset(
    {"/FlateDecode", "/Fl", "/RunLengthDecode", "/RL"}
    | {"/ASCIIHexDecode", "/AHx", "/ASCII85Decode", "/A85"}
)

# Process-wide qpdf limits: a stream that would inflate past them is not decoded at all.
set_qpdf_limits(
    flate_max_memory=MAX_INFLATED_PER_STREAM,
    png_max_memory=MAX_INFLATED_PER_STREAM,
    tiff_max_memory=MAX_INFLATED_PER_STREAM,
    run_length_max_memory=MAX_INFLATED_PER_STREAM,
)

_DELIMITER = rb"\x00\t\n\x0c\r /<>\[\](){}%"
_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_EOF = re.compile(rb"%%EOF")
_SPACE = rb"(?:[\x00\t\n\x0c\r ]|%[^\r\n]*)*"


def _spelled(word: str) -> bytes:
    """A pattern for the name `word` (after its slash) in every spelling, each character
    plain or #xx-escaped, ending where the name ends."""
    parts = []
    for char in word:
        code = f"{ord(char):02x}"
        hex_pattern = "".join(f"[{d.lower()}{d.upper()}]" if d.isalpha() else d for d in code)
        parts.append(f"(?:{re.escape(char)}|#{hex_pattern})")
    return "".join(parts).encode() + rb"(?![^" + _DELIMITER + rb"])"


def _names_pattern(*words: str) -> bytes:
    """`/` and any of `words`; the lookahead on the first character lets the engine drop
    every other name at once, which keeps a file of millions of names cheap."""
    first = sorted({re.escape(w[0]) for w in words} | {"#"})
    alternatives = b"|".join(_spelled(w) for w in sorted(words, key=len, reverse=True))
    return b"/(?=[" + "".join(first).encode() + b"])(?:" + alternatives + b")"


_ACTIVE = re.compile(_names_pattern(*ACTIVE_NAMES))
_ENCRYPT = re.compile(_names_pattern("Encrypt"))
_PAGE = re.compile(_names_pattern("Type") + _SPACE + _names_pattern("Page"))


class PdfTooComplex(ValueError):
    """Too many names, streams or objects to read cheaply, or object streams inflating past
    the budget."""


@dataclass(frozen=True)
class PdfFacts:
    """What the PDF's names say about it."""

    encrypted: bool
    active: frozenset[str]
    pages: int
    uninspectable: bool
    damaged: bool  # qpdf cannot open it, even with its recovery
    end: int | None  # just past the last %%EOF; None when there is none (truncated)


@dataclass
class _Reading:
    """The object streams decoded so far, over every view of the file, and what stopped it."""

    streams: list[bytes] = field(default_factory=list)
    offsets: set[int] = field(default_factory=set)  # where the decoded ones lie in the file
    budget: int = MAX_INFLATED_TOTAL
    uninspectable: bool = False
    encrypted: bool = False


def _is_object_stream(
    obj: pikepdf.Object, objgen: tuple[int, int], referenced: set[int]
) -> TypeGuard[pikepdf.Stream]:
    """An object stream as any reader would take it: the cross-reference table points into it,
    or its dictionary says so by `/Type` or by the `/N` and `/First` only object streams have."""
    if not isinstance(obj, pikepdf.Stream):
        return False
    return (
        objgen[0] in referenced
        or obj.get("/Type") == pikepdf.Name.ObjStm
        or ("/N" in obj and "/First" in obj)
    )


def _filters(stream: pikepdf.Stream) -> list[str]:
    """The stream's filter names, whether it names one or an array of them."""
    declared = stream.get("/Filter")
    if declared is None:
        return []
    items = list(declared) if isinstance(declared, pikepdf.Array) else [declared]
    return [str(item) for item in items]


def _decode(pdf: pikepdf.Pdf, stream: pikepdf.Stream) -> bytes | None:
    """The stream's decoded bytes, or None where qpdf cannot decode them cleanly: a filter it
    does not apply under a limit, a `/Length` it had to recover (it then reads other bytes
    than the dictionary says), or a warning since the caller emptied the list (data that
    stops short)."""
    if any(name not in BOUNDED_FILTERS for name in _filters(stream)):
        return None
    try:
        if stream.get("/Length") != len(stream.read_raw_bytes()):
            return None
        data = stream.read_bytes()
    except pikepdf.PdfError:  # DataDecodingError included: over the limit, or not its filter
        return None
    return None if pdf.get_warnings() else data


def _views(data: bytes) -> Iterator[bytes]:
    """The file as readers may take it: whole; each earlier revision, up to its own %%EOF (a
    reader showing the signed version does); and whole with its cross-reference tables
    ignored, as a reader rebuilds them when they do not parse, where an object the tables
    leave out may win. One at a time: each is a copy."""
    ends = [match.end() for match in _EOF.finditer(data)]
    if len(ends) > MAX_REVISIONS:
        raise PdfTooComplex()
    yield data
    for end in ends[:-1]:
        yield data[:end]
    if b"startxref" in data:
        yield data.replace(b"startxref", b"startxre_")  # the same length: offsets hold


def _read(view: bytes, reading: _Reading) -> bool:
    """Decode the object streams of one view not decoded yet; False where qpdf cannot open
    it at all, even with its recovery."""
    try:
        pdf = pikepdf.open(io.BytesIO(view))
    except pikepdf.PasswordError:
        reading.encrypted = True
        return True
    except pikepdf.PdfError:
        return False
    with pdf:
        reading.encrypted = reading.encrypted or pdf.is_encrypted
        table = pdf.get_xref_table()
        if len(table) > MAX_OBJECTS:
            raise PdfTooComplex()
        referenced = {
            entry.obj_stream_number
            for entry in table.values()
            if entry.type == 2 and entry.obj_stream_number is not None
        }
        for objgen, entry in table.items():
            offset = entry.offset
            if entry.type != 1 or offset is None or offset in reading.offsets:
                continue
            pdf.get_warnings()  # qpdf hands its warnings over once: this empties the list
            obj = pdf.get_object(objgen)
            if not _is_object_stream(obj, objgen, referenced):
                continue
            reading.offsets.add(offset)
            decoded = _decode(pdf, obj)
            if decoded is None:
                reading.uninspectable = True
                return True
            reading.budget -= len(decoded)
            if reading.budget < 0:
                raise PdfTooComplex()
            reading.streams.append(decoded)
    return True


def _active(chunk: bytes) -> str | None:
    """The first active-content name in `chunk`, decoded; one is enough to refuse."""
    match = _ACTIVE.search(chunk)
    if match is None:
        return None
    return _ESCAPE.sub(lambda m: bytes([int(m[1], 16)]), match[0][1:]).decode("latin-1")


def _pages(chunk: bytes, limit: int) -> int:
    """Page objects in `chunk`, counted up to `limit`."""
    count = 0
    if limit <= 0:
        return 0
    for _ in _PAGE.finditer(chunk):
        count += 1
        if count >= limit:
            break
    return count


def pdf_facts(data: bytes) -> PdfFacts:
    """Read the PDF's names, its object streams' included."""
    if (
        data.count(b"/") > MAX_NAMES
        or data.count(b"stream") > 2 * MAX_STREAMS
        or data.count(b"obj") > 2 * MAX_OBJECTS
    ):
        raise PdfTooComplex()
    reading = _Reading()
    damaged = False
    for number, view in enumerate(_views(data)):
        opened = _read(view, reading)
        damaged = number == 0 and not opened  # only the whole file must open
        if damaged or reading.uninspectable:
            break
    active: set[str] = set()
    pages = 0
    encrypted = reading.encrypted
    for chunk in (data, *reading.streams):
        name = _active(chunk)
        if name:
            active.add(name)
        encrypted = encrypted or _ENCRYPT.search(chunk) is not None
        pages += _pages(chunk, MAX_PAGES_COUNTED - pages)
    eof = data.rfind(b"%%EOF")
    return PdfFacts(
        encrypted=encrypted,
        active=frozenset(active),
        pages=pages,
        uninspectable=reading.uninspectable,
        damaged=damaged,
        end=eof + len(b"%%EOF") if eof >= 0 else None,
    )
