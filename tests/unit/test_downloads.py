"""Download headers (checklist #39), the clamd protocol's replies and the scanner's settings,
without servers."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from pydantic import ValidationError

from intake_service.documents.scanner import ScannerError, Verdict, parse_address, parse_reply
from intake_service.settings import IntakeSettings
from shared.downloads import attachment, content_disposition


@pytest.mark.parametrize(
    ("stored", "fallback", "exact"),
    [
        ("passport.pdf", "passport.pdf", "passport.pdf"),
        ("جواز السفر.pdf", "document.pdf", "جواز السفر.pdf"),
        ('say "hi"; x=1.pdf', "say hi_ x_1.pdf", "say hi; x=1.pdf"),
        ("a\r\nSet-Cookie: x.pdf", "aSet-Cookie x.pdf", "aSet-Cookie x.pdf"),
        ("\u202efdp.exe", "fdp.pdf", "fdp.pdf"),
        ("Café 😀.pdf", "Cafe.pdf", "Café 😀.pdf"),
    ],
)
def test_content_disposition_is_an_rfc_6266_attachment(
    stored: str, fallback: str, exact: str
) -> None:
    header = content_disposition(stored, "application/pdf")
    header.encode("latin-1")  # a header value must be sendable as it is
    assert "\r" not in header
    assert "\n" not in header
    assert header.startswith(f'attachment; filename="{fallback}"; ')
    assert unquote(header.split("filename*=UTF-8''", 1)[1]) == exact


def test_attachment_is_never_rendered_or_sniffed() -> None:
    response = attachment(b"%PDF-", filename="a.pdf", content_type="application/pdf")
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "private, no-store"
    assert "sandbox" in response.headers["content-security-policy"]


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        (b"stream: OK\x00", Verdict(clean=True)),
        (b"stream: Eicar-Test-Signature FOUND\x00", Verdict(False, "Eicar-Test-Signature")),
        (
            b"stream: Heuristics.Limits.Exceeded.MaxFileSize FOUND\x00",
            Verdict(False, "Heuristics.Limits.Exceeded.MaxFileSize"),
        ),
    ],
)
def test_clamd_verdicts(reply: bytes, verdict: Verdict) -> None:
    assert parse_reply(reply) == verdict


@pytest.mark.parametrize(
    "reply",
    [b"INSTREAM size limit exceeded. ERROR\x00", b"stream: Can't allocate memory ERROR\x00", b""],
)
def test_anything_but_ok_or_found_is_a_scanner_error(reply: bytes) -> None:
    with pytest.raises(ScannerError):
        parse_reply(reply)


@pytest.mark.parametrize(
    ("address", "target"),
    [
        ("/run/clamav/clamd.ctl", "/run/clamav/clamd.ctl"),
        ("unix:/run/c.sock", "/run/c.sock"),
        ("clamav:3310", ("clamav", 3310)),
        ("tcp://10.0.0.5:3310", ("10.0.0.5", 3310)),
        ("[::1]:3310", ("::1", 3310)),
    ],
)
def test_clamd_addresses(address: str, target: object) -> None:
    assert parse_address(address) == target


@pytest.mark.parametrize("address", ["clamav", "clamav:port", ":3310"])
def test_bad_clamd_address_is_refused(address: str) -> None:
    with pytest.raises(ValueError, match="CLAMD_ADDRESS"):
        parse_address(address)


def test_production_intake_refuses_to_start_without_a_scanner() -> None:
    secret = "s" * 40
    with pytest.raises(ValidationError, match="CLAMD_ADDRESS"):
        IntakeSettings(environment="production", internal_auth_secret=secret)
    scanned = IntakeSettings(
        environment="production", internal_auth_secret=secret, clamd_address="clamav:3310"
    )
    assert scanned.clamd_address == "clamav:3310"
