"""What a PDF declares, read from its names without rendering it: encryption, active content
(scripts, automatic actions, embedded files, forms that run code) and its page count.

PDF names may be written with `#xx` escapes (`/J#61vaScript` is `/JavaScript`), so every name
is decoded before it is compared. Dictionaries may also sit compressed inside object streams
(`/Type /ObjStm`); those are inflated, within a budget, and read the same way. An object
stream in an encoding we do not decode cannot be inspected, so it is refused (fail closed).
"""

from __future__ import annotations

import itertools
import re
import zlib
from dataclasses import dataclass

ACTIVE_NAMES = frozenset(
    {
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
    }
)
_FLATE = frozenset({"FlateDecode", "Fl"})
_OTHER_FILTERS = frozenset(
    {"ASCIIHexDecode", "AHx", "ASCII85Decode", "A85", "LZWDecode", "LZW", "RunLengthDecode", "RL"}
    | {"CCITTFaxDecode", "CCF", "DCTDecode", "DCT", "JBIG2Decode", "JPXDecode", "Crypt"}
)
MAX_INFLATED_PER_STREAM = 16 * 1024 * 1024
MAX_INFLATED_TOTAL = 64 * 1024 * 1024

_NAME = re.compile(rb"/([^\x00\t\n\x0c\r /<>\[\](){}%]*)")
_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_STREAM = re.compile(rb"(?<!end)stream\r?\n")


class PdfTooComplex(ValueError):
    """Its object streams inflate past the budget."""


@dataclass(frozen=True)
class PdfFacts:
    """What the PDF's names say about it."""

    encrypted: bool
    active: frozenset[str]
    pages: int
    uninspectable: bool
    end: int | None  # just past the last %%EOF; None when there is none (truncated)


def names(data: bytes) -> list[str]:
    """Every name token in `data`, `#xx` escapes decoded, in order."""
    found = []
    for match in _NAME.finditer(data):
        raw = _ESCAPE.sub(lambda m: bytes([int(m[1], 16)]), match[1])
        found.append(raw.decode("latin-1"))
    return found


def _object_streams(data: bytes) -> tuple[list[bytes], bool]:
    """The inflated contents of every object stream, and whether one could not be read."""
    inflated: list[bytes] = []
    budget = MAX_INFLATED_TOTAL
    uninspectable = False
    for match in _STREAM.finditer(data):
        head = data[max(0, match.start() - 4096) : match.start()]
        dictionary = head[head.rfind(b"obj") + 1 :] if b"obj" in head else head
        declared = names(dictionary)
        if not any(a == "Type" and b == "ObjStm" for a, b in itertools.pairwise(declared)):
            continue
        filters = {n for n in declared if n in _FLATE or n in _OTHER_FILTERS}
        stop = data.find(b"endstream", match.end())
        body = data[match.end() : stop if stop >= 0 else len(data)]
        if not filters:
            inflated.append(body)
            continue
        if filters - _FLATE or "Predictor" in declared:
            uninspectable = True
            continue
        limit = min(MAX_INFLATED_PER_STREAM, budget)
        try:
            out = zlib.decompressobj().decompress(body, limit + 1)
        except zlib.error:
            uninspectable = True
            continue
        if len(out) > limit:
            raise PdfTooComplex()
        budget -= len(out)
        inflated.append(out)
    return inflated, uninspectable


def pdf_facts(data: bytes) -> PdfFacts:
    """Read the PDF's names, its object streams' included."""
    streams, uninspectable = _object_streams(data)
    found: list[str] = names(data)
    pages = 0
    for chunk in (data, *streams):
        tokens = names(chunk) if chunk is not data else found
        pages += sum(1 for a, b in itertools.pairwise(tokens) if a == "Type" and b == "Page")
        if chunk is not data:
            found.extend(tokens)
    eof = data.rfind(b"%%EOF")
    return PdfFacts(
        encrypted="Encrypt" in found,
        active=frozenset(found) & ACTIVE_NAMES,
        pages=pages,
        uninspectable=uninspectable,
        end=eof + len(b"%%EOF") if eof >= 0 else None,
    )
