"""Small rules: file sniffing, names, references, cursors, codes, backoff, tokens."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import jwt
import pytest

from gateway.auth import otp
from gateway.auth.tokens import InvalidToken, TokenIssuer, load_private_key
from intake_service.documents.sniff import JPEG, PDF, PNG, sniff
from intake_service.requests.errors import InvalidCursor
from intake_service.requests.service import decode_cursor, encode_cursor, format_reference
from shared.db.requests import Request
from shared.filenames import display_name
from shared.identity import Identity, PrincipalKind
from shared.queue.outbox import backoff_seconds
from tests.support import files


@pytest.mark.parametrize(
    ("data", "kind"), [(files.PDF, PDF), (files.png(), PNG), (files.JPEG, JPEG), (files.EXE, None)]
)
def test_sniff_decides_by_magic_bytes(data: bytes, kind: object) -> None:
    assert sniff(data[:16]) == kind


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd.pdf"),
        ("C:\\docs\\scan.PNG", "scan.pdf"),
        (None, "document.pdf"),
        ("جواز السفر.pdf", "جواز السفر.pdf"),
        ("a\x00b.pdf", "ab.pdf"),
        ("\u202egpj.exe", "gpj.pdf"),
    ],
)
def test_display_name(name: str | None, expected: str) -> None:
    assert display_name(name, PDF.extension) == expected


def test_reference_format() -> None:
    assert format_reference(2026, 1234) == "TW-2026-00001234"


def test_cursor_round_trip() -> None:
    request = Request(id=uuid.uuid4(), created_at=datetime(2026, 11, 25, 1, 2, 3, 456789, UTC))
    assert decode_cursor(encode_cursor(request)) == (request.created_at, request.id)


@pytest.mark.parametrize("cursor", ["", "garbage", "MjAyNnxub3QtYS11dWlk"])
def test_bad_cursor(cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor)


def test_codes_are_six_digits_and_bound_to_their_challenge() -> None:
    code = otp.new_code()
    assert len(code) == 6
    assert code.isdigit()
    first, second = uuid.uuid4(), uuid.uuid4()
    stored = otp.code_hash(b"pepper", first, code)
    assert otp.code_matches(b"pepper", first, code, stored)
    assert not otp.code_matches(b"pepper", second, code, stored)


def test_backoff_grows_and_is_capped() -> None:
    assert 1.0 <= backoff_seconds(1) <= 3.0
    assert 8.0 <= backoff_seconds(4) <= 24.0
    assert backoff_seconds(50) <= 900 * 1.5


def _issuer(ttl: int = 600) -> TokenIssuer:
    return TokenIssuer(load_private_key(None), issuer="iss", audience="aud", ttl=ttl)


def test_access_token_round_trip() -> None:
    issuer = _issuer()
    who = Identity(subject="r1", kind=PrincipalKind.resident, language="en")
    claims = issuer.verify(issuer.issue(who, "s1"))
    assert claims.identity == who
    assert claims.session_id == "s1"


def test_alg_none_and_other_keys_are_refused() -> None:
    issuer = _issuer()
    unsigned = jwt.encode({"sub": "r1", "knd": "resident", "sid": "s"}, "", algorithm="none")
    with pytest.raises(InvalidToken):
        issuer.verify(unsigned)
    stranger = _issuer().issue(Identity("r1", PrincipalKind.resident), "s")
    with pytest.raises(InvalidToken):
        issuer.verify(stranger)


def test_expired_token_is_refused() -> None:
    issuer = _issuer(ttl=-120)
    with pytest.raises(InvalidToken):
        issuer.verify(issuer.issue(Identity("r1", PrincipalKind.resident), "s"))
