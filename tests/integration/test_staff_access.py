"""Who staff are to the gateway: what a staff token carries, and who may manage staff."""

from __future__ import annotations

from typing import Any

import httpx
import jwt
import pytest
from sqlalchemy import text


@pytest.fixture
async def resident(client: httpx.AsyncClient, stack: Any, sms: Any) -> Any:
    """A signed-in resident."""
    return await stack.sign_up(client, sms.ledger)


async def test_staff_token_carries_role_and_departments(
    client: httpx.AsyncClient, stack: Any, sms: Any, admin: Any
) -> None:
    officer = await stack.staff(client, sms.ledger, admin, "officer", ["visas", "residency"])
    claims = jwt.decode(officer.access_token, options={"verify_signature": False})
    assert claims["knd"] == "staff"
    assert claims["rol"] == ["officer"]
    assert claims["dep"] == ["residency", "visas"]


async def test_resident_token_opens_no_staff_endpoint(
    client: httpx.AsyncClient, resident: Any
) -> None:
    for method, path in [
        ("GET", "/v1/staff/requests"),
        ("PUT", "/v1/staff/me/duty"),
        ("GET", "/v1/admin/routing-rules"),
        ("GET", "/v1/admin/staff"),
    ]:
        response = await client.request(method, path, headers=resident.auth, json={})
        assert response.status_code == 403, (path, response.text)
    assert (await client.get("/v1/staff/requests")).status_code == 401


async def test_only_admins_manage_staff_and_rules(
    client: httpx.AsyncClient, stack: Any, sms: Any, admin: Any
) -> None:
    supervisor = await stack.staff(client, sms.ledger, admin, "supervisor", ["visas"])
    body = {
        "username": "someone",
        "full_name": "X Y",
        "phone": "0501112223",
        "password": "long-password-1",
        "role": "admin",
        "departments": [],
    }
    assert (
        await client.post("/v1/admin/staff", json=body, headers=supervisor.auth)
    ).status_code == 403
    rule = {"department_code": "visas", "queue_code": "visas_fast"}
    response = await client.post("/v1/admin/routing-rules", json=rule, headers=supervisor.auth)
    assert response.status_code == 403


async def test_admin_cannot_create_staff_in_unknown_department(
    client: httpx.AsyncClient, admin: Any
) -> None:
    body = {
        "username": "ghost.officer",
        "full_name": "Ghost",
        "phone": "0501112224",
        "password": "long-password-1",
        "role": "officer",
        "departments": ["nowhere"],
    }
    response = await client.post("/v1/admin/staff", json=body, headers=admin.auth)
    assert response.status_code == 422
    assert response.json()["code"] == "unknown_department"


async def test_a_change_of_rights_signs_the_member_out_at_once(
    client: httpx.AsyncClient, stack: Any, sms: Any, admin: Any
) -> None:
    """Checklist #32: tokens carry role and departments, so moving an officer to another
    department, or deactivating them, must not leave their tokens working for ten minutes."""
    for change in ({"departments": ["family_affairs"]}, {"active": False}, {"role": "supervisor"}):
        officer = await stack.staff(client, sms.ledger, admin, "officer", ["visas"])
        assert (await client.get("/v1/staff/requests", headers=officer.auth)).status_code == 200
        renamed = await client.patch(
            f"/v1/admin/staff/{officer.id}", json={"full_name": "New Name"}, headers=admin.auth
        )
        assert renamed.status_code == 200, renamed.text
        still = await client.get("/v1/staff/requests", headers=officer.auth)
        assert still.status_code == 200, change  # a change that grants nothing ends nothing
        changed = await client.patch(
            f"/v1/admin/staff/{officer.id}", json=change, headers=admin.auth
        )
        assert changed.status_code == 200, changed.text
        after = await client.get("/v1/staff/requests", headers=officer.auth)
        assert after.status_code == 401, (change, after.text)
        async with stack.sessions() as session:
            live = await session.scalar(
                text(
                    "SELECT count(*) FROM refresh_tokens"
                    " WHERE staff_id = :id AND revoked_at IS NULL"
                ),
                {"id": officer.id},
            )
        assert live == 0, change
