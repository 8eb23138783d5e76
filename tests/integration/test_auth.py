"""Sign-up and sign-in through the gateway, on real Postgres and Redis, codes read from the SMS."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import text

from tests.support.identities import mobile, national_id


async def test_resident_signs_up_and_in_with_sms_codes(
    client: httpx.AsyncClient, stack: Any, sms: Any
) -> None:
    resident = await stack.sign_up(client, sms.ledger)
    assert resident.access_token.count(".") == 2
    messages = sms.ledger.to(resident.phone)
    assert len(messages) == 2
    assert all("تواصل" in m["body"] for m in messages)  # Arabic is the default language


async def test_english_resident_gets_english_codes(
    client: httpx.AsyncClient, stack: Any, sms: Any
) -> None:
    resident = await stack.sign_up(client, sms.ledger, preferred_language="en")
    assert sms.ledger.to(resident.phone)[0]["body"].startswith("Tawasul")


async def test_register_rejects_bad_national_id(client: httpx.AsyncClient) -> None:
    body = {"national_id": "1234567890", "phone": mobile(), "password": "long enough pw"}
    response = await client.post("/v1/auth/register", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "validation_error"
    assert problem["detail_ar"]
    assert problem["detail"]
    assert problem["errors"][0]["loc"][-1] == "national_id"


async def test_register_rejects_landline_phone(client: httpx.AsyncClient) -> None:
    body = {"national_id": national_id(), "phone": "+966112345678", "password": "long enough pw"}
    response = await client.post("/v1/auth/register", json=body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"][-1] == "phone"


async def test_register_accepts_local_and_arabic_digit_phone(
    client: httpx.AsyncClient, stack: Any, sms: Any
) -> None:
    number = mobile()
    arabic = "٠" + number[4:].translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    body = {"national_id": national_id("2"), "phone": arabic, "password": "long enough pw"}
    response = await client.post("/v1/auth/register", json=body)
    assert response.status_code == 202, response.text
    await stack.drain()
    assert sms.ledger.wait_for(number)


async def test_wrong_code_counts_and_five_kill_the_challenge(
    client: httpx.AsyncClient, stack: Any, sms: Any
) -> None:
    nid, phone = national_id(), mobile()
    await client.post(
        "/v1/auth/register", json={"national_id": nid, "phone": phone, "password": "pw-long-123"}
    )
    await stack.drain()
    code = sms.ledger.latest_code(phone)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(5):
        response = await client.post(
            "/v1/auth/register/verify", json={"national_id": nid, "code": wrong}
        )
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_code"
    response = await client.post(
        "/v1/auth/register/verify", json={"national_id": nid, "code": code}
    )
    assert response.status_code == 400  # the right code no longer works: attempts used up


async def test_code_is_single_use(client: httpx.AsyncClient, stack: Any, sms: Any) -> None:
    nid, phone = national_id(), mobile()
    await client.post(
        "/v1/auth/register", json={"national_id": nid, "phone": phone, "password": "pw-long-123"}
    )
    await stack.drain()
    code = sms.ledger.latest_code(phone)
    first = await client.post("/v1/auth/register/verify", json={"national_id": nid, "code": code})
    second = await client.post("/v1/auth/register/verify", json={"national_id": nid, "code": code})
    assert (first.status_code, second.status_code) == (201, 400)


async def test_registering_a_taken_id_sends_a_notice_not_a_code(
    client: httpx.AsyncClient, stack: Any, sms: Any
) -> None:
    resident = await stack.sign_up(client, sms.ledger)
    attacker_phone = mobile()
    body = {"national_id": resident.national_id, "phone": attacker_phone, "password": "other-pw-1"}
    response = await client.post("/v1/auth/register", json=body)
    assert response.status_code == 202  # same answer as for a new ID
    await stack.drain()
    assert sms.ledger.to(attacker_phone) == []
    notice = sms.ledger.wait_for(resident.phone, 3)[-1]["body"]
    assert "حساب" in notice


async def test_wrong_password_is_401_without_saying_which(
    client: httpx.AsyncClient, stack: Any, sms: Any
) -> None:
    resident = await stack.sign_up(client, sms.ledger)
    wrong = await client.post(
        "/v1/auth/login", json={"national_id": resident.national_id, "password": "nope-nope"}
    )
    unknown = await client.post(
        "/v1/auth/login", json={"national_id": national_id(), "password": "nope-nope"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["code"] == unknown.json()["code"] == "invalid_credentials"


async def test_five_wrong_passwords_lock_the_account_for_a_while(
    client: httpx.AsyncClient, stack: Any, sms: Any
) -> None:
    resident = await stack.sign_up(client, sms.ledger)
    for _ in range(5):
        await client.post(
            "/v1/auth/login", json={"national_id": resident.national_id, "password": "bad-pass"}
        )
    response = await client.post(
        "/v1/auth/login",
        json={"national_id": resident.national_id, "password": resident.password},
    )
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) > 0


async def test_refresh_rotates_and_reuse_ends_the_session(
    client: httpx.AsyncClient, stack: Any, sms: Any
) -> None:
    resident = await stack.sign_up(client, sms.ledger)
    first = await client.post("/v1/auth/refresh", json={"refresh_token": resident.refresh_token})
    assert first.status_code == 200
    new_tokens = first.json()
    reused = await client.post("/v1/auth/refresh", json={"refresh_token": resident.refresh_token})
    assert reused.status_code == 401
    # The thief's replay revoked the whole session: the new pair is dead too.
    after = await client.post(
        "/v1/auth/refresh", json={"refresh_token": new_tokens["refresh_token"]}
    )
    assert after.status_code == 401
    listing = await client.get(
        "/v1/requests", headers={"Authorization": f"Bearer {new_tokens['access_token']}"}
    )
    assert listing.status_code == 401


async def test_logout_revokes_access_and_refresh(
    client: httpx.AsyncClient, stack: Any, sms: Any
) -> None:
    resident = await stack.sign_up(client, sms.ledger)
    assert (await client.get("/v1/requests", headers=resident.auth)).status_code == 200
    response = await client.post("/v1/auth/logout", headers=resident.auth)
    assert response.status_code == 204
    assert (await client.get("/v1/requests", headers=resident.auth)).status_code == 401
    refreshed = await client.post(
        "/v1/auth/refresh", json={"refresh_token": resident.refresh_token}
    )
    assert refreshed.status_code == 401


async def test_requests_need_a_valid_token(client: httpx.AsyncClient) -> None:
    assert (await client.get("/v1/requests")).status_code == 401
    forged = {"Authorization": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."}
    response = await client.get("/v1/requests", headers=forged)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


async def test_an_unknown_id_is_locked_like_a_known_one(
    client: httpx.AsyncClient, stack: Any, sms: Any
) -> None:
    """Checklist #26: the lock is kept per login ID, so the fifth wrong password locks an ID
    that has no account exactly as it locks one that has (it used to answer 401 for ever,
    which told an attacker which IDs exist)."""
    resident = await stack.sign_up(client, sms.ledger)
    answers = []
    for nid in (resident.national_id, national_id()):
        for _ in range(5):
            await client.post("/v1/auth/login", json={"national_id": nid, "password": "bad-pass"})
        locked = await client.post(
            "/v1/auth/login", json={"national_id": nid, "password": "bad-pass"}
        )
        answers.append((locked.status_code, locked.json()["code"], locked.headers["retry-after"]))
    assert answers[0] == answers[1] == (429, "account_temporarily_locked", answers[0][2])
    assert 0 < int(answers[0][2]) <= 30


async def _login_code(client: httpx.AsyncClient, stack: Any, sms: Any, resident: Any) -> Any:
    seen = len(sms.ledger.to(resident.phone))
    started = await client.post(
        "/v1/auth/login",
        json={"national_id": resident.national_id, "password": resident.password},
    )
    assert started.status_code == 200, started.text
    await stack.drain()
    return started.json()["challenge_id"], sms.ledger.latest_code(resident.phone, after=seen)


async def test_a_newer_code_retires_the_older_one(
    client: httpx.AsyncClient, stack: Any, sms: Any
) -> None:
    """Checklist #25: once a second sign-in code is sent, the first no longer works."""
    resident = await stack.sign_up(client, sms.ledger)
    first = await _login_code(client, stack, sms, resident)
    second = await _login_code(client, stack, sms, resident)
    old = await client.post(
        "/v1/auth/login/verify", json={"challenge_id": first[0], "code": first[1]}
    )
    assert old.status_code == 400, old.text
    new = await client.post(
        "/v1/auth/login/verify", json={"challenge_id": second[0], "code": second[1]}
    )
    assert new.status_code == 200, new.text


async def test_a_code_past_its_lifetime_is_refused(
    client: httpx.AsyncClient, stack: Any, sms: Any
) -> None:
    resident = await stack.sign_up(client, sms.ledger)
    challenge, code = await _login_code(client, stack, sms, resident)
    async with stack.sessions() as session, session.begin():
        await session.execute(
            text(
                "UPDATE otp_challenges SET expires_at = now() - interval '1 second' WHERE id = :id"
            ),
            {"id": challenge},
        )
    late = await client.post(
        "/v1/auth/login/verify", json={"challenge_id": challenge, "code": code}
    )
    assert late.status_code == 400, late.text
    assert late.json()["code"] == "invalid_code"
