"""Each provider adapter against a local server that answers like the real API; failover."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis.asyncio import Redis

from notify_service.sms.providers.aggregators import TwilioProvider, UnifonicProvider
from notify_service.sms.providers.base import Outcome
from notify_service.sms.providers.pool import ProviderPool
from tests.support.fake_providers import ACCOUNT_SID, APP_SID, AUTH_TOKEN, FakeAggregators

TO = "+966501112233"


@pytest.fixture
def fake() -> Iterator[FakeAggregators]:
    """A fresh fake aggregator per test."""
    with FakeAggregators() as server:
        yield server


@pytest.fixture
async def unifonic(fake: FakeAggregators) -> AsyncIterator[UnifonicProvider]:
    """The Unifonic adapter pointed at the fake."""
    provider = UnifonicProvider(fake.url, APP_SID, "Tawasul", timeout=1.0)
    yield provider
    await provider.aclose()


@pytest.fixture
async def twilio(fake: FakeAggregators) -> AsyncIterator[TwilioProvider]:
    """The Twilio adapter pointed at the fake."""
    provider = TwilioProvider(
        fake.url,
        ACCOUNT_SID,
        AUTH_TOKEN,
        "+15005550006",
        callback_url="https://api.example/v1/sms/receipts/twilio",
        timeout=1.0,
    )
    yield provider
    await provider.aclose()


async def test_unifonic_accepts_and_carries_our_id(
    unifonic: UnifonicProvider, fake: FakeAggregators
) -> None:
    message_id = str(uuid.uuid4())
    result = await unifonic.send(message_id, TO, "تواصل: اختبار")
    assert result.outcome is Outcome.accepted
    assert fake.state.accepted[0]["id"] == message_id
    assert fake.state.accepted[0]["to"] == TO  # sent as 9665…, without the plus
    assert result.reference == fake.state.accepted[0]["sid"]


@pytest.mark.parametrize(
    ("mode", "outcome"),
    [
        ("error500", Outcome.retry),
        ("error429", Outcome.retry),
        ("auth", Outcome.retry),
        ("hang", Outcome.unknown),
    ],
)
async def test_unifonic_failures_are_classified(
    unifonic: UnifonicProvider, fake: FakeAggregators, mode: str, outcome: Outcome
) -> None:
    fake.state.mode["unifonic"] = mode
    assert (await unifonic.send(str(uuid.uuid4()), TO, "x")).outcome is outcome


async def test_unifonic_invalid_number_is_permanent(
    unifonic: UnifonicProvider, fake: FakeAggregators
) -> None:
    fake.state.invalid_numbers.add(TO.lstrip("+"))
    result = await unifonic.send(str(uuid.uuid4()), TO, "x")
    assert result.outcome is Outcome.rejected
    assert result.error is not None
    assert result.error.startswith("ER-02")


async def test_unifonic_duplicate_counts_as_accepted(
    unifonic: UnifonicProvider, fake: FakeAggregators
) -> None:
    message_id = str(uuid.uuid4())
    await unifonic.send(message_id, TO, "x")
    again = await unifonic.send(message_id, TO, "x")
    assert again.outcome is Outcome.accepted
    assert len(fake.state.accepted) == 1


async def test_unreachable_provider_is_retry(unifonic: UnifonicProvider) -> None:
    closed = UnifonicProvider("http://127.0.0.1:1", APP_SID, "Tawasul", timeout=1.0)
    assert (await closed.send(str(uuid.uuid4()), TO, "x")).outcome is Outcome.retry
    await closed.aclose()


async def test_twilio_accepts_with_status_callback(
    twilio: TwilioProvider, fake: FakeAggregators
) -> None:
    message_id = str(uuid.uuid4())
    result = await twilio.send(message_id, TO, "Tawasul: test")
    assert result.outcome is Outcome.accepted
    assert result.reference is not None
    assert result.reference.startswith("SM")
    assert fake.state.accepted[0]["id"] == message_id


@pytest.mark.parametrize(
    ("mode", "outcome"),
    [
        ("error500", Outcome.retry),
        ("error429", Outcome.retry),
        ("auth", Outcome.retry),
        ("hang", Outcome.unknown),
    ],
)
async def test_twilio_failures_are_classified(
    twilio: TwilioProvider, fake: FakeAggregators, mode: str, outcome: Outcome
) -> None:
    fake.state.mode["twilio"] = mode
    assert (await twilio.send(str(uuid.uuid4()), TO, "x")).outcome is outcome


async def test_twilio_invalid_number_is_permanent(
    twilio: TwilioProvider, fake: FakeAggregators
) -> None:
    fake.state.invalid_numbers.add(TO)
    result = await twilio.send(str(uuid.uuid4()), TO, "x")
    assert result.outcome is Outcome.rejected
    assert result.error == "http 400 code 21211"


async def test_twilio_can_be_asked_whether_it_has_a_message(twilio: TwilioProvider) -> None:
    since = datetime.now(UTC) - timedelta(minutes=1)
    await twilio.send(str(uuid.uuid4()), TO, "Tawasul: asked about")
    found = await twilio.lookup("x", TO, "Tawasul: asked about", since)
    absent = await twilio.lookup("y", TO, "Tawasul: never sent", since)
    assert found is not None
    assert found.outcome is Outcome.accepted
    assert absent is not None
    assert absent.outcome is Outcome.retry


async def test_pool_fails_over_and_comes_back(
    backing: Any, unifonic: UnifonicProvider, twilio: TwilioProvider, fake: FakeAggregators
) -> None:
    redis = Redis.from_url(backing.redis_url)
    prefix = f"{backing.prefix}:pool{uuid.uuid4().hex[:6]}"
    pool = ProviderPool(
        [unifonic, twilio], redis, prefix=prefix, window=60, threshold=0.5, min_volume=4, cooldown=1
    )
    try:
        assert (await pool.choose()).name == "unifonic"
        fake.state.mode["unifonic"] = "error500"
        for _ in range(4):
            provider = await pool.choose()
            result = await provider.send(str(uuid.uuid4()), TO, "x")
            await pool.record(provider, result.outcome is Outcome.accepted)
        assert (await pool.choose()).name == "twilio"  # failed over
        fake.state.mode["unifonic"] = "ok"
        await asyncio.sleep(1.2)  # the cool-down ends
        provider = await pool.choose()
        assert provider.name == "unifonic"  # tried again
        result = await provider.send(str(uuid.uuid4()), TO, "x")
        await pool.record(provider, result.outcome is Outcome.accepted)
        assert (await pool.choose()).name == "unifonic"  # recovered, so it stays
    finally:
        keys = [key async for key in redis.scan_iter(match=f"{prefix}:*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
