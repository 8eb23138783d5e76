"""Open311 answers as XML (the standard's required format) or JSON, and its error format."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET  # builds documents only; never parses input
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from starlette.responses import Response

Lang = Literal["ar", "en"]

XML_TYPE = "text/xml; charset=utf-8"
JSON_TYPE = "application/json; charset=utf-8"
XML_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'

# The element each list's items take in XML; JSON (the "Spark convention") drops the names.
ITEM_TAGS = {
    "services": "service",
    "attributes": "attribute",
    "values": "value",
    "service_requests": "request",
    "endpoints": "endpoint",
    "formats": "format",
    "errors": "error",
}

# Characters XML 1.0 cannot carry even escaped; ElementTree would write them as they are.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class Fmt(StrEnum):
    """The suffix of every Open311 path."""

    xml = "xml"
    json = "json"


def parse_format(suffix: str) -> Fmt | None:
    """`xml` or `json`; anything else is not a format we serve."""
    try:
        return Fmt(suffix)
    except ValueError:
        return None


@dataclass(frozen=True)
class Problem:
    """One entry of `errors[]`: a stable code and its description in both languages."""

    code: str
    en: str
    ar: str


class Open311Error(Exception):
    """Ends an Open311 call with `errors[]` and an HTTP status (400, 403, 404 mostly)."""

    def __init__(
        self, status: int, problems: Sequence[Problem], headers: Mapping[str, str] | None = None
    ) -> None:
        self.status = status
        self.problems = list(problems)
        self.headers = dict(headers or {})
        super().__init__(", ".join(p.code for p in self.problems))

    @classmethod
    def one(cls, status: int, code: str, en: str, ar: str) -> Open311Error:
        """An error with a single entry."""
        return cls(status, [Problem(code, en, ar)])


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("", str(value))


def _fill(element: ET.Element, value: object) -> None:
    if isinstance(value, Mapping):
        for key, child in value.items():
            _fill(ET.SubElement(element, str(key)), child)
    elif isinstance(value, list | tuple):
        item = ITEM_TAGS[element.tag]
        for child in value:
            _fill(ET.SubElement(element, item), child)
    else:
        element.text = _text(value)


def xml_document(root: str, data: object) -> bytes:
    """`data` under the element `root`, with the XML declaration, in UTF-8."""
    element = ET.Element(root)
    _fill(element, data)
    return (XML_DECLARATION + ET.tostring(element, encoding="unicode")).encode()


def respond(
    fmt: Fmt,
    root: str,
    data: object,
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The answer in the format asked for (`root` names the XML document element)."""
    if fmt is Fmt.xml:
        body = xml_document(root, data)
        return Response(body, status_code=status, media_type=XML_TYPE, headers=headers)
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return Response(text.encode(), status_code=status, media_type=JSON_TYPE, headers=headers)


def error_response(fmt: Fmt, error: Open311Error, lang: Lang) -> Response:
    """`errors[] → error{code, description}` with the error's HTTP status."""
    entries = [
        {"code": p.code, "description": p.en if lang == "en" else p.ar} for p in error.problems
    ]
    return respond(fmt, "errors", entries, status=error.status, headers=error.headers)
