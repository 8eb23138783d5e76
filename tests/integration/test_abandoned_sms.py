"""A message nothing owes any more ends in a final state (checklist INV-2).

Two ways an SMS could be left looking retryable with nothing left to retry it: the relay
parks its outbox row dead (its job was lost too many times), or a run records a retryable
answer after the row stopped being pending (another run settled it, or it was given up).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import text

from notify_service.jobs.deliver import _record_one
from notify_service.jobs.handover import Attempt, Claimed
from notify_service.jobs.stuck import fail_abandoned
from notify_service.settings import NotifySettings
from notify_service.sms.providers.base import Outcome, SendResult
from shared.db.notify import Notification
from shared.queue.contract import Job
from shared.queue.outbox import owe
from tests.support.identities import mobile


async def _owed_and_tried_once(stack: Any, sms: Any) -> tuple[str, str]:
    """A status SMS whose first send failed: notification 'created', row pending."""
    payload = {
        "event": "request_submitted",
        "phone": mobile(),
        "language": "ar",
        "values": {"reference": "TW-2026-99990003"},
    }
    async with stack.sessions() as session, session.begin():
        outbox_id = str(owe(session, Job.send_sms, payload, producer="tests").id)
    sms.ledger.fail_next = 1
    await stack.drain()
    async with stack.sessions() as session:
        row = (
            await session.execute(
                text("SELECT id::text, status FROM notifications WHERE idempotency_key = :k"),
                {"k": outbox_id},
            )
        ).one()
    assert row.status == "created"
    return outbox_id, row.id


async def _status(stack: Any, notification_id: str) -> str:
    async with stack.sessions() as session:
        return str(
            await session.scalar(
                text("SELECT status FROM notifications WHERE id = :id"), {"id": notification_id}
            )
        )


async def test_a_message_whose_row_was_parked_dead_is_failed_by_the_sweep(
    stack: Any, sms: Any
) -> None:
    outbox_id, notification_id = await _owed_and_tried_once(stack, sms)
    untouched_outbox, untouched = await _owed_and_tried_once(stack, sms)
    async with stack.sessions() as session, session.begin():  # as the relay parks a lost job
        await session.execute(
            text("UPDATE outbox SET status = 'dead', done_at = now() WHERE id = :id"),
            {"id": outbox_id},
        )
    now = datetime.now(UTC)
    assert await fail_abandoned(stack.sessions, now=now, lease_seconds=0) == 1
    assert await _status(stack, notification_id) == "technical-failure"
    assert await _status(stack, untouched) == "created"  # still owed: the relay will retry
    assert await fail_abandoned(stack.sessions, now=now, lease_seconds=0) == 0  # idempotent
    async with stack.sessions() as session, session.begin():  # leave nothing owed behind
        await session.execute(
            text("UPDATE outbox SET status = 'done', done_at = now() WHERE id = :id"),
            {"id": untouched_outbox},
        )


def _attempt(outcome: Outcome) -> Attempt:
    claimed = Claimed("x", uuid.uuid4(), "+966500000000", "body", 1, "webhook", None, None)
    provider = SimpleNamespace(name="webhook", has_receipts=False)
    return Attempt(claimed, provider, SendResult(outcome, error="http 503"))


def test_a_retryable_answer_for_a_row_no_longer_owed_is_final() -> None:
    settings = NotifySettings()
    for outcome in (Outcome.retry, Outcome.unknown):
        unsent = Notification(status="sending", sent_at=None)
        _record_one(unsent, None, _attempt(outcome), settings)
        assert unsent.status == "technical-failure"
        delivered = Notification(status="delivered", sent_at=datetime.now(UTC))
        _record_one(delivered, None, _attempt(outcome), settings)
        assert delivered.status == "delivered"  # settled by another run: left as it is
