"""Wrong sign-in codes add up per account across challenges (checklist #24, NIST SP 800-63B
§5.2.2): a new SMS no longer buys five fresh guesses. From the fifth wrong code in a row the
account waits (30 s, doubling), at the hundredth it is locked for 30 days, only a right code
ends the streak, and residents and staff go through the same path."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
from sqlalchemy import text

from gateway.auth.code_check import code_streak
from gateway.auth.lockout import CODES, DAY, Lockout

VERIFY = "/v1/auth/login/verify"
STAFF_VERIFY = "/v1/staff/auth/login/verify"
PASSWORD = "admin-password-1"  # the admin of tests/support/inprocess.py


def _wrong(code: str, n: int = 1) -> str:
    return f"{(int(code) + n) % 10**6:06d}"


def _lockout(stack: Any) -> Lockout:
    lockout: Lockout = stack.gateway.state.gateway.lockout
    return lockout


async def _challenge(client: httpx.AsyncClient, stack: Any, sms: Any, resident: Any) -> Any:
    """A new sign-in challenge: (its id, the code that reached the phone)."""
    seen = len(sms.ledger.to(resident.phone))
    started = await client.post(
        "/v1/auth/login",
        json={"national_id": resident.national_id, "password": resident.password},
    )
    assert started.status_code == 200, started.text
    await stack.drain()
    return started.json()["challenge_id"], sms.ledger.latest_code(resident.phone, after=seen)


async def _guess(client: httpx.AsyncClient, challenge: str, code: str, path: str = VERIFY) -> Any:
    return await client.post(path, json={"challenge_id": challenge, "code": code})


async def _resident_streak(stack: Any, national_id: str) -> tuple[str, str]:
    async with stack.sessions() as session:
        resident_id = await session.scalar(
            text("SELECT id FROM residents WHERE national_id = :n"), {"n": national_id}
        )
    return code_streak(uuid.UUID(str(resident_id)), staff=False)


async def _streak_length(stack: Any, streak: tuple[str, str]) -> int:
    lockout = _lockout(stack)
    value = await lockout._redis.get(lockout._keys(*streak)[0])
    return int(value or 0)


async def _time_passes(stack: Any, streak: tuple[str, str]) -> None:
    """The lock runs out (its key goes); the streak itself stays."""
    lockout = _lockout(stack)
    await lockout._redis.delete(lockout._keys(*streak)[1])


async def _attempts(stack: Any, challenge: str) -> int:
    async with stack.sessions() as session:
        value = await session.scalar(
            text("SELECT attempts FROM otp_challenges WHERE id = :id"), {"id": challenge}
        )
    return int(value)


def _assert_locked(answer: httpx.Response, *, at_most: int, at_least: int = 1) -> None:
    assert answer.status_code == 429, answer.text
    assert answer.json()["code"] == "account_temporarily_locked"
    assert at_least <= int(answer.headers["retry-after"]) <= at_most


async def test_wrong_codes_across_three_challenges_add_up_to_a_wait(
    client: httpx.AsyncClient, stack: Any, sms: Any
) -> None:
    resident = await stack.sign_up(client, sms.ledger)
    streak = await _resident_streak(stack, resident.national_id)
    for _ in range(2):  # two codes, two wrong guesses each, each challenge far from its five
        challenge, code = await _challenge(client, stack, sms, resident)
        for n in (1, 2):
            assert (await _guess(client, challenge, _wrong(code, n))).status_code == 400
    challenge, code = await _challenge(client, stack, sms, resident)
    fifth = await _guess(client, challenge, _wrong(code))
    assert fifth.status_code == 400
    assert fifth.json()["code"] == "invalid_code"
    _assert_locked(await _guess(client, challenge, code), at_most=30)  # even the right one
    assert await _attempts(stack, challenge) == 1  # the refused try was not judged nor spent
    seen = len(sms.ledger.to(resident.phone))
    again = await client.post(
        "/v1/auth/login",
        json={"national_id": resident.national_id, "password": resident.password},
    )
    _assert_locked(again, at_most=30)  # a right password neither clears it nor sends a code
    await stack.drain()
    assert len(sms.ledger.to(resident.phone)) == seen
    await _time_passes(stack, streak)
    assert (await _guess(client, challenge, code)).status_code == 200
    assert await _streak_length(stack, streak) == 0


async def test_a_successful_sign_in_ends_the_streak(
    client: httpx.AsyncClient, stack: Any, sms: Any
) -> None:
    resident = await stack.sign_up(client, sms.ledger)
    streak = await _resident_streak(stack, resident.national_id)
    challenge, code = await _challenge(client, stack, sms, resident)
    for n in range(1, 5):
        assert (await _guess(client, challenge, _wrong(code, n))).status_code == 400
    assert await _streak_length(stack, streak) == 4
    challenge, code = await _challenge(client, stack, sms, resident)
    assert (await _guess(client, challenge, code)).status_code == 200
    assert await _streak_length(stack, streak) == 0
    challenge, code = await _challenge(client, stack, sms, resident)
    for n in range(1, 5):  # four more wrong codes are not the sixth to ninth in a row
        assert (await _guess(client, challenge, _wrong(code, n))).status_code == 400
    assert await _streak_length(stack, streak) == 4


async def test_concurrent_wrong_guesses_are_counted_exactly(
    client: httpx.AsyncClient, stack: Any, sms: Any
) -> None:
    """Three wrong codes on one challenge, then thirty at once on the next: two are judged
    (the fourth and fifth of the streak), the fifth sets the lock, and the other 28 are
    refused unjudged, their attempts given back to the challenge."""
    resident = await stack.sign_up(client, sms.ledger)
    streak = await _resident_streak(stack, resident.national_id)
    challenge, code = await _challenge(client, stack, sms, resident)
    for n in range(1, 4):
        assert (await _guess(client, challenge, _wrong(code, n))).status_code == 400
    challenge, code = await _challenge(client, stack, sms, resident)
    answers = await asyncio.gather(
        *(_guess(client, challenge, _wrong(code, n)) for n in range(1, 31))
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [400] * 2 + [429] * 28, [a.text for a in answers]
    assert await _streak_length(stack, streak) == 5
    assert await _attempts(stack, challenge) == 2


async def test_the_hundredth_wrong_code_locks_for_thirty_days(
    client: httpx.AsyncClient, stack: Any, sms: Any
) -> None:
    resident = await stack.sign_up(client, sms.ledger)
    streak = await _resident_streak(stack, resident.national_id)
    lockout = _lockout(stack)
    for _ in range(CODES.hard_lock_after - 1):  # 99 wrong codes over the months before
        await lockout.failed(*streak, CODES)
    await _time_passes(stack, streak)
    challenge, code = await _challenge(client, stack, sms, resident)
    assert (await _guess(client, challenge, _wrong(code))).status_code == 400  # the 100th
    _assert_locked(await _guess(client, challenge, code), at_most=30 * DAY, at_least=29 * DAY)
    await _time_passes(stack, streak)  # thirty days on, one more wrong code locks again
    assert (await _guess(client, challenge, _wrong(code, 2))).status_code == 400
    _assert_locked(await _guess(client, challenge, code), at_most=30 * DAY, at_least=29 * DAY)
    await lockout.succeeded(*streak)  # what support does once the resident is confirmed
    assert (await _guess(client, challenge, code)).status_code == 200


async def test_staff_codes_count_the_same_way(
    client: httpx.AsyncClient, stack: Any, sms: Any, admin: Any
) -> None:
    async def staff_challenge() -> tuple[str, str]:
        seen = len(sms.ledger.to(admin.phone))
        started = await client.post(
            "/v1/staff/auth/login", json={"username": admin.username, "password": PASSWORD}
        )
        assert started.status_code == 200, started.text
        await stack.drain()
        return started.json()["challenge_id"], sms.ledger.latest_code(admin.phone, after=seen)

    streak = code_streak(uuid.UUID(admin.id), staff=True)
    challenge, code = await staff_challenge()
    for n in range(1, 4):
        assert (await _guess(client, challenge, _wrong(code, n), STAFF_VERIFY)).status_code == 400
    challenge, code = await staff_challenge()
    for n in range(1, 3):
        assert (await _guess(client, challenge, _wrong(code, n), STAFF_VERIFY)).status_code == 400
    locked = await _guess(client, challenge, code, STAFF_VERIFY)
    _assert_locked(locked, at_most=30)
    assert await _streak_length(stack, streak) == 5
    await _time_passes(stack, streak)
    assert (await _guess(client, challenge, code, STAFF_VERIFY)).status_code == 200
    assert await _streak_length(stack, streak) == 0
