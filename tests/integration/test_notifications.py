"""Receipts (good and forged), the stuck sweep, in-doubt sends, the message log, phone limits."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from gateway.app import create_app as create_gateway
from notify_service.jobs.deliver import deliver
from notify_service.jobs.stuck import time_out_sending
from notify_service.receipts.service import twilio_signature
from notify_service.settings import NotifySettings
from notify_service.sms.providers.aggregators import TwilioProvider
from notify_service.sms.providers.pool import ProviderPool
from shared.db.notify import Notification
from shared.queue.contract import Job
from shared.queue.outbox import owe
from tests.support.fake_providers import ACCOUNT_SID, AUTH_TOKEN, FakeAggregators
from tests.support.identities import mobile, national_id
from tests.support.inprocess import RECEIPT_BASE, UNIFONIC_RECEIPT_TOKEN


async def _notification(stack: Any, provider: str, **values: Any) -> Notification:
    row = Notification(
        id=uuid.uuid4(),
        idempotency_key=str(uuid.uuid4()),
        event="request_routed",
        phone=values.pop("phone", mobile()),
        language="ar",
        body="تواصل: اختبار",
        encoding="ucs2",
        parts=1,
        status=values.pop("status", "sending"),
        provider=provider,
        provider_reference=values.pop("reference", f"SM{uuid.uuid4().hex}"),
        sent_at=values.pop("sent_at", datetime.now(UTC)),
        **values,
    )
    async with stack.sessions() as session, session.begin():
        session.add(row)
    return row


async def _status(stack: Any, notification_id: uuid.UUID) -> str:
    async with stack.sessions() as session:
        status: str = await session.scalar(
            text("SELECT status FROM notifications WHERE id = :id"), {"id": notification_id}
        )
        return status


async def _twilio_receipt(
    client: httpx.AsyncClient,
    notification: Notification,
    status: str,
    *,
    token: str = AUTH_TOKEN,
    error: str | None = None,
) -> httpx.Response:
    path = f"/v1/sms/receipts/twilio?n={notification.id}"
    form = {"MessageSid": notification.provider_reference or "", "MessageStatus": status}
    if error:
        form["ErrorCode"] = error
    signature = twilio_signature(token, RECEIPT_BASE + path, form)
    return await client.post(path, data=form, headers={"X-Twilio-Signature": signature})


async def test_signed_twilio_receipt_marks_delivered(client: httpx.AsyncClient, stack: Any) -> None:
    notification = await _notification(stack, "twilio")
    response = await _twilio_receipt(client, notification, "delivered")
    assert response.status_code == 200, response.text
    assert response.json()["result"] == "recorded"
    assert await _status(stack, notification.id) == "delivered"


async def test_forged_twilio_receipt_changes_nothing(client: httpx.AsyncClient, stack: Any) -> None:
    notification = await _notification(stack, "twilio")
    response = await _twilio_receipt(client, notification, "delivered", token="not-the-token")
    assert response.status_code == 403
    assert response.json()["code"] == "invalid_signature"
    assert await _status(stack, notification.id) == "sending"


@pytest.mark.parametrize(
    ("status", "error", "expected"),
    [
        ("undelivered", "30003", "temporary-failure"),
        ("undelivered", "30006", "permanent-failure"),
        ("failed", None, "technical-failure"),
        ("sent", None, "sending"),
    ],
)
async def test_twilio_receipt_statuses(
    client: httpx.AsyncClient, stack: Any, status: str, error: str | None, expected: str
) -> None:
    notification = await _notification(stack, "twilio")
    await _twilio_receipt(client, notification, status, error=error)
    assert await _status(stack, notification.id) == expected


async def test_a_final_status_never_moves(client: httpx.AsyncClient, stack: Any) -> None:
    notification = await _notification(stack, "twilio")
    await _twilio_receipt(client, notification, "delivered")
    late = await _twilio_receipt(client, notification, "undelivered", error="30003")
    assert late.json()["result"] == "duplicate"
    assert await _status(stack, notification.id) == "delivered"


async def test_unifonic_receipt_needs_the_secret_url(client: httpx.AsyncClient, stack: Any) -> None:
    notification = await _notification(stack, "unifonic", reference="41009556")
    body = {"correlationId": str(notification.id), "messageId": "41009556", "status": "Delivered"}
    forged = await client.post("/v1/sms/receipts/unifonic/guess", json=body)
    assert forged.status_code == 403
    assert await _status(stack, notification.id) == "sending"
    genuine = await client.post(f"/v1/sms/receipts/unifonic/{UNIFONIC_RECEIPT_TOKEN}", json=body)
    assert genuine.status_code == 200
    assert await _status(stack, notification.id) == "delivered"


async def test_receipts_with_non_ascii_secrets_are_refused_not_crashed(
    client: httpx.AsyncClient, stack: Any
) -> None:
    # Found by tests/integration/test_api_fuzz.py: compare_digest raised on non-ASCII str.
    notification = await _notification(stack, "twilio")
    path = f"/v1/sms/receipts/twilio?n={notification.id}"
    twilio = await client.post(
        path, data={"MessageStatus": "delivered"}, headers=[(b"x-twilio-signature", "é".encode())]
    )
    unifonic = await client.post("/v1/sms/receipts/unifonic/%C2%80", json={})
    assert (twilio.status_code, unifonic.status_code) == (403, 403)
    assert await _status(stack, notification.id) == "sending"


async def test_unifonic_bad_number_report_is_permanent(
    client: httpx.AsyncClient, stack: Any
) -> None:
    notification = await _notification(stack, "unifonic", reference="41009557")
    await client.post(
        f"/v1/sms/receipts/unifonic/{UNIFONIC_RECEIPT_TOKEN}",
        data={"MessageID": "41009557", "Status": "Undelivered", "ErrorCode": "ER-02"},
    )
    assert await _status(stack, notification.id) == "permanent-failure"


async def test_sweep_times_out_messages_stuck_in_sending(stack: Any) -> None:
    now = datetime.now(UTC)
    old = await _notification(stack, "twilio", sent_at=now - timedelta(hours=73))
    recent = await _notification(stack, "twilio", sent_at=now - timedelta(hours=1))
    await time_out_sending(stack.sessions, now=now, timeout_seconds=72 * 3600)
    assert await _status(stack, old.id) == "temporary-failure"
    assert await _status(stack, recent.id) == "sending"


@pytest.fixture
def fake() -> Iterator[FakeAggregators]:
    """A fake aggregator for the in-doubt test."""
    with FakeAggregators() as server:
        yield server


async def test_in_doubt_message_is_found_at_the_provider_not_sent_twice(
    stack: Any, fake: FakeAggregators
) -> None:
    phone = mobile()
    twilio = TwilioProvider(
        fake.url,
        ACCOUNT_SID,
        AUTH_TOKEN,
        "+15005550006",
        callback_url=RECEIPT_BASE + "/v1/sms/receipts/twilio",
        timeout=0.3,
    )
    settings = NotifySettings(**{**stack.notify_settings.model_dump(), "sms_sending_lease": 0.2})
    ctx = {**stack.ctx, "settings": settings, "pool": ProviderPool([twilio], None, prefix="x")}
    async with stack.sessions() as session, session.begin():
        message = owe(
            session,
            Job.send_sms,
            {
                "event": "request_submitted",
                "phone": phone,
                "language": "ar",
                "values": {"reference": "TW-2026-99990001"},
            },
            producer="tests",
        )
    fake.state.mode["twilio"] = "slow_accept"
    fake.state.slow_seconds = 1.0  # the provider takes it but answers after our timeout
    assert await deliver(ctx, str(message.id)) == "unknown"
    fake.state.mode["twilio"] = "ok"
    await stack.make_pending_due()
    await asyncio.sleep(0.3)  # the claim's lease runs out
    assert await deliver(ctx, str(message.id)) == "sending"  # found there, awaiting receipt
    assert [m["to"] for m in fake.state.accepted] == [phone]  # one message, not two
    await twilio.aclose()


async def test_message_log_for_the_right_roles(
    client: httpx.AsyncClient, stack: Any, sms: Any
) -> None:
    resident = await stack.sign_up(client, sms.ledger)
    admin = await stack.admin(client, sms.ledger)
    url = f"/v1/staff/messages?phone={resident.phone}"
    log = await client.get(url, headers=admin.auth)
    assert log.status_code == 200, log.text
    events = [item["event"] for item in log.json()["items"]]
    assert events == ["otp_code", "otp_code"]
    assert all("••••••" in item["body"] for item in log.json()["items"])  # codes never shown
    assert all(item["status"] == "delivered" for item in log.json()["items"])
    officer = await stack.staff(client, sms.ledger, admin, "officer", ["visas"])
    supervisor = await stack.staff(client, sms.ledger, admin, "supervisor", ["visas"])
    assert (await client.get(url, headers=officer.auth)).status_code == 403
    assert (await client.get(url, headers=resident.auth)).status_code == 403
    assert (await client.get(url, headers=supervisor.auth)).json()["items"] == []
    bad = await client.get("/v1/staff/messages?phone=12", headers=admin.auth)
    assert bad.status_code == 422


async def test_codes_per_phone_are_limited_with_a_clear_error(stack: Any) -> None:
    settings = stack.gateway_settings.model_copy(update={"otp_sends_per_phone_per_hour": 2})
    strict = create_gateway(settings)
    phone = mobile()
    async with (
        strict.router.lifespan_context(strict),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=strict), base_url="http://gw"
        ) as client,
    ):
        answers = [
            await client.post(
                "/v1/auth/register",
                json={"national_id": national_id(), "phone": phone, "password": "long-password"},
            )
            for _ in range(3)
        ]
    assert [a.status_code for a in answers] == [202, 202, 429]
    refused = answers[2]
    assert int(refused.headers["retry-after"]) > 0
    assert refused.json()["code"] == "rate_limited"
    assert refused.json()["detail_ar"]
