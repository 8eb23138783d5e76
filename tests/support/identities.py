"""Test data: valid national IDs and Saudi mobiles that no other test uses."""

from __future__ import annotations

import secrets

from shared.validation import luhn_check_digit


def national_id(first: str = "1") -> str:
    """A fresh valid national ID (first digit 1) or iqama number (first digit 2)."""
    body = first + "".join(str(secrets.randbelow(10)) for _ in range(8))
    return body + luhn_check_digit(body)


def mobile() -> str:
    """A fresh +9665XXXXXXXX number."""
    return "+9665" + "".join(str(secrets.randbelow(10)) for _ in range(8))


def clear_of_minute_boundary(margin: float = 3.0) -> None:
    """Wait until `margin` seconds remain in this minute: limits count per fixed minute."""
    import time

    while 60 - time.time() % 60 < margin:
        time.sleep(0.1)
