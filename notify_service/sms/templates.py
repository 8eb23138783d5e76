"""Bilingual SMS templates, checked when loaded so a broken one fails at start, not at send."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from string import Formatter
from typing import Any

import yaml

from notify_service.sms.segments import SmsLength, measure

LANGUAGES: tuple[str, ...] = ("ar", "en")
DEFAULT_LANGUAGE = "ar"
DEFAULT_TEMPLATES_PATH = Path(__file__).with_name("templates.yaml")
DEFAULT_SAMPLE = "X" * 12  # stands in for a placeholder that has no entry under `samples:`
DEFAULT_MAX_PARTS = 3

# One parsed stretch of a text: literal text, then the placeholder after it (None at the end).
_Piece = tuple[str, str | None]


class TemplateError(ValueError):
    """A template file or render request is wrong: bad placeholder, unknown event, no value."""


@dataclass(frozen=True)
class RenderedSms:
    """A body ready to send, with the language actually used and its encoded length."""

    event: str
    language: str
    body: str
    length: SmsLength


@dataclass(frozen=True)
class SmsTemplate:
    """One event's texts, pre-parsed per language, and the placeholders every text uses."""

    event: str
    placeholders: tuple[str, ...]
    texts: Mapping[str, tuple[_Piece, ...]]

    def fill(self, language: str, values: Mapping[str, str]) -> str:
        """Substitute values verbatim: a value is never itself read as a format string."""
        return "".join(
            literal + (values[field] if field is not None else "")
            for literal, field in self.texts[language]
        )


def resolve_language(language: str | None) -> str:
    """Map a language tag such as 'en-GB' or 'AR' to a supported language, else Arabic."""
    primary = (language or "").strip().lower().replace("_", "-").split("-")[0]
    return primary if primary in LANGUAGES else DEFAULT_LANGUAGE


class TemplateSet:
    """The loaded templates, by event; renders a body in the resident's language."""

    def __init__(self, templates: Mapping[str, SmsTemplate]) -> None:
        """Keep a private copy so the set cannot change after validation."""
        self._templates = dict(templates)

    @property
    def events(self) -> frozenset[str]:
        """Events that have a template."""
        return frozenset(self._templates)

    def placeholders(self, event: str) -> tuple[str, ...]:
        """Names a caller must supply to render this event."""
        return self._get(event).placeholders

    def render(self, event: str, language: str | None, values: Mapping[str, object]) -> RenderedSms:
        """Render an event's text; unknown languages fall back to Arabic, extra values are ignored.

        Values go through str(); a missing or None value raises TemplateError rather than
        sending a resident "None" or an empty gap.
        """
        template = self._get(event)
        lang = resolve_language(language)
        missing = [name for name in template.placeholders if values.get(name) is None]
        if missing:
            raise TemplateError(f"template {event!r}: missing value(s) for {', '.join(missing)}")
        strings = {name: str(values[name]) for name in template.placeholders}
        body = template.fill(lang, strings)
        return RenderedSms(event=event, language=lang, body=body, length=measure(body))

    def _get(self, event: str) -> SmsTemplate:
        """Look up an event's template, or fail naming the event."""
        template = self._templates.get(event)
        if template is None:
            raise TemplateError(f"unknown SMS template {event!r}")
        return template


def _parse_text(event: str, language: str, text: str) -> tuple[_Piece, ...]:
    """Split a text into literals and named fields, refusing anything but plain `{name}`."""
    where = f"template {event!r} ({language})"
    try:
        parsed = list(Formatter().parse(text))
    except ValueError as exc:
        raise TemplateError(f"{where}: malformed braces: {exc}") from exc
    pieces: list[_Piece] = []
    for literal, field, spec, conversion in parsed:
        if field is not None and not field.isidentifier():
            raise TemplateError(
                f"{where}: field {{{field}}} is not allowed; use a name such as {{reference}}"
                " (no positional, attribute or index fields)"
            )
        if spec or conversion:
            raise TemplateError(f"{where}: field {{{field}}} takes no format spec or conversion")
        pieces.append((literal, field))
    return tuple(pieces)


def _declared_placeholders(event: str, raw: object) -> tuple[str, ...]:
    """Read a template's `placeholders:` list: distinct names."""
    if not isinstance(raw, list) or not all(isinstance(name, str) for name in raw):
        raise TemplateError(f"template {event!r}: placeholders must be a list of names")
    if len(set(raw)) != len(raw):
        raise TemplateError(f"template {event!r}: placeholders are listed twice")
    return tuple(raw)


def _build_template(event: str, raw: object) -> SmsTemplate:
    """Check one template's shape and that each text uses exactly its declared placeholders."""
    if not isinstance(raw, dict):
        raise TemplateError(f"template {event!r}: must be a mapping")
    unknown = set(raw) - {"placeholders", *LANGUAGES}
    if unknown:
        raise TemplateError(f"template {event!r}: unknown keys {sorted(map(str, unknown))}")
    declared = _declared_placeholders(event, raw.get("placeholders"))
    texts: dict[str, tuple[_Piece, ...]] = {}
    for language in LANGUAGES:
        text = raw.get(language)
        if not isinstance(text, str) or not text.strip():
            raise TemplateError(f"template {event!r} ({language}): text is missing")
        pieces = _parse_text(event, language, text)
        used = {field for _, field in pieces if field is not None}
        if missing := set(declared) - used:
            raise TemplateError(
                f"template {event!r} ({language}): declared but unused: {sorted(missing)}"
            )
        if extra := used - set(declared):
            raise TemplateError(
                f"template {event!r} ({language}): used but not declared: {sorted(extra)}"
            )
        texts[language] = pieces
    return SmsTemplate(event=event, placeholders=declared, texts=texts)


def _read_samples(raw: object) -> dict[str, str]:
    """Read the top-level `samples:` mapping of placeholder name to a realistic value."""
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not all(isinstance(key, str) for key in raw):
        raise TemplateError("samples must be a mapping of placeholder name to value")
    return {key: str(value) for key, value in raw.items()}


def _check_length(template: SmsTemplate, samples: Mapping[str, str], max_parts: int) -> None:
    """Fail if any language, rendered with the sample values, needs more than max_parts parts."""
    values = {name: samples.get(name, DEFAULT_SAMPLE) for name in template.placeholders}
    for language in LANGUAGES:
        length = measure(template.fill(language, values))
        if length.parts > max_parts:
            raise TemplateError(
                f"template {template.event!r} ({language}): {length.parts} parts"
                f" ({length.characters} {length.encoding} characters) with sample values,"
                f" over the limit of {max_parts}"
            )


def load_templates(path: Path | None = None, max_parts: int = DEFAULT_MAX_PARTS) -> TemplateSet:
    """Load and validate a templates YAML file (the shipped one by default); raise TemplateError."""
    if max_parts < 1:
        raise TemplateError(f"max_parts must be at least 1, got {max_parts}")
    source = path or DEFAULT_TEMPLATES_PATH
    try:
        document: Any = yaml.safe_load(source.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise TemplateError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise TemplateError(f"{source}: expected a mapping with `templates:`")
    unknown = set(document) - {"samples", "templates"}
    if unknown:
        raise TemplateError(f"{source}: unknown top-level keys {sorted(map(str, unknown))}")
    samples = _read_samples(document.get("samples"))
    raw_templates = document.get("templates")
    if not isinstance(raw_templates, dict) or not all(isinstance(k, str) for k in raw_templates):
        raise TemplateError(f"{source}: `templates:` must map event names to templates")
    templates: dict[str, SmsTemplate] = {}
    for event, raw in raw_templates.items():
        template = _build_template(event, raw)
        _check_length(template, samples, max_parts)
        templates[event] = template
    return TemplateSet(templates)
