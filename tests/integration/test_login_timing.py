"""An unknown ID costs a sign-in attempt what a known ID with a wrong password costs
(checklist #26): the answer is the same (tests/integration/test_auth.py) and so is the time,
because a missing account is checked against a dummy argon2 hash. Timed with the production
hash parameters, interleaved, compared by median; without the dummy hash the unknown ID
would answer about a hundred times faster."""

from __future__ import annotations

import statistics
import time
from typing import Any

import pytest
from redis.asyncio import Redis

from gateway.auth.errors import InvalidCredentials
from gateway.auth.lockout import Lockout
from gateway.auth.passwords import Passwords
from gateway.auth.service import check_password
from gateway.settings import GatewaySettings
from shared.db.identity import Resident

ROUNDS = 9


async def _seconds(
    passwords: Passwords, lockout: Lockout, login: str, account: Resident | None
) -> float:
    started = time.perf_counter()
    with pytest.raises(InvalidCredentials):
        await check_password(
            passwords, lockout, ("resident", login), account, "a wrong guess", usable=True
        )
    return time.perf_counter() - started


async def test_unknown_and_known_ids_take_the_same_time_to_refuse(backing: Any) -> None:
    defaults = GatewaySettings()
    passwords = Passwords(
        memory_kib=defaults.argon2_memory_kib, time_cost=defaults.argon2_time_cost
    )
    known = Resident(password_hash=await passwords.hash("the real passphrase"))
    redis = Redis.from_url(backing.redis_url)
    lockout = Lockout(redis, f"{backing.prefix}:timing", b"test key")
    unknown_times: list[float] = []
    known_times: list[float] = []
    for round_ in range(ROUNDS):  # each ID's first wrong guess, far from any lock
        unknown_times.append(await _seconds(passwords, lockout, f"unknown-{round_}", None))
        known_times.append(await _seconds(passwords, lockout, f"known-{round_}", known))
    await redis.aclose()
    ratio = statistics.median(unknown_times) / statistics.median(known_times)
    assert 0.5 < ratio < 2.0, (unknown_times, known_times)
