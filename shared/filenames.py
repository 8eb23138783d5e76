"""Residents' file names: which ones are refused, and how any name is made safe to show.

A name is only ever shown (the storage key is server-generated), so it cannot reach a path.
Names that could only have been crafted or mangled (controls, line breaks, bidi overrides that
make `cod.exe` look like `exe.doc`, path separators, page-long names) are refused with a clear
error rather than quietly repaired: a silently altered name would show staff something the
resident never chose. Anything else, Arabic and emoji included, is kept.
"""

from __future__ import annotations

import unicodedata

MAX_NAME_CHARS = 255
MAX_STEM_CHARS = 200
# Explicit directional formatting (U+202A-202E, U+2066-2069) and marks (ALM, LRM, RLM).
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_LINE_BREAKS = frozenset("\u0085\u2028\u2029")
_SHOWN_BADLY = frozenset('<>:"|?*')


def hostile_reason(name: str) -> str | None:
    """Why this file name is refused (a short stable reason), or None when it is acceptable."""
    if len(name) > MAX_NAME_CHARS:
        return "too_long"
    for char in name:
        category = unicodedata.category(char)
        if category == "Cc" or char in _LINE_BREAKS or category in ("Zl", "Zp", "Cs"):
            return "control_character"
        if char in BIDI_CONTROLS:
            return "bidi_control"
    if "/" in name or "\\" in name:
        return "path"
    return None


def extension_of(name: str | None) -> str | None:
    """The last extension, lower-cased and without its dot; None when there is none."""
    if not name or "." not in name.strip(" ."):
        return None
    return name.strip(" .").rsplit(".", 1)[1].lower() or None


def display_name(name: str | None, extension: str) -> str:
    """A name safe to show and to put in a header: no path, controls or bidi overrides, and
    ending in `extension` (the type the bytes proved), whatever the resident's name said."""
    base = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(
        char
        for char in base
        if char.isprintable()
        and char not in BIDI_CONTROLS
        and char not in _LINE_BREAKS
        and char not in _SHOWN_BADLY
    ).strip(" .")
    stem = base.rsplit(".", 1)[0] if "." in base else base
    stem = stem.strip(" .")[:MAX_STEM_CHARS] or "document"
    return f"{stem}.{extension}"
