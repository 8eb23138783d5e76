"""SMS that cannot go out as planned (reliability checklist #10, #14, #18, #19): each one still
reaches a final state, is never sent twice, and never holds a worker past its deadline."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text

from notify_service.jobs.deliver import send_otp, send_sms
from notify_service.jobs.handover import Claimed, hand_over
from notify_service.settings import NotifySettings
from notify_service.sms.providers.base import Outcome
from notify_service.sms.providers.registry import build_pool
from shared.queue.contract import Job, Queue, arq_queue_name
from shared.queue.outbox import owe
from tests.support.identities import mobile

EXPIRED = "one-time code expired before it could be sent"


async def _owe_sms(stack: Any, phone: str) -> str:
    """A status SMS owed to `phone`, as intake owes one when a request is submitted."""
    payload = {
        "event": "request_submitted",
        "phone": phone,
        "language": "ar",
        "values": {"reference": "TW-2026-99990002"},
    }
    async with stack.sessions() as session, session.begin():
        return str(owe(session, Job.send_sms, payload, producer="tests").id)


async def _owe_code(stack: Any, phone: str) -> str:
    """A one-time code owed to `phone`, valid for five minutes, as the gateway owes one."""
    payload = {
        "event": "otp_code",
        "phone": phone,
        "language": "ar",
        "expires_at": (datetime.now(UTC) + timedelta(minutes=5)).isoformat(),
        "values": {"code": "482913", "minutes": "5"},
    }
    async with stack.sessions() as session, session.begin():
        return str(owe(session, Job.send_otp, payload, producer="tests").id)


async def _row(stack: Any, outbox_id: str) -> dict[str, Any]:
    """The outbox row and its notification (None fields when none was made)."""
    async with stack.sessions() as session:
        row = (
            await session.execute(
                text(
                    "SELECT o.status AS outbox, o.attempts AS relayed, o.payload,"
                    " n.id AS notification_id, n.status, n.attempts, n.last_error"
                    " FROM outbox o LEFT JOIN notifications n ON n.idempotency_key = o.id::text"
                    " WHERE o.id = :id"
                ),
                {"id": outbox_id},
            )
        ).one()
    return dict(row._mapping)


async def _make_due(stack: Any, outbox_id: str) -> None:
    """Skip one row's backoff (and only that row's: other tests' rows keep theirs)."""
    async with stack.sessions() as session, session.begin():
        await session.execute(
            text("UPDATE outbox SET available_at = now() WHERE id = :id"), {"id": outbox_id}
        )


def _ctx(stack: Any, **settings: Any) -> dict[str, Any]:
    """The stack's job context with some notify settings changed, and providers built from them."""
    changed = NotifySettings(**{**stack.notify_settings.model_dump(), **settings})
    return {**stack.ctx, "settings": changed, "pool": build_pool(changed, None)}


def _technical_failures() -> float:
    """The SMS metric the provider-error alert watches, for webhook technical failures."""
    labels = {"provider": "webhook", "status": "technical-failure"}
    return REGISTRY.get_sample_value("tawasul_sms_total", labels) or 0.0


@pytest.mark.parametrize("left_as", ["created", "sending"])
async def test_a_code_that_expires_after_a_failed_try_is_finished_not_left_behind(
    stack: Any, sms: Any, left_as: str
) -> None:
    """#14/INV-2: the first try made a notification row; the retry finds the code expired.
    'created' is a refused send; 'sending' is a worker that died mid-send long ago."""
    phone = mobile()
    outbox_id = await _owe_code(stack, phone)
    sms.ledger.fail_next = 1
    assert await send_otp(stack.ctx, outbox_id) == "retry"
    async with stack.sessions() as session, session.begin():
        await session.execute(
            text(
                "UPDATE outbox SET available_at = now(), payload = jsonb_set(payload,"
                " '{expires_at}', to_jsonb(CAST(now() - interval '1 second' AS text)))"
                " WHERE id = :id"
            ),
            {"id": outbox_id},
        )
        await session.execute(
            text(
                "UPDATE notifications SET status = :status,"
                " claimed_at = now() - interval '1 hour' WHERE idempotency_key = :id"
            ),
            {"status": left_as, "id": outbox_id},
        )
    assert await send_otp(stack.ctx, outbox_id) == "skipped"
    row = await _row(stack, outbox_id)
    assert (row["outbox"], row["status"]) == ("dead", "technical-failure")
    assert row["last_error"] == EXPIRED  # the message log says why
    assert "code" not in row["payload"]["values"]  # the secret does not linger
    assert sms.ledger.to(phone) == []


async def test_an_expired_code_being_sent_right_now_is_left_to_the_run_sending_it(
    stack: Any, sms: Any
) -> None:
    """A fresh claim belongs to a run that will record the provider's answer; finishing the
    row under it would leave that answer nowhere to go."""
    outbox_id = await _owe_code(stack, mobile())
    sms.ledger.fail_next = 1
    assert await send_otp(stack.ctx, outbox_id) == "retry"
    async with stack.sessions() as session, session.begin():
        await session.execute(
            text(
                "UPDATE outbox SET payload = jsonb_set(payload, '{expires_at}',"
                " to_jsonb(CAST(now() - interval '1 second' AS text))) WHERE id = :id"
            ),
            {"id": outbox_id},
        )
        await session.execute(
            text(
                "UPDATE notifications SET status = 'sending', claimed_at = now()"
                " WHERE idempotency_key = :id"
            ),
            {"id": outbox_id},
        )
    assert await send_otp(stack.ctx, outbox_id) == "skipped"
    row = await _row(stack, outbox_id)
    assert (row["outbox"], row["status"]) == ("pending", "sending")
    async with stack.sessions() as session, session.begin():  # that run died: its lease ends
        await session.execute(
            text(
                "UPDATE notifications SET claimed_at = now() - interval '1 hour'"
                " WHERE idempotency_key = :id"
            ),
            {"id": outbox_id},
        )
    assert await send_otp(stack.ctx, outbox_id) == "skipped"
    row = await _row(stack, outbox_id)
    assert (row["outbox"], row["status"]) == ("dead", "technical-failure")


async def test_a_provider_that_always_fails_ends_in_technical_failure_for_supervisors(
    client: httpx.AsyncClient, stack: Any, sms: Any, admin: Any
) -> None:
    """#10: a few tries, then a final state on both rows, nothing left in Redis, and the
    failure in the message log and the SMS metric."""
    ctx = _ctx(stack, sms_max_attempts=3)
    phone = mobile()
    outbox_id = await _owe_sms(stack, phone)
    failed_before = _technical_failures()
    refused_before = sms.ledger.refused
    sms.ledger.mode = "error500"
    try:
        for _ in range(10):  # bounded: three tries are expected
            await stack.relay(Queue.notify)
            await stack.run_worker(Queue.notify, ctx)
            if (await _row(stack, outbox_id))["outbox"] != "pending":
                break
            await _make_due(stack, outbox_id)
    finally:
        sms.ledger.mode = "ok"
        await ctx["pool"].aclose()
    row = await _row(stack, outbox_id)
    assert (row["outbox"], row["status"], row["attempts"]) == ("dead", "technical-failure", 3)
    assert sms.ledger.refused - refused_before == 3
    assert _technical_failures() - failed_before == 1
    assert await stack.redis.zcard(arq_queue_name(stack.prefix, Queue.notify)) == 0
    assert not [key async for key in stack.redis.scan_iter(f"arq:in-progress:{stack.prefix}:*")]
    log = await client.get(f"/v1/staff/messages?phone={phone}", headers=admin.auth)
    assert log.status_code == 200, log.text
    [item] = log.json()["items"]
    assert (item["status"], item["attempts"], item["last_error"]) == (
        "technical-failure",
        3,
        "http 500",
    )


async def test_a_claim_past_its_send_window_is_not_handed_to_the_provider(
    stack: Any, sms: Any
) -> None:
    """#18: a run that stalled (blocked loop, paused process) between claim and send must not
    send, because the message may already be taken over as in doubt by another run."""
    notification_id = uuid.uuid4()
    stale = Claimed(
        outbox_id=str(uuid.uuid4()),
        notification_id=notification_id,
        phone=mobile(),
        body="تواصل: اختبار",
        attempts=1,
        provider="webhook",
        in_doubt_provider=None,
        in_doubt_since=None,
        send_by=datetime.now(UTC) - timedelta(seconds=1),
    )
    received = len(sms.ledger.messages), sms.ledger.repeats, sms.ledger.refused
    attempt = await hand_over(stack.ctx["pool"], stale)
    assert attempt.result.outcome is Outcome.unknown  # recorded as in doubt, retried later
    assert (len(sms.ledger.messages), sms.ledger.repeats, sms.ledger.refused) == received


async def test_a_second_run_while_the_first_is_mid_send_sends_nothing(stack: Any, sms: Any) -> None:
    """#18: arq may start the same job twice (a timeout, a lost in-progress key); the claim in
    Postgres lets only the first one reach the provider."""
    phone = mobile()
    outbox_id = await _owe_sms(stack, phone)
    sms.ledger.delay = 1.0
    try:
        first = asyncio.create_task(send_sms(stack.ctx, outbox_id))
        for _ in range(100):  # until the first run's claim is committed
            if (await _row(stack, outbox_id))["status"] == "sending":
                break
            await asyncio.sleep(0.02)
        assert not first.done()
        assert await send_sms(stack.ctx, outbox_id) == "skipped"
        assert await first == "delivered"
    finally:
        sms.ledger.delay = 0.0
    notification_id = str((await _row(stack, outbox_id))["notification_id"])
    assert sms.ledger.count_by_id()[notification_id] == 1
    assert len(sms.ledger.to(phone)) == 1


@pytest.mark.parametrize("mode", ["hang", "drip"])
async def test_a_provider_that_never_finishes_answering_is_cut_off_and_retried(
    stack: Any, sms: Any, mode: str
) -> None:
    """#19: the webhook call ends by its overall deadline (SMS_TIMEOUT + 2 s) however the
    provider stalls, counts as in doubt, and the message goes out once on a later run."""
    ctx = _ctx(stack, sms_timeout=1.0, sms_sending_lease=1.5)
    phone = mobile()
    outbox_id = await _owe_sms(stack, phone)
    sms.ledger.mode, sms.ledger.hang_seconds = mode, 10.0  # longer than the bound, not forever
    try:
        started = time.monotonic()
        outcome = await send_sms(ctx, outbox_id)
        elapsed = time.monotonic() - started
    finally:
        sms.ledger.mode, sms.ledger.hang_seconds = "ok", 60.0
    try:
        assert outcome == "unknown"
        bound = ctx["settings"].sms_timeout + 5.0  # a deadline, not a speed target
        assert elapsed < bound
        assert (await _row(stack, outbox_id))["outbox"] == "pending"
        await asyncio.sleep(ctx["settings"].sms_sending_lease)  # the in-doubt claim lapses
        await _make_due(stack, outbox_id)
        assert await send_sms(ctx, outbox_id) == "delivered"
    finally:
        await ctx["pool"].aclose()
    row = await _row(stack, outbox_id)
    assert (row["outbox"], row["status"], row["attempts"]) == ("done", "delivered", 2)
    assert sms.ledger.count_by_id()[str(row["notification_id"])] == 1
