"""Passwords are stored as argon2id with today's parameters (checklist #27)."""

from __future__ import annotations

from typing import Any

import httpx
from argon2 import PasswordHasher
from sqlalchemy import text

from gateway.auth.passwords import Passwords
from gateway.settings import GatewaySettings


async def test_the_production_parameters_are_argon2id_at_least_owasps() -> None:
    fields = GatewaySettings.model_fields
    passwords = Passwords(
        memory_kib=fields["argon2_memory_kib"].default, time_cost=fields["argon2_time_cost"].default
    )
    stored = await passwords.hash("a strong passphrase")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert await passwords.verify(stored, "a strong passphrase")
    assert not await passwords.verify(stored, "a strong passphrase!")


async def test_a_hash_with_weaker_parameters_is_replaced_at_the_next_sign_in(
    client: httpx.AsyncClient, stack: Any, sms: Any
) -> None:
    resident = await stack.sign_up(client, sms.ledger)
    weak = PasswordHasher(time_cost=1, memory_cost=256, parallelism=1).hash(resident.password)
    async with stack.sessions() as session, session.begin():
        await session.execute(
            text("UPDATE residents SET password_hash = :h WHERE national_id = :n"),
            {"h": weak, "n": resident.national_id},
        )
    response = await client.post(
        "/v1/auth/login",
        json={"national_id": resident.national_id, "password": resident.password},
    )
    assert response.status_code == 200, response.text
    async with stack.sessions() as session:
        stored = await session.scalar(
            text("SELECT password_hash FROM residents WHERE national_id = :n"),
            {"n": resident.national_id},
        )
    assert stored != weak
    assert stored.startswith("$argon2id$")
    assert not stack.gateway.state.gateway.passwords.needs_rehash(stored)
