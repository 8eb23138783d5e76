"""`make run` scans uploads as production does: devstack starts a private clamd when no
CLAMD_ADDRESS is given (checklist #37), and leaves a configured scanner alone."""

from __future__ import annotations

from devstack.__main__ import start_scanner
from devstack.clamd import EICAR
from intake_service.documents.scanner import ClamdScanner


async def test_make_run_starts_a_scanner_that_finds_the_test_file() -> None:
    env: dict[str, str] = {}
    scanner = start_scanner(env)
    assert scanner is not None
    try:
        assert env["CLAMD_ADDRESS"] == scanner.address
        client = ClamdScanner(env["CLAMD_ADDRESS"], timeout=10)
        assert (await client.scan(b"%PDF-1.4 harmless")).clean
        infected = await client.scan(b"%PDF-1.4 " + EICAR)
        assert not infected.clean
    finally:
        scanner.stop()
    assert not scanner.directory.exists()  # its socket and signatures are gone with it


def test_a_configured_scanner_is_left_alone() -> None:
    env = {"CLAMD_ADDRESS": "clamav.example:3310"}
    assert start_scanner(env) is None
    assert env == {"CLAMD_ADDRESS": "clamav.example:3310"}
