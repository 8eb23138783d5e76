"""The guard's batched Lua script (gateway/batched_script.py) against the real Redis."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from devstack.ports import free_port
from gateway.batched_script import BatchedScript

# INCRBY by ARGV[1]; a negative step fails inside the script, for that call alone.
_SOURCE = """
if tonumber(ARGV[1]) < 0 then return redis.error_reply('negative step') end
return redis.call('INCRBY', KEYS[1], ARGV[1])
"""


@pytest.fixture
async def redis(backing: Any) -> AsyncIterator[Redis]:
    client = Redis.from_url(backing.redis_url, socket_timeout=5)
    yield client
    keys = [key async for key in client.scan_iter(f"{backing.prefix}:batched:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


def _fresh_source() -> str:
    """The script under a comment of its own: a SHA Redis has never loaded."""
    return f"-- {secrets.token_hex(8)}\n{_SOURCE}"


async def test_concurrent_calls_share_round_trips_and_get_their_own_answers(
    redis: Redis, backing: Any
) -> None:
    script = BatchedScript(redis, _fresh_source())  # also: loaded on the first NOSCRIPT
    sent = 0
    evalsha = script._evalsha

    async def counted(batch: Any) -> Any:
        nonlocal sent
        sent += 1
        return await evalsha(batch)

    script._evalsha = counted  # type: ignore[method-assign]
    keys = [f"{backing.prefix}:batched:{n % 5}" for n in range(100)]
    answers = await asyncio.gather(*(script([key], [1]) for key in keys))
    assert sorted(answers) == sorted(list(range(1, 21)) * 5)
    assert sent <= 4  # one batch, twice because the script was not loaded yet; not 100
    again = await asyncio.gather(*(script([key], [0]) for key in keys[:5]))
    assert again == [20] * 5


async def test_an_error_in_one_call_is_that_call_s_alone(redis: Redis, backing: Any) -> None:
    script = BatchedScript(redis, _fresh_source())
    key = f"{backing.prefix}:batched:errors"
    answers = await asyncio.gather(
        script([key], [1]), script([key], [-1]), script([key], [1]), return_exceptions=True
    )
    assert answers[0] == 1
    assert isinstance(answers[1], ResponseError)
    assert answers[2] == 2


async def test_a_caller_that_gives_up_leaves_the_others_their_answers(
    redis: Redis, backing: Any
) -> None:
    script = BatchedScript(redis, _fresh_source())
    key = f"{backing.prefix}:batched:cancel"
    first = asyncio.ensure_future(script([key], [1]))
    second = asyncio.ensure_future(script([key], [1]))
    await asyncio.sleep(0)
    first.cancel()
    assert await second in (1, 2)
    assert int(await redis.get(key) or 0) == 2  # the call was sent; only its answer was dropped


async def test_every_caller_hears_of_an_unreachable_redis() -> None:
    down = Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=1)
    script = BatchedScript(down, _SOURCE)
    answers = await asyncio.gather(*(script(["k"], [1]) for _ in range(3)), return_exceptions=True)
    assert all(isinstance(answer, (RedisError, OSError)) for answer in answers)
    await down.aclose()
