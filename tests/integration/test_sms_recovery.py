"""After a provider outage the messages it refused go out as soon as it answers again, not at
the end of each one's backoff (reliability checklist #40: oldest outbox row under 2 min after
a fault), and nothing in doubt is sent before its lease ends."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import text

from notify_service.jobs.recovery import RELEASE_INTERVAL, Recovery
from notify_service.sms.providers.base import Outcome
from notify_service.worker import spec
from shared.queue.contract import Queue
from tests.integration.test_sms_failures import _owe_sms, _row
from tests.support.identities import mobile


async def _relay_and_run(stack: Any, ctx: dict[str, Any]) -> None:
    await stack.relay(Queue.notify)
    await stack.run_worker(Queue.notify, ctx)


async def _defer(stack: Any, outbox_ids: list[str], minutes: int) -> None:
    """Push rows' next try far out, as several doublings of backoff would have."""
    async with stack.sessions() as session, session.begin():
        await session.execute(
            text(
                "UPDATE outbox SET available_at = now() + make_interval(mins => :m)"
                " WHERE id = ANY(CAST(:ids AS uuid[]))"
            ),
            {"ids": outbox_ids, "m": minutes},
        )


async def _waiting(stack: Any, outbox_ids: list[str]) -> set[str]:
    async with stack.sessions() as session:
        rows = await session.scalars(
            text(
                "SELECT id::text FROM outbox WHERE id = ANY(CAST(:ids AS uuid[]))"
                " AND status = 'pending' AND available_at > now()"
            ),
            {"ids": outbox_ids},
        )
        return set(rows)


async def test_the_first_accepted_send_releases_what_a_failing_provider_refused(
    stack: Any, sms: Any
) -> None:
    ctx = {**stack.ctx, "sms_recovery": Recovery()}
    phones = [mobile() for _ in range(3)]
    refused = [await _owe_sms(stack, phone) for phone in phones]
    sms.ledger.mode = "error500"
    try:
        await _relay_and_run(stack, ctx)
    finally:
        sms.ledger.mode = "ok"
    assert [(await _row(stack, i))["status"] for i in refused] == ["created"] * 3
    await _defer(stack, refused, minutes=30)

    # In doubt: claimed by a run that died mid-send; it must wait for its lease, then ask.
    doubtful_phone = mobile()
    doubtful = await _owe_sms(stack, doubtful_phone)
    sms.ledger.fail_next = 1
    await _relay_and_run(stack, ctx)
    async with stack.sessions() as session, session.begin():
        await session.execute(
            text(
                "UPDATE notifications SET status = 'sending', claimed_at = now()"
                " WHERE idempotency_key = :id"
            ),
            {"id": doubtful},
        )
    await _defer(stack, [doubtful], minutes=30)

    probe_phone = mobile()
    await _owe_sms(stack, probe_phone)
    await _relay_and_run(stack, ctx)  # the provider is back: this send is accepted
    assert len(sms.ledger.to(probe_phone)) == 1
    assert await _waiting(stack, [*refused, doubtful]) == {doubtful}

    await _relay_and_run(stack, ctx)
    for outbox_id, phone in zip(refused, phones, strict=True):
        row = await _row(stack, outbox_id)
        assert (row["outbox"], len(sms.ledger.to(phone))) == ("done", 1), row
    assert sms.ledger.to(doubtful_phone) == []

    # Once its lease is over, the one in doubt is tried again, and reaches the phone once.
    async with stack.sessions() as session, session.begin():
        await session.execute(
            text(
                "UPDATE notifications SET claimed_at = now() - interval '1 hour'"
                " WHERE idempotency_key = :id"
            ),
            {"id": doubtful},
        )
        await session.execute(
            text("UPDATE outbox SET available_at = now() WHERE id = :id"), {"id": doubtful}
        )
    await _relay_and_run(stack, ctx)
    assert (await _row(stack, doubtful))["outbox"] == "done"
    assert len(sms.ledger.to(doubtful_phone)) == 1


def test_refusals_arm_the_release_and_an_accepted_send_fires_it_once_per_interval() -> None:
    recovery = Recovery()
    assert not recovery.due([Outcome.accepted])  # nothing was refused: nothing waits
    assert not recovery.due([Outcome.retry, Outcome.accepted])  # still failing
    assert recovery.due([Outcome.accepted])
    recovery.refused, recovery.released_at = True, time.monotonic()
    assert not recovery.due([Outcome.accepted])  # released moments ago
    recovery.released_at -= RELEASE_INTERVAL
    assert recovery.due([Outcome.accepted])
    assert not recovery.due([Outcome.unknown])  # in doubt is not an answer


async def test_the_sms_workers_share_one_recovery_across_their_jobs(stack: Any) -> None:
    """arq hands each job a copy of the worker's context: the state that remembers refusals
    must be made at start-up, or every job starts afresh and nothing is ever released (the
    soak found exactly that)."""
    for kind in ("sms", "otp"):
        worker = spec(kind)
        ctx: dict[str, Any] = {}
        assert worker.on_startup is not None
        assert worker.on_shutdown is not None
        await worker.on_startup(ctx)
        try:
            first, second = {**ctx, "job_id": "a"}, {**ctx, "job_id": "b"}  # as arq does
            assert isinstance(first["sms_recovery"], Recovery)
            assert first["sms_recovery"] is second["sms_recovery"]
        finally:
            await worker.on_shutdown(ctx)
