"""What a PDF declares, read from its names without rendering it: encryption, active content
(scripts, automatic actions, embedded files, forms that run code) and its page count.

PDF names may be written with `#xx` escapes (`/J#61vaScript` is `/JavaScript`), so each name
we look for is matched in every spelling by one compiled pattern: the scan runs in the regex
engine over the bytes, never name by name in Python, so a file of millions of names costs no
more than any other 10 MiB. Dictionaries may also sit compressed inside object streams
(`/Type /ObjStm`); those are inflated, within a budget, and searched the same way. An object
stream in an encoding we do not decode cannot be inspected, so it is refused (fail closed).
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

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
FLATE = frozenset({"FlateDecode", "Fl"})
OTHER_FILTERS = frozenset(
    {"ASCIIHexDecode", "AHx", "ASCII85Decode", "A85", "LZWDecode", "LZW", "RunLengthDecode", "RL"}
    | {"CCITTFaxDecode", "CCF", "DCTDecode", "DCT", "JBIG2Decode", "JPXDecode", "Crypt"}
)
MAX_INFLATED_PER_STREAM = 16 * 1024 * 1024
MAX_INFLATED_TOTAL = 64 * 1024 * 1024
MAX_PAGES_COUNTED = 10_000  # counting stops here; the limit is far lower
# Far above any real document (a 10 MiB PDF has tens of thousands of names, hundreds of
# streams), low enough that a file built only of them is refused in a fraction of a second.
MAX_NAMES = 1_000_000
MAX_STREAMS = 50_000
DICTIONARY_WINDOW = 4096

_DELIMITER = rb"\x00\t\n\x0c\r /<>\[\](){}%"
_NAME = re.compile(rb"/([^" + _DELIMITER + rb"]*)")
_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_STREAM = re.compile(rb"(?<!end)stream\r?\n")
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
_OBJECT_STREAM = re.compile(_names_pattern("Type") + _SPACE + _names_pattern("ObjStm"))


class PdfTooComplex(ValueError):
    """Too many names or streams to read cheaply, or object streams inflating past the budget."""


@dataclass(frozen=True)
class PdfFacts:
    """What the PDF's names say about it."""

    encrypted: bool
    active: frozenset[str]
    pages: int
    uninspectable: bool
    end: int | None  # just past the last %%EOF; None when there is none (truncated)


def names(data: bytes) -> list[str]:
    """Every name token in `data`, `#xx` escapes decoded (for small dictionaries only)."""
    return [
        _ESCAPE.sub(lambda m: bytes([int(m[1], 16)]), match[1]).decode("latin-1")
        for match in _NAME.finditer(data)
    ]


def _object_streams(data: bytes) -> tuple[list[bytes], bool]:
    """The inflated contents of every object stream, and whether one could not be read.

    Streams are visited once each, front to back, so the work stays linear in the file."""
    inflated: list[bytes] = []
    budget = MAX_INFLATED_TOTAL
    pos = 0
    while match := _STREAM.search(data, pos):
        stop = data.find(b"endstream", match.end())
        if stop < 0:
            return inflated, True
        head = data[max(pos, match.start() - DICTIONARY_WINDOW) : match.start()]
        pos = stop + len(b"endstream")
        if not _OBJECT_STREAM.search(head):
            continue
        declared = set(names(head[head.rfind(b"obj") + 1 :] if b"obj" in head else head))
        filters = declared & (FLATE | OTHER_FILTERS)
        body = data[match.end() : stop]
        if not filters:
            inflated.append(body)
            continue
        if filters - FLATE or "Predictor" in declared:
            return inflated, True
        limit = min(MAX_INFLATED_PER_STREAM, budget)
        try:
            out = zlib.decompressobj().decompress(body, limit + 1)
        except zlib.error:
            return inflated, True
        if len(out) > limit:
            raise PdfTooComplex()
        budget -= len(out)
        inflated.append(out)
    return inflated, False


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
    if data.count(b"/") > MAX_NAMES or data.count(b"stream") > 2 * MAX_STREAMS:
        raise PdfTooComplex()
    streams, uninspectable = _object_streams(data)
    active: set[str] = set()
    pages = 0
    encrypted = False
    for chunk in (data, *streams):
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
        uninspectable=uninspectable,
        end=eof + len(b"%%EOF") if eof >= 0 else None,
    )
