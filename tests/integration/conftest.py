"""Integration tests share one database; reset what one test's officers leave behind; a
private clamd for the tests that scan uploads."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy import text

from devstack.clamd import Clamd
from intake_service.documents.scanner import ClamdScanner


@pytest.fixture(autouse=True)
async def officers_off_duty(stack: Any) -> AsyncIterator[None]:
    """An officer a test put on duty must not receive the next test's requests."""
    yield
    async with stack.sessions() as session, session.begin():
        await session.execute(text("UPDATE officer_duty SET on_duty = false WHERE on_duty"))


@pytest.fixture
async def admin(client: Any, stack: Any, sms: Any) -> Any:
    """A signed-in admin."""
    return await stack.admin(client, sms.ledger)


@pytest.fixture(scope="session")
def clamd() -> Iterator[Clamd]:
    """One private clamd for the session, knowing only the EICAR test signature."""
    with Clamd() as running:
        yield running


@pytest.fixture
def scanning(stack: Any, clamd: Clamd) -> Iterator[Clamd]:
    """The in-process intake scans uploads through `clamd` for this test (off otherwise, as in
    development), so tests that do not upload never depend on it."""
    before = stack.intake.state.scanner
    stack.intake.state.scanner = ClamdScanner(clamd.address, timeout=10)
    yield clamd
    stack.intake.state.scanner = before
