"""Checks every service shares: Saudi national IDs / iqama numbers, mobile numbers, and the
base of every request body (unknown fields refused, text that Postgres can store)."""

from __future__ import annotations

from typing import Annotated, Any

import phonenumbers
from pydantic import AfterValidator, BaseModel, ConfigDict, field_validator

_ARABIC_INDIC = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")


def normalize_digits(text: str) -> str:
    """Map Arabic-Indic and Persian digits to ASCII, as residents type either."""
    return text.translate(_ARABIC_INDIC).strip()


def is_valid_national_id(value: str) -> bool:
    """10 digits, first 1 (citizen) or 2 (resident), last digit a Luhn check over all ten."""
    if len(value) != 10 or not value.isascii() or not value.isdigit() or value[0] not in "12":
        return False
    total = 0
    for index, char in enumerate(value):
        digit = int(char)
        if index % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def luhn_check_digit(first_nine: str) -> str:
    """The tenth digit that makes `first_nine` a valid ID (tests and demo data use it)."""
    for candidate in "0123456789":
        if is_valid_national_id(first_nine + candidate):
            return candidate
    raise ValueError("no check digit fits")  # unreachable for nine digits starting 1 or 2


def normalize_saudi_mobile(value: str) -> str | None:
    """Return +9665XXXXXXXX for a Saudi mobile in any common spelling, else None."""
    text = normalize_digits(value)
    if not text or len(text) > 20:
        return None
    try:
        number = phonenumbers.parse(text, "SA")
    except phonenumbers.NumberParseException:
        return None
    formatted = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if number.country_code != 966 or len(formatted) != 13 or not formatted.startswith("+9665"):
        return None
    return formatted


def mask_phone(phone: str) -> str:
    """Show only the last three digits, for responses and logs that must not carry numbers."""
    return "•" * max(len(phone) - 3, 0) + phone[-3:]


def national_id_field(value: str) -> str:
    """Pydantic field validator: a national ID or iqama number, digits normalised."""
    text = normalize_digits(value)
    if not is_valid_national_id(text):
        raise ValueError("national_id must be 10 digits, start with 1 or 2, and pass the check")
    return text


def mobile_field(value: str) -> str:
    """Pydantic field validator: a Saudi mobile number, stored as +9665XXXXXXXX."""
    phone = normalize_saudi_mobile(value)
    if phone is None:
        raise ValueError("phone must be a Saudi mobile number (+9665XXXXXXXX)")
    return phone


def storable(value: Any) -> Any:
    """Refuse text Postgres cannot store: NUL, and lone surrogates (not Unicode at all).

    JSON may carry both as \\u escapes; let through, they reached the database and failed
    there as a 500 (found by tests/integration/test_api_fuzz.py)."""
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("text must not contain NUL characters")
        try:
            value.encode()
        except UnicodeEncodeError:
            raise ValueError("text must be valid Unicode (no lone surrogates)") from None
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            storable(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            storable(key)
            storable(item)
    return value


class InputModel(BaseModel):
    """The base of every request body: unknown fields refused, every text storable."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return storable(value)


# A text parameter (query or path) that reaches the database: the rule InputModel applies.
StorableText = Annotated[str, AfterValidator(storable)]
