"""Choose the SMS encoding for a body and count its characters and parts, as carriers bill them."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# GSM 03.38 default alphabet, one septet each; 0x1B (escape to the extension table) left out.
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# GSM 03.38 extension table: each costs two septets (escape + code).
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE_LIMIT = 160
GSM7_PART_LIMIT = 153  # 160 septets less the 7 taken by the concatenation header
UCS2_SINGLE_LIMIT = 70
UCS2_PART_LIMIT = 67  # 70 code units less the 3 taken by the concatenation header


class SmsEncoding(StrEnum):
    """How the body travels: 7-bit GSM default alphabet, or UCS-2 (UTF-16) for anything else."""

    GSM7 = "gsm7"
    UCS2 = "ucs2"


@dataclass(frozen=True)
class SmsLength:
    """Encoding, size in septets (GSM-7) or UTF-16 code units (UCS-2), and number of parts."""

    encoding: SmsEncoding
    characters: int
    parts: int


def _is_gsm7(text: str) -> bool:
    """Whether every character has a GSM 03.38 encoding, basic or extension."""
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def _unit_costs(text: str, encoding: SmsEncoding) -> list[int]:
    """Cost of each character in its encoding; a unit that cannot be split across parts."""
    if encoding is SmsEncoding.GSM7:
        return [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def _count_parts(costs: list[int], part_limit: int) -> int:
    """Pack characters greedily into parts, never splitting an escape pair or a surrogate pair."""
    parts, used = 1, 0
    for cost in costs:
        if used + cost > part_limit:
            parts, used = parts + 1, 0
        used += cost
    return parts


def measure(text: str) -> SmsLength:
    """Measure a body the way a carrier would split it, so callers can cap cost before sending.

    Empty text is one part. In multipart messages a GSM-7 extension character (escape + code) and
    a UCS-2 surrogate pair (e.g. an emoji) are never split across parts, as real encoders do, so
    the part count can exceed a plain ceiling division.
    """
    encoding = SmsEncoding.GSM7 if _is_gsm7(text) else SmsEncoding.UCS2
    costs = _unit_costs(text, encoding)
    characters = sum(costs)
    if encoding is SmsEncoding.GSM7:
        single, per_part = GSM7_SINGLE_LIMIT, GSM7_PART_LIMIT
    else:
        single, per_part = UCS2_SINGLE_LIMIT, UCS2_PART_LIMIT
    parts = 1 if characters <= single else _count_parts(costs, per_part)
    return SmsLength(encoding=encoding, characters=characters, parts=parts)
