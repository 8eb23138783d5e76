"""One-time codes under concurrency (reliability checklist #24 and #25): fifty guesses at
once still get only five evaluations, and a right code sent ten times at once signs in once."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from sqlalchemy import text

from tests.support.identities import mobile, national_id

MAX_ATTEMPTS = 5


async def _registered(client: httpx.AsyncClient, stack: Any, sms: Any) -> tuple[str, str]:
    """A registration waiting for its code: (national ID, the code that reached the phone)."""
    nid, phone = national_id(), mobile()
    response = await client.post(
        "/v1/auth/register", json={"national_id": nid, "phone": phone, "password": "pw-long-123"}
    )
    assert response.status_code == 202, response.text
    await stack.drain()
    return nid, sms.ledger.latest_code(phone)


async def _attempts(stack: Any, nid: str) -> list[int]:
    """The guesses counted on the resident's challenges."""
    async with stack.sessions() as session:
        rows = await session.execute(
            text(
                "SELECT c.attempts FROM otp_challenges c JOIN residents r"
                " ON r.id = c.resident_id WHERE r.national_id = :nid"
            ),
            {"nid": nid},
        )
        return [row[0] for row in rows]


async def test_fifty_concurrent_wrong_guesses_are_five_evaluations(
    client: httpx.AsyncClient, stack: Any, sms: Any
) -> None:
    nid, code = await _registered(client, stack, sms)
    wrong = [f"{(int(code) + n) % 10**6:06d}" for n in range(1, 51)]
    answers = await asyncio.gather(
        *(
            client.post("/v1/auth/register/verify", json={"national_id": nid, "code": guess})
            for guess in wrong
        )
    )
    assert {a.status_code for a in answers} == {400}, {a.text for a in answers}
    assert {a.json()["code"] for a in answers} == {"invalid_code"}  # dead or wrong alike
    assert await _attempts(stack, nid) == [MAX_ATTEMPTS]
    right = await client.post("/v1/auth/register/verify", json={"national_id": nid, "code": code})
    assert right.status_code == 400  # the challenge died with its fifth guess


async def test_the_right_code_sent_ten_times_at_once_is_used_once(
    client: httpx.AsyncClient, stack: Any, sms: Any
) -> None:
    nid, code = await _registered(client, stack, sms)
    answers = await asyncio.gather(
        *(
            client.post("/v1/auth/register/verify", json={"national_id": nid, "code": code})
            for _ in range(10)
        )
    )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [400] * 9, [a.text for a in answers]
