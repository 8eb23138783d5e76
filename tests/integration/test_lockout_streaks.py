"""The lockout's counting on real Redis (checklist #24 and #26): concurrent tries are counted
exactly, the try that reaches a lock is the last one judged, the code streak locks hard at
100, and the password streak never does (an outsider must not be able to lock an account)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from gateway.auth.errors import AccountLocked
from gateway.auth.lockout import CODES, DAY, PASSWORDS, Lockout, Policy


@pytest.fixture
async def lockout(backing: Any) -> AsyncIterator[Lockout]:
    redis = Redis.from_url(backing.redis_url)
    yield Lockout(redis, f"{backing.prefix}:streaks-{uuid.uuid4().hex[:8]}", b"test key")
    await redis.aclose()


async def _try(lockout: Lockout, login: str, policy: Policy = CODES) -> int | None:
    """The streak's length after this try, or None if it was refused."""
    try:
        return await lockout.attempt("resident-code", login, policy)
    except AccountLocked:
        return None


async def _lock_seconds(lockout: Lockout, login: str) -> int:
    return int(await lockout._redis.ttl(lockout._keys("resident-code", login)[1]))


async def test_sixty_concurrent_tries_admit_exactly_five(lockout: Lockout) -> None:
    results = await asyncio.gather(*(_try(lockout, "someone") for _ in range(60)))
    admitted = sorted(r for r in results if r is not None)
    assert admitted == [1, 2, 3, 4, 5]
    assert results.count(None) == 55
    assert 0 < await _lock_seconds(lockout, "someone") <= 30


async def test_concurrent_tries_below_a_lock_each_count_once(lockout: Lockout) -> None:
    never = Policy(lock_after=10_000)
    results = await asyncio.gather(*(_try(lockout, "busy", never) for _ in range(150)))
    assert sorted(r for r in results if r is not None) == list(range(1, 151))


async def test_the_delay_doubles_from_the_fifth_failure_to_an_hour(lockout: Lockout) -> None:
    waits = []
    for _ in range(14):
        assert await _try(lockout, "slow") is not None
        waits.append(await _lock_seconds(lockout, "slow"))
        await lockout._redis.delete(lockout._keys("resident-code", "slow")[1])  # time passes
    assert waits[:4] == [-2] * 4  # no lock before the fifth
    doubling = [30, 60, 120, 240, 480, 960, 1920]
    assert all(d - 5 < w <= d for w, d in zip(waits[4:11], doubling, strict=True)), waits
    assert 3590 < waits[-1] <= 3600


async def test_the_hundredth_code_locks_for_thirty_days_and_so_does_each_after(
    lockout: Lockout,
) -> None:
    judged = 0
    while judged < CODES.hard_lock_after:
        assert await _try(lockout, "stuffed") is not None
        judged += 1
        if judged < CODES.hard_lock_after:
            assert await _lock_seconds(lockout, "stuffed") <= 3600
            await lockout._redis.delete(lockout._keys("resident-code", "stuffed")[1])
    assert await _lock_seconds(lockout, "stuffed") > 29 * DAY
    assert await _try(lockout, "stuffed") is None
    await lockout._redis.delete(lockout._keys("resident-code", "stuffed")[1])  # 30 days on
    assert await _try(lockout, "stuffed") == CODES.hard_lock_after + 1
    assert await _lock_seconds(lockout, "stuffed") > 29 * DAY
    await lockout.succeeded("resident-code", "stuffed")
    assert await _try(lockout, "stuffed") == 1


async def test_wrong_passwords_never_lock_for_more_than_an_hour(lockout: Lockout) -> None:
    for _ in range(150):
        await lockout.failed("resident", "victim", PASSWORDS)
    seconds = int(await lockout._redis.ttl(lockout._keys("resident", "victim")[1]))
    assert 0 < seconds <= 3600
