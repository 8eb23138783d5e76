"""The notify worker SIGKILLed in a burst of 1,000 SMS: each event reaches the provider once."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.fake_providers import ACCOUNT_SID, AUTH_TOKEN, FakeAggregators
from tests.support.identities import mobile
from tests.support.live import LiveStack, live_stack, wait_until

pytestmark = pytest.mark.e2e
BURST = 1000


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeAggregators]:
    """Twilio, imitated: it takes each message, then answers a little late."""
    with FakeAggregators() as server:
        server.state.mode["twilio"] = "slow_accept"
        server.state.slow_seconds = 0.05
        yield server


@pytest.fixture(scope="module")
def stack(
    backing: Any, fake: FakeAggregators, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveStack]:
    """Every process, SMS going to the imitated Twilio."""
    env = {
        **backing.env(),
        "SMS_PROVIDERS": "twilio",
        "TWILIO_BASE_URL": fake.url,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_SENDER": "+15005550006",
        "SMS_CALLBACK_BASE_URL": "https://api.tawasul.test",
        "SMS_SENDING_LEASE": "3",
        "SMS_REDRIVE_AFTER": "2",
    }
    with live_stack(env, tmp_path_factory.mktemp("logs-burst")) as running:
        yield running


def test_killed_notify_worker_sends_each_event_exactly_once(
    stack: LiveStack, fake: FakeAggregators, backing: Any
) -> None:
    burst = uuid.uuid4().hex[:8]

    async def owe_burst() -> list[str]:
        engine = create_async_engine(backing.database_url)
        ids = [str(uuid.uuid4()) for _ in range(BURST)]
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO outbox (id, queue, job, payload, producer) "
                    "VALUES (:id, 'notify', 'send_sms', CAST(:payload AS jsonb), 'burst')"
                ),
                [
                    {
                        "id": i,
                        "payload": json.dumps(
                            {
                                "event": "request_submitted",
                                "phone": mobile(),
                                "language": "ar",
                                "values": {"reference": f"TW-{burst}-{n:05d}"},
                            }
                        ),
                    }
                    for n, i in enumerate(ids)
                ],
            )
        await engine.dispose()
        return ids

    async def pending(ids: list[str]) -> int:
        engine = create_async_engine(backing.database_url)
        async with engine.connect() as conn:
            count = await conn.scalar(
                text(
                    "SELECT count(*) FROM outbox WHERE id = ANY(CAST(:ids AS uuid[])) "
                    "AND status <> 'done'"
                ),
                {"ids": ids},
            )
        await engine.dispose()
        return int(count or 0)

    ids = asyncio.run(owe_burst())
    wait_until(lambda: len(fake.state.accepted) >= 150, 60, "the burst never started")
    stack.supervisor.signal("notify-worker", signal.SIGKILL)
    killed_at = len(fake.state.accepted)
    time.sleep(0.5)
    stack.supervisor.start("notify-worker")
    wait_until(lambda: asyncio.run(pending(ids)) == 0, 180, "some messages were never settled")
    sent = [m["id"] for m in fake.state.accepted]
    assert killed_at < BURST, "the worker finished before it was killed; the test proves nothing"
    assert len(sent) == BURST, (
        f"{len(sent) - len(set(sent))} duplicates, {BURST - len(set(sent))} lost"
    )
    assert len(set(sent)) == BURST
    log = (stack.log_dir / "notify-worker.log").read_text()
    print(
        f"killed after {killed_at} accepted; "
        f"{log.count('sms_found_at_provider')} found at the provider after the kill"
    )
