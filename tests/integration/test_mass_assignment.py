"""Fields a caller may not set are refused, never quietly applied (checklist #30).

A resident's draft, edit and rating, and an officer's reply, are sent with one extra field
each: the fields an attacker would try (status, owner, department, officer, reference,
timestamps, scan status) and any other name hypothesis makes up. Every one answers 422 and
the request is unchanged: same status, owner, department and timeline.
"""

from __future__ import annotations

from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

DRAFT = {"department_code": "visas", "service_code": "final_exit", "description": "طلب."}
SENSITIVE = (
    "status", "resident_id", "owner_id", "department_code_override", "assigned_officer_id",
    "officer_id", "reference", "is_admin", "roles", "created_at", "submitted_at",
    "scan_status", "partner_client_id", "version", "id",
)  # fmt: skip
# (method, path, body) a resident may send about their own draft.
RESIDENT_CALLS = (
    ("PATCH", "/v1/requests/{id}", {"description": "وصف آخر."}),
    ("POST", "/v1/requests", DRAFT),
)


async def _snapshot(client: httpx.AsyncClient, resident: Any, request_id: str) -> Any:
    page = (await client.get(f"/v1/requests/{request_id}", headers=resident.auth)).json()
    listing = (await client.get("/v1/requests?limit=100", headers=resident.auth)).json()
    return page, [item["id"] for item in listing["items"]]


async def test_extra_fields_are_refused_and_change_nothing(
    client: httpx.AsyncClient, stack: Any, sms: Any
) -> None:
    resident = await stack.sign_up(client, sms.ledger)
    draft = (await client.post("/v1/requests", json=DRAFT, headers=resident.auth)).json()
    before = await _snapshot(client, resident, draft["id"])
    names = st.one_of(
        st.sampled_from(SENSITIVE),
        st.text(min_size=1, max_size=20).filter(lambda k: k not in DRAFT),
    )

    @settings(max_examples=40, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
    @given(call=st.sampled_from(RESIDENT_CALLS), name=names, value=st.sampled_from(
        ["routed", True, 1, "2020-01-01T00:00:00Z", draft["id"], {"x": 1}]))  # fmt: skip
    def attempt(call: tuple[str, str, dict[str, Any]], name: str, value: Any) -> None:
        method, path, body = call
        answers.append((method, path.replace("{id}", draft["id"]), {**body, name: value}))

    answers: list[tuple[str, str, dict[str, Any]]] = []
    attempt()
    for method, url, body in answers:
        response = await client.request(method, url, json=body, headers=resident.auth)
        assert response.status_code == 422, (method, url, body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert await _snapshot(client, resident, draft["id"]) == before
    assert len(answers) >= 40


async def test_an_officer_cannot_set_fields_through_a_reply(
    client: httpx.AsyncClient, stack: Any, sms: Any, admin: Any
) -> None:
    resident = await stack.sign_up(client, sms.ledger)
    draft = (await client.post("/v1/requests", json=DRAFT, headers=resident.auth)).json()
    await client.post(f"/v1/requests/{draft['id']}/submit", headers=resident.auth)
    await stack.drain()
    officer = await stack.staff(client, sms.ledger, admin, "officer", ["visas"])
    before = await _snapshot(client, resident, draft["id"])
    for name in SENSITIVE:
        response = await client.post(
            f"/v1/staff/requests/{draft['id']}/reply",
            json={"message": "رد.", name: "resolved"},
            headers=officer.auth,
        )
        assert response.status_code == 422, (name, response.text)
    assert await _snapshot(client, resident, draft["id"]) == before
