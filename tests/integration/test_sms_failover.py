"""Reliability checklist #20 through the notify worker: while the first provider fails, status
SMS go out through the second, each exactly once; once it has rested and answers again, the
first provider gets the traffic back."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from notify_service.settings import NotifySettings, provider_names
from notify_service.sms.providers.pool import ProviderPool
from notify_service.sms.providers.registry import build_provider
from shared.queue.contract import Queue
from tests.integration.test_sms_failures import _owe_sms
from tests.support.fake_providers import ACCOUNT_SID, APP_SID, AUTH_TOKEN, FakeAggregators
from tests.support.identities import mobile

COOLDOWN = 2


@pytest.fixture
def fake() -> Iterator[FakeAggregators]:
    with FakeAggregators() as server:
        yield server


def _pool(stack: Any, fake: FakeAggregators, prefix: str) -> tuple[NotifySettings, ProviderPool]:
    settings = NotifySettings(
        **{
            **stack.notify_settings.model_dump(),
            "sms_providers": "unifonic,twilio",
            "unifonic_base_url": fake.url,
            "unifonic_app_sid": APP_SID,
            "twilio_base_url": fake.url,
            "twilio_account_sid": ACCOUNT_SID,
            "twilio_auth_token": AUTH_TOKEN,
            "twilio_sender": "+15005550006",
        }
    )
    providers = [build_provider(name, settings) for name in provider_names(settings)]
    pool = ProviderPool(
        providers, stack.redis, prefix=prefix, min_volume=4, threshold=0.5, cooldown=COOLDOWN
    )
    return settings, pool


async def _drain(stack: Any, ctx: dict[str, Any], outbox_ids: list[str]) -> None:
    """Relay and work until every row is settled (bounded), skipping backoffs."""
    for _ in range(10):
        await stack.relay(Queue.notify)
        await stack.run_worker(Queue.notify, ctx)
        async with stack.sessions() as session, session.begin():
            pending = await session.scalar(
                text(
                    "SELECT count(*) FROM outbox WHERE id = ANY(CAST(:ids AS uuid[]))"
                    " AND status = 'pending'"
                ),
                {"ids": outbox_ids},
            )
            if not pending:
                return
            await session.execute(
                text("UPDATE outbox SET available_at = now() WHERE id = ANY(CAST(:ids AS uuid[]))"),
                {"ids": outbox_ids},
            )
    raise AssertionError(f"{pending} SMS still pending")


async def _providers_of(stack: Any, outbox_ids: list[str]) -> Counter[str]:
    async with stack.sessions() as session:
        rows = await session.scalars(
            text(
                "SELECT provider FROM notifications WHERE idempotency_key = ANY(:ids)"
                " AND sent_at IS NOT NULL"
            ),
            {"ids": outbox_ids},
        )
        return Counter(rows)


async def test_sms_fail_over_to_the_second_provider_once_each_and_come_back(
    stack: Any, fake: FakeAggregators
) -> None:
    prefix = f"{stack.prefix}:failover{uuid.uuid4().hex[:6]}"
    settings, pool = _pool(stack, fake, prefix)
    ctx = {**stack.ctx, "settings": settings, "pool": pool}
    try:
        fake.state.mode["unifonic"] = "error500"
        outage = [await _owe_sms(stack, mobile()) for _ in range(12)]
        await _drain(stack, ctx, outage)
        assert await _providers_of(stack, outage) == Counter({"twilio": 12})
        assert fake.state.calls["unifonic"] >= 4  # it failed enough to trip
        twilio = set(fake.state.ids("twilio"))
        assert set(await _ids(stack, outage)) <= twilio

        fake.state.mode["unifonic"] = "ok"
        await asyncio.sleep(COOLDOWN + 0.5)  # the breaker's rest ends
        after = [await _owe_sms(stack, mobile()) for _ in range(5)]
        await _drain(stack, ctx, after)
        assert await _providers_of(stack, after) == Counter({"unifonic": 5})
        ours = set(await _ids(stack, outage + after))
        accepted = Counter(i for i in fake.state.ids() if i in ours)
        assert len(accepted) == 17
        assert set(accepted.values()) == {1}  # no message reached a provider twice
    finally:
        await pool.aclose()
        keys = [key async for key in stack.redis.scan_iter(match=f"{prefix}:*")]
        if keys:
            await stack.redis.delete(*keys)


async def _ids(stack: Any, outbox_ids: list[str]) -> list[str]:
    """Our message IDs as the providers see them (the notification IDs)."""
    async with stack.sessions() as session:
        rows = await session.scalars(
            text("SELECT id::text FROM notifications WHERE idempotency_key = ANY(:ids)"),
            {"ids": outbox_ids},
        )
        return list(rows)
