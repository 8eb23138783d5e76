"""Reliability checklist #9: a provider that answers 503 three times gets the fourth try, and
each try waits its backoff (base·2ⁿ⁻¹ × U(0.5, 1.5)) after the one before, measured on the
schedule the worker writes, so the test needs no clock to run out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

from notify_service.jobs.deliver import send_sms
from shared.queue.contract import Queue
from tests.integration.test_sms_failures import _make_due, _owe_sms, _row
from tests.support.identities import mobile

BASE_SECONDS = 2.0  # shared.queue.outbox.backoff_seconds's default base


async def _available_at(stack: Any, outbox_id: str) -> datetime:
    async with stack.sessions() as session:
        when: datetime = await session.scalar(
            text("SELECT available_at FROM outbox WHERE id = :id"), {"id": outbox_id}
        )
    return when


async def _relayed(stack: Any, outbox_id: str) -> int:
    """How many times the relay has published this row so far."""
    await stack.relay(Queue.notify)
    return int((await _row(stack, outbox_id))["relayed"])


async def test_three_refusals_each_wait_their_backoff_and_the_fourth_try_sends(
    stack: Any, sms: Any
) -> None:
    phone = mobile()
    outbox_id = await _owe_sms(stack, phone)
    sms.ledger.fail_next = 3
    published = (await _row(stack, outbox_id))["relayed"]
    for attempt in (1, 2, 3):
        before = datetime.now(UTC)
        assert await send_sms(stack.ctx, outbox_id) == "retry"
        after = datetime.now(UTC)
        due = await _available_at(stack, outbox_id)
        nominal = BASE_SECONDS * 2 ** (attempt - 1)
        # The worker scheduled it at (its now) + delay, its now being between our two reads.
        assert (due - before).total_seconds() >= 0.5 * nominal, attempt
        assert (due - after).total_seconds() <= 1.5 * nominal, attempt
        assert await _relayed(stack, outbox_id) == published  # not handed over before it is due
        await _make_due(stack, outbox_id)
    await send_sms(stack.ctx, outbox_id)
    row = await _row(stack, outbox_id)
    assert (row["outbox"], row["attempts"]) == ("done", 4)
    assert row["status"] in ("sending", "delivered")
    assert len(sms.ledger.to(phone)) == 1
