"""Delivery receipts a provider gets wrong (reliability checklist #21): a broken body is the
sender's 400, a late 'sent' never undoes 'delivered', and a receipt for a message we do not
know is acknowledged (so the provider stops retrying) and changes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from shared.db.notify import Notification
from tests.support.identities import mobile
from tests.support.inprocess import UNIFONIC_RECEIPT_TOKEN

URL = f"/v1/sms/receipts/unifonic/{UNIFONIC_RECEIPT_TOKEN}"


async def _sent_by_unifonic(stack: Any) -> Notification:
    """A message Unifonic accepted and has not reported on yet."""
    row = Notification(
        id=uuid.uuid4(),
        idempotency_key=str(uuid.uuid4()),
        event="request_routed",
        phone=mobile(),
        language="ar",
        body="تواصل: اختبار",
        encoding="ucs2",
        parts=1,
        status="sending",
        provider="unifonic",
        provider_reference=str(uuid.uuid4().int)[:12],
        sent_at=datetime.now(UTC),
    )
    async with stack.sessions() as session, session.begin():
        session.add(row)
    return row


async def _state(stack: Any, notification: Notification) -> tuple[str, str | None]:
    async with stack.sessions() as session:
        row = (
            await session.execute(
                text("SELECT status, last_error FROM notifications WHERE id = :id"),
                {"id": notification.id},
            )
        ).one()
    return row[0], row[1]


def _report(notification: Notification, status: str) -> dict[str, str]:
    return {
        "correlationId": str(notification.id),
        "messageId": notification.provider_reference or "",
        "status": status,
    }


@pytest.mark.parametrize(
    "body", [b'{"correlationId": "abc", "status": "Deliv', b"\xff\xfe not utf-8", b"nul\x00l"]
)
async def test_a_malformed_receipt_is_a_400_problem_not_a_crash(
    client: httpx.AsyncClient, stack: Any, body: bytes
) -> None:
    notification = await _sent_by_unifonic(stack)
    response = await client.post(URL, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "malformed_receipt"
    assert await _state(stack, notification) == ("sending", None)


async def test_a_late_sent_report_does_not_undo_delivered(
    client: httpx.AsyncClient, stack: Any
) -> None:
    notification = await _sent_by_unifonic(stack)
    delivered = await client.post(URL, json=_report(notification, "Delivered"))
    assert delivered.json()["result"] == "recorded"
    late = await client.post(URL, json=_report(notification, "Sent"))
    again = await client.post(URL, json=_report(notification, "Delivered"))
    assert (late.status_code, again.status_code) == (200, 200)
    assert again.json()["result"] == "duplicate"
    assert (await _state(stack, notification))[0] == "delivered"


async def test_a_receipt_for_an_unknown_message_is_acknowledged_and_changes_nothing(
    client: httpx.AsyncClient, stack: Any
) -> None:
    """A 4xx or 5xx here would make the provider retry the report for hours."""
    known = await _sent_by_unifonic(stack)
    by_reference = {"messageId": "999999999999", "status": "Undelivered", "errorCode": "ER-02"}
    by_our_id = {**by_reference, "correlationId": str(uuid.uuid4())}
    for report in (by_reference, by_our_id):
        response = await client.post(URL, json=report)
        assert response.status_code == 200, response.text
        assert response.json()["result"] == "unknown"
    async with stack.sessions() as session:
        touched = await session.scalar(
            text("SELECT count(*) FROM notifications WHERE provider_reference = '999999999999'")
        )
    assert touched == 0
    assert await _state(stack, known) == ("sending", None)
