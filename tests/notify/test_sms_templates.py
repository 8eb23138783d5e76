"""Loading, validating and rendering the bilingual SMS templates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from notify_service.sms.segments import SmsEncoding
from notify_service.sms.templates import TemplateError, TemplateSet, load_templates

REQUIRED_EVENTS = {
    "otp_code",
    "account_exists",
    "request_submitted",
    "request_routed",
    "request_status_changed",
    "information_needed",
    "request_replied",
    "request_resolved",
    "request_rejected",
    "request_withdrawn",
}


def _write(tmp_path: Path, placeholders: str, ar: str | None, en: str | None) -> Path:
    """Write a YAML file holding one template, `greet`; a None text is left out."""
    lines = ["samples:", "  reference: TW-2026-00001234", "templates:", "  greet:"]
    lines.append(f"    placeholders: {placeholders}")
    for language, text in (("ar", ar), ("en", en)):
        if text is not None:
            lines.append(f"    {language}: {json.dumps(text, ensure_ascii=False)}")
    path = tmp_path / "templates.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def shipped() -> TemplateSet:
    """The templates that ship with the service."""
    return load_templates()


def test_shipped_templates_load_with_every_required_event(shipped: TemplateSet) -> None:
    """The shipped file validates and covers every event the services send."""
    assert shipped.events >= REQUIRED_EVENTS


@pytest.mark.parametrize("language", ["ar", "en"])
def test_otp_code_renders_in_one_part(shipped: TemplateSet, language: str) -> None:
    """The one-time code fits one SMS in both languages, with the code in the body."""
    sms = shipped.render("otp_code", language, {"code": "123456", "minutes": "5"})
    assert sms.length.parts == 1
    assert "123456" in sms.body


def test_otp_code_in_arabic_is_ucs2_and_in_english_is_gsm7(shipped: TemplateSet) -> None:
    """English stays in the cheaper GSM-7 alphabet; Arabic needs UCS-2."""
    values = {"code": "123456", "minutes": "5"}
    assert shipped.render("otp_code", "ar", values).length.encoding is SmsEncoding.UCS2
    assert shipped.render("otp_code", "en", values).length.encoding is SmsEncoding.GSM7


def test_missing_declared_placeholder_fails_load(tmp_path: Path) -> None:
    """A text that leaves out a declared placeholder is rejected, naming template and language."""
    path = _write(tmp_path, "[reference]", ar="طلبك رقم {reference}", en="Your request")
    with pytest.raises(TemplateError, match=r"'greet' \(en\).*reference"):
        load_templates(path)


def test_undeclared_placeholder_fails_load(tmp_path: Path) -> None:
    """A text using a placeholder not in the declared list is rejected."""
    path = _write(
        tmp_path,
        "[reference]",
        ar="طلبك رقم {reference} لدى {department}",
        en="Your request {reference}",
    )
    with pytest.raises(TemplateError, match=r"'greet' \(ar\).*department"):
        load_templates(path)


def test_positional_placeholder_fails_load(tmp_path: Path) -> None:
    """An empty `{}` field is positional and is rejected."""
    path = _write(tmp_path, "[]", ar="طلبك رقم {}", en="Your request")
    with pytest.raises(TemplateError, match=r"'greet' \(ar\).*positional"):
        load_templates(path)


def test_attribute_placeholder_fails_load(tmp_path: Path) -> None:
    """An attribute field could reach into objects, so it is rejected."""
    path = _write(
        tmp_path, "[reference]", ar="طلبك رقم {reference}", en="Your request {reference.__class__}"
    )
    with pytest.raises(TemplateError, match=r"'greet' \(en\)"):
        load_templates(path)


def test_missing_language_fails_load(tmp_path: Path) -> None:
    """Both Arabic and English texts are required."""
    path = _write(tmp_path, "[]", ar="مرحبًا", en=None)
    with pytest.raises(TemplateError, match=r"'greet' \(en\)"):
        load_templates(path)


def test_template_over_max_parts_fails_load(tmp_path: Path) -> None:
    """A text longer than the part budget with sample values is rejected."""
    long_arabic = "طلبك رقم {reference} " + "ب" * 60
    path = _write(tmp_path, "[reference]", ar=long_arabic, en="Your request {reference}")
    assert load_templates(path, max_parts=2).events == {"greet"}
    with pytest.raises(TemplateError, match=r"'greet' \(ar\).*2 parts"):
        load_templates(path, max_parts=1)


def test_render_unknown_language_falls_back_to_arabic(shipped: TemplateSet) -> None:
    """A language the service does not send in gets the Arabic text."""
    sms = shipped.render("request_submitted", "fr", {"reference": "TW-1"})
    assert sms.language == "ar"
    assert sms.body == shipped.render("request_submitted", "ar", {"reference": "TW-1"}).body


def test_render_regional_english_tag_uses_english(shipped: TemplateSet) -> None:
    """A regional tag such as en-GB resolves to its primary language."""
    assert shipped.render("request_submitted", "en-GB", {"reference": "TW-1"}).language == "en"


def test_render_missing_value_raises(shipped: TemplateSet) -> None:
    """Every declared placeholder needs a value."""
    with pytest.raises(TemplateError, match="department"):
        shipped.render("request_routed", "ar", {"reference": "TW-1"})


def test_render_unknown_event_raises(shipped: TemplateSet) -> None:
    """An event without a template is an error, not a silent no-op."""
    with pytest.raises(TemplateError, match="no_such_event"):
        shipped.render("no_such_event", "ar", {})


def test_render_ignores_extra_values(shipped: TemplateSet) -> None:
    """Values the template does not use are ignored."""
    sms = shipped.render("request_submitted", "en", {"reference": "TW-1", "unused": "x"})
    assert "TW-1" in sms.body


def test_render_inserts_braces_in_value_literally(shipped: TemplateSet) -> None:
    """A value that looks like a format field is inserted as-is, never expanded."""
    sms = shipped.render("request_submitted", "en", {"reference": "{code} {0} {reference}"})
    assert "{code} {0} {reference}" in sms.body
