"""Integration tests share one database; reset what one test's officers leave behind."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text


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
