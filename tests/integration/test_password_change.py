"""Changing one's password ends every session at once (checklist #32), on real Postgres/Redis.

The current password is checked like a sign-in: a wrong one answers as sign-in does and
counts towards the same lock, so a stolen access token is no password-guessing oracle."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import text

from tests.support.partners import partner_token

PATH = "/v1/auth/password"
NEW = "a brand new passphrase"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _resident_login(
    client: httpx.AsyncClient, stack: Any, sms: Any, resident: Any, password: str
) -> tuple[httpx.Response, str | None]:
    """Sign-in with `password` up to the code: the answer, and the code sent (if one was)."""
    seen = len(sms.ledger.to(resident.phone))
    started = await client.post(
        "/v1/auth/login", json={"national_id": resident.national_id, "password": password}
    )
    if started.status_code != 200:
        return started, None
    await stack.drain()
    return started, sms.ledger.latest_code(resident.phone, after=seen)


async def _staff_tokens(
    client: httpx.AsyncClient, stack: Any, sms: Any, staff: Any, password: str
) -> dict[str, Any]:
    """A second full staff sign-in, for the refresh token stack.staff() does not keep."""
    seen = len(sms.ledger.to(staff.phone))
    started = await client.post(
        "/v1/staff/auth/login", json={"username": staff.username, "password": password}
    )
    assert started.status_code == 200, started.text
    await stack.drain()
    code = sms.ledger.latest_code(staff.phone, after=seen)
    verified = await client.post(
        "/v1/staff/auth/login/verify",
        json={"challenge_id": started.json()["challenge_id"], "code": code},
    )
    assert verified.status_code == 200, verified.text
    tokens: dict[str, Any] = verified.json()
    return tokens


LIVE_TOKENS = {
    "resident": "SELECT count(*) FROM refresh_tokens t JOIN residents r ON r.id = t.resident_id"
    " WHERE r.national_id = :login AND t.revoked_at IS NULL",
    "staff": "SELECT count(*) FROM refresh_tokens t JOIN staff s ON s.id = t.staff_id"
    " WHERE s.username = :login AND t.revoked_at IS NULL",
}


async def _live_refresh_tokens(stack: Any, kind: str, login: str) -> int:
    """Refresh tokens of the account that are not revoked (used ones included)."""
    async with stack.sessions() as session:
        count = await session.scalar(text(LIVE_TOKENS[kind]), {"login": login})
    return int(count or 0)


async def test_a_resident_changes_password_and_every_session_ends(
    client: httpx.AsyncClient, stack: Any, sms: Any
) -> None:
    resident = await stack.sign_up(client, sms.ledger)
    # A second session of the same account (another device) must end too.
    started, code = await _resident_login(client, stack, sms, resident, resident.password)
    other = await client.post(
        "/v1/auth/login/verify", json={"challenge_id": started.json()["challenge_id"], "code": code}
    )
    assert other.status_code == 200, other.text
    # A sign-in started with the old password, its code not yet used.
    pending, pending_code = await _resident_login(client, stack, sms, resident, resident.password)

    body = {"current_password": resident.password, "new_password": NEW}
    changed = await client.post(PATH, json=body, headers=resident.auth)
    assert changed.status_code == 204, changed.text
    assert changed.content == b""

    for access in (resident.access_token, other.json()["access_token"]):
        assert (await client.get("/v1/requests", headers=_bearer(access))).status_code == 401
    for refresh in (resident.refresh_token, other.json()["refresh_token"]):
        answer = await client.post("/v1/auth/refresh", json={"refresh_token": refresh})
        assert answer.status_code == 401, answer.text
        assert answer.json()["code"] == "invalid_refresh_token"
    assert await _live_refresh_tokens(stack, "resident", resident.national_id) == 0
    late = await client.post(
        "/v1/auth/login/verify",
        json={"challenge_id": pending.json()["challenge_id"], "code": pending_code},
    )
    assert late.status_code == 400, late.text  # the old password's sign-in cannot finish

    old, _ = await _resident_login(client, stack, sms, resident, resident.password)
    assert old.status_code == 401
    assert old.json()["code"] == "invalid_credentials"
    started, code = await _resident_login(client, stack, sms, resident, NEW)
    assert started.status_code == 200, started.text
    signed_in = await client.post(
        "/v1/auth/login/verify", json={"challenge_id": started.json()["challenge_id"], "code": code}
    )
    assert signed_in.status_code == 200, signed_in.text
    fresh = _bearer(signed_in.json()["access_token"])
    assert (await client.get("/v1/requests", headers=fresh)).status_code == 200


async def test_a_wrong_current_password_answers_like_sign_in_and_counts_towards_the_lock(
    client: httpx.AsyncClient, stack: Any, sms: Any
) -> None:
    resident = await stack.sign_up(client, sms.ledger)
    body = {"current_password": "not-my-password", "new_password": NEW}
    wrong = await client.post(PATH, json=body, headers=resident.auth)
    at_sign_in = await client.post(
        "/v1/auth/login", json={"national_id": resident.national_id, "password": "nope-nope"}
    )
    assert wrong.status_code == at_sign_in.status_code == 401
    assert wrong.headers["content-type"] == "application/problem+json"
    same = ("type", "title", "status", "code", "detail", "detail_ar", "messages")
    assert {k: wrong.json()[k] for k in same} == {k: at_sign_in.json()[k] for k in same}
    assert wrong.json()["code"] == "invalid_credentials"
    # One wrong here and one at sign-in; three more here make the fifth, which locks the ID.
    for _ in range(3):
        again = await client.post(PATH, json=body, headers=resident.auth)
        assert again.status_code == 401, again.text
    locked = await client.post(
        "/v1/auth/login",
        json={"national_id": resident.national_id, "password": resident.password},
    )
    assert locked.status_code == 429, locked.text
    assert locked.json()["code"] == "account_temporarily_locked"
    right = {"current_password": resident.password, "new_password": NEW}
    refused = await client.post(PATH, json=right, headers=resident.auth)
    assert refused.status_code == 429  # the lock holds here too, even for the right password
    assert int(refused.headers["retry-after"]) > 0
    # Nothing changed: the session still works.
    assert (await client.get("/v1/requests", headers=resident.auth)).status_code == 200


async def test_a_weak_or_unchanged_new_password_is_refused_and_nothing_ends(
    client: httpx.AsyncClient, stack: Any, sms: Any, admin: Any
) -> None:
    resident = await stack.sign_up(client, sms.ledger)
    short = await client.post(
        PATH,
        json={"current_password": resident.password, "new_password": "7chars!"},
        headers=resident.auth,
    )
    assert short.status_code == 422, short.text
    problem = short.json()
    assert problem["code"] == "weak_password"
    assert problem["min_length"] == 8
    assert problem["errors"][0]["loc"] == ["body", "new_password"]
    assert problem["detail"]
    assert "كلمة المرور" in problem["detail_ar"]
    same = await client.post(
        PATH,
        json={"current_password": resident.password, "new_password": resident.password},
        headers=resident.auth,
    )
    assert same.status_code == 422
    assert same.json()["code"] == "password_unchanged"
    extra = await client.post(
        PATH,
        json={"current_password": resident.password, "new_password": NEW, "otp": "1"},
        headers=resident.auth,
    )
    assert extra.status_code == 422
    assert extra.json()["code"] == "validation_error"
    # Eight characters are enough for a resident, not for staff (twelve).
    officer = await stack.staff(client, sms.ledger, admin, "officer", ["visas"])
    eleven = await client.post(
        PATH,
        json={"current_password": "staff-password-1", "new_password": "elevenchars"},
        headers=officer.auth,
    )
    assert eleven.status_code == 422
    assert (eleven.json()["code"], eleven.json()["min_length"]) == ("weak_password", 12)
    assert (await client.get("/v1/requests", headers=resident.auth)).status_code == 200
    assert (await client.get("/v1/staff/requests", headers=officer.auth)).status_code == 200


async def test_no_valid_token_is_401_and_partners_have_no_password(
    client: httpx.AsyncClient, admin: Any
) -> None:
    body = {"current_password": "whatever-it-is", "new_password": NEW}
    for headers in ({}, _bearer("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")):
        answer = await client.post(PATH, json=body, headers=headers)
        assert answer.status_code == 401, answer.text
        assert answer.json()["code"] == "invalid_token"
        assert answer.headers["www-authenticate"].startswith("Bearer")
    assert (await client.post(PATH, json={}, headers={})).status_code == 401  # before the body
    partner = await partner_token(
        client, admin.auth, name="Partner pw", scopes=["requests:read"], departments=["visas"]
    )
    refused = await client.post(PATH, json=body, headers=_bearer(partner))
    assert refused.status_code == 403, refused.text


async def test_a_staff_member_changes_password_and_is_signed_out(
    client: httpx.AsyncClient, stack: Any, sms: Any, admin: Any
) -> None:
    officer = await stack.staff(client, sms.ledger, admin, "officer", ["visas"])
    second = await _staff_tokens(client, stack, sms, officer, "staff-password-1")
    body = {"current_password": "staff-password-1", "new_password": "a new staff passphrase"}
    changed = await client.post(PATH, json=body, headers=officer.auth)
    assert changed.status_code == 204, changed.text
    for access in (officer.access_token, second["access_token"]):
        assert (await client.get("/v1/staff/requests", headers=_bearer(access))).status_code == 401
    refreshed = await client.post(
        "/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}
    )
    assert refreshed.status_code == 401
    assert await _live_refresh_tokens(stack, "staff", officer.username) == 0
    old = await client.post(
        "/v1/staff/auth/login", json={"username": officer.username, "password": "staff-password-1"}
    )
    assert old.status_code == 401
    assert old.json()["code"] == "invalid_credentials"
    fresh = await _staff_tokens(client, stack, sms, officer, "a new staff passphrase")
    assert (
        await client.get("/v1/staff/requests", headers=_bearer(fresh["access_token"]))
    ).status_code == 200


async def test_when_redis_cannot_record_the_revocation_nothing_changes(
    client: httpx.AsyncClient, stack: Any, sms: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Like a change of rights: a new password while old access tokens kept working would be
    worse than asking to try again, so the answer is 503 and the old password stays."""
    resident = await stack.sign_up(client, sms.ledger)
    guard = stack.gateway.state.gateway.guard

    async def down(*args: Any, **kwargs: Any) -> None:
        raise RedisConnectionError("redis is down")

    monkeypatch.setattr(guard._redis, "set", down)
    body = {"current_password": resident.password, "new_password": NEW}
    failed = await client.post(PATH, json=body, headers=resident.auth)
    assert failed.status_code == 503, failed.text
    assert failed.json()["code"] == "service_unavailable"
    monkeypatch.undo()
    assert await _live_refresh_tokens(stack, "resident", resident.national_id) == 1
    refreshed = await client.post(
        "/v1/auth/refresh", json={"refresh_token": resident.refresh_token}
    )
    assert refreshed.status_code == 200, refreshed.text
    old, _ = await _resident_login(client, stack, sms, resident, resident.password)
    assert old.status_code == 200, old.text  # the old password still signs in


async def test_the_document_says_a_token_is_needed(client: httpx.AsyncClient) -> None:
    """Under /v1/auth/, which is public, yet documented with bearer security, so the
    authorisation matrix and the schema fuzzer walk it as a signed-in operation."""
    operation = (await client.get("/openapi.json")).json()["paths"][PATH]["post"]
    assert operation["security"] == [{"bearerAuth": []}]
    assert {"204", "401", "403", "422", "429", "503"} <= set(operation["responses"])
