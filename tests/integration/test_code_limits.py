"""One-time codes are capped per login ID and in all (checklist #23, SMS pumping).

Per phone and per client address are in test_notifications.py. Here: one national ID used
to text many numbers stops at five codes an hour, whatever the numbers; and once the hourly
budget of codes is spent every code request answers 503 "try later" and nothing is sent.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.identities import mobile, national_id


async def test_one_id_cannot_text_many_numbers(
    client: httpx.AsyncClient, stack: Any, sms: Any
) -> None:
    nid = national_id()
    phones = [mobile() for _ in range(7)]
    statuses = []
    for phone in phones:  # an unverified sign-up may be started again with another number
        response = await client.post(
            "/v1/auth/register",
            json={"national_id": nid, "phone": phone, "password": "a strong passphrase"},
        )
        statuses.append(response.status_code)
    assert statuses == [202] * 5 + [429] * 2, statuses
    assert int(response.headers["retry-after"]) > 0
    await stack.drain()
    assert sum(len(sms.ledger.to(phone)) for phone in phones) <= 5


async def test_a_spent_budget_stops_every_code_until_the_hour_turns(
    client: httpx.AsyncClient, stack: Any, sms: Any
) -> None:
    state = stack.gateway.state.gateway
    original = state.settings
    state.settings = original.model_copy(update={"otp_sms_budget_per_hour": 0})
    phone = mobile()
    try:
        refused = await client.post(
            "/v1/auth/register",
            json={"national_id": national_id(), "phone": phone, "password": "a strong passphrase"},
        )
    finally:
        state.settings = original
    assert refused.status_code == 503, refused.text
    assert refused.json()["code"] == "sms_budget_exhausted"
    assert refused.json()["detail_ar"]
    assert 0 < int(refused.headers["retry-after"]) <= 3600
    await stack.drain()
    assert sms.ledger.to(phone) == []
    accepted = await client.post(
        "/v1/auth/register",
        json={"national_id": national_id(), "phone": mobile(), "password": "a strong passphrase"},
    )
    assert accepted.status_code == 202, accepted.text
    await stack.drain()  # leave no code owed for the next test
