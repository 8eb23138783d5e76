"""PNG and JPEG structure read from their headers, never decoded: the dimensions (to refuse
pixel floods before anything inflates them) and where the image really ends (to find data
hidden after it). Walking the chunks and segments by their lengths means a thumbnail inside
EXIF, whose own end marker is not the file's, is skipped as the viewer would skip it."""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_CHUNKS = 20_000  # a 10 MiB PNG of 8 KiB IDAT chunks has ~1,300
MAX_SEGMENTS = 10_000
FILL_RUN = b"\xff" * 16
MAX_FILL_RUNS = 65_536  # 1 MiB of 0xFF
# Start-of-frame markers carry the dimensions (not DHT C4, JPG C8 or DAC CC).
_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8)})
# The next marker after entropy-coded data: 0xFF not followed by a stuffed 0x00, a restart
# marker (part of the scan) or another fill 0xFF.
_NEXT_MARKER = re.compile(rb"\xff(?=[^\x00\xd0-\xd7\xff])")


class MalformedImage(ValueError):
    """The structure does not parse: truncated, or lengths that point past the end."""


@dataclass(frozen=True)
class ImageFacts:
    """What the headers say: the pixel size, and the offset just past the image's end."""

    width: int
    height: int
    end: int


def png_facts(data: bytes) -> ImageFacts:
    """Walk the chunks from IHDR to IEND."""
    if not data.startswith(PNG_SIGNATURE):
        raise MalformedImage("signature")
    pos = len(PNG_SIGNATURE)
    width = height = 0
    for index in range(MAX_CHUNKS):
        if pos + 12 > len(data):
            raise MalformedImage("truncated")
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if end > len(data):
            raise MalformedImage("chunk past the end")
        if index == 0:
            if kind != b"IHDR" or length != 13:
                raise MalformedImage("IHDR must come first")
            width, height = struct.unpack_from(">II", data, pos + 8)
        if kind == b"IEND":
            return ImageFacts(width, height, end)
        pos = end
    raise MalformedImage("too many chunks")


def jpeg_facts(data: bytes) -> ImageFacts:
    """Walk the segments from SOI to EOI, skipping entropy-coded scan data."""
    if not data.startswith(b"\xff\xd8"):
        raise MalformedImage("signature")
    # Fill bytes only pad markers; megabytes of them would only make the marker search slow.
    if data.count(FILL_RUN) > MAX_FILL_RUNS:
        raise MalformedImage("fill")
    pos = 2
    width = height = 0
    for _ in range(MAX_SEGMENTS):
        if pos >= len(data) or data[pos] != 0xFF:
            raise MalformedImage("expected a marker")
        while pos < len(data) and data[pos] == 0xFF:
            pos += 1
        if pos >= len(data):
            raise MalformedImage("truncated")
        marker = data[pos]
        pos += 1
        if marker == 0xD9:
            if not width or not height:
                raise MalformedImage("no frame header")
            return ImageFacts(width, height, pos)
        if marker in _STANDALONE:
            continue
        if pos + 2 > len(data):
            raise MalformedImage("truncated")
        (length,) = struct.unpack_from(">H", data, pos)
        if length < 2 or pos + length > len(data):
            raise MalformedImage("segment past the end")
        if marker in _SOF:
            if length < 7:
                raise MalformedImage("short frame header")
            height, width = struct.unpack_from(">HH", data, pos + 3)
        pos += length
        if marker == 0xDA:
            found = _NEXT_MARKER.search(data, pos)
            if found is None:
                raise MalformedImage("scan without an end")
            pos = found.start()
    raise MalformedImage("too many segments")
