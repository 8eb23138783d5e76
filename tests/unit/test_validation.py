"""National ID and phone rules, and the text every request body may carry."""

from __future__ import annotations

import pytest
from pydantic import Field, ValidationError

from shared.validation import (
    InputModel,
    is_valid_national_id,
    luhn_check_digit,
    mask_phone,
    normalize_saudi_mobile,
)


@pytest.mark.parametrize("value", ["1000000008", "2000000006", "1234567897"])
def test_valid_ids_pass(value: str) -> None:
    assert is_valid_national_id(value)


@pytest.mark.parametrize(
    "value",
    ["1000000007", "3000000003", "100000000", "10000000080", "10000000a8", "", "١٠٠٠٠٠٠٠٠٨"],
)
def test_invalid_ids_fail(value: str) -> None:
    assert not is_valid_national_id(value)


def test_check_digit_completes_any_nine_digits() -> None:
    for body in ("123456789", "200000000", "198765432"):
        assert is_valid_national_id(body + luhn_check_digit(body))


@pytest.mark.parametrize(
    "value",
    ["+966501234567", "0501234567", "00966501234567", "966501234567", "٠٥٠١٢٣٤٥٦٧", "050 123 4567"],
)
def test_saudi_mobiles_normalise(value: str) -> None:
    assert normalize_saudi_mobile(value) == "+966501234567"


@pytest.mark.parametrize("value", ["+966112345678", "+971501234567", "05012345", "", "abc" * 10])
def test_other_numbers_are_refused(value: str) -> None:
    assert normalize_saudi_mobile(value) is None


def test_mask_phone_keeps_last_three() -> None:
    assert mask_phone("+966501234567").endswith("567")
    assert "5012" not in mask_phone("+966501234567")


class _Body(InputModel):
    name: str
    tags: list[str] = Field(default_factory=list)
    extra: dict[str, str] = Field(default_factory=dict)


@pytest.mark.parametrize(
    "body",
    [
        {"name": "a\x00b"},  # Postgres text cannot hold NUL
        {"name": "\udb4b"},  # a lone surrogate is not Unicode; UTF-8 cannot encode it
        {"name": "ok", "tags": ["fine", "\x00"]},
        {"name": "ok", "extra": {"\ud800": "x"}},
        {"name": "ok", "unknown": 1},
    ],
)
def test_request_bodies_refuse_text_the_database_cannot_store(body: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        _Body.model_validate(body)


def test_request_bodies_keep_arabic_emoji_and_newlines() -> None:
    text = "طلب تأشيرة 🛂\nسطر ثان\t."
    assert _Body.model_validate({"name": text, "tags": [text]}).name == text
