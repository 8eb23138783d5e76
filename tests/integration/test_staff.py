"""Department staff through the gateway: roles, scope, every action, concurrency and balance."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.support import files


@pytest.fixture
async def resident(client: httpx.AsyncClient, stack: Any, sms: Any) -> Any:
    """A signed-in resident."""
    return await stack.sign_up(client, sms.ledger)


async def _submit(
    client: httpx.AsyncClient, stack: Any, resident: Any, department: str, service: str
) -> str:
    draft = await client.post(
        "/v1/requests",
        json={"department_code": department, "service_code": service, "description": "طلب"},
        headers=resident.auth,
    )
    assert draft.status_code == 201, draft.text
    request_id: str = draft.json()["id"]
    response = await client.post(f"/v1/requests/{request_id}/submit", headers=resident.auth)
    assert response.status_code == 200, response.text
    await stack.drain()
    return request_id


async def test_officer_of_another_department_sees_nothing(
    client: httpx.AsyncClient, stack: Any, sms: Any, admin: Any, resident: Any
) -> None:
    request_id = await _submit(client, stack, resident, "visas", "final_exit")
    outsider = await stack.staff(client, sms.ledger, admin, "officer", ["violations"])
    assert (
        await client.get(f"/v1/staff/requests/{request_id}", headers=outsider.auth)
    ).status_code == 404
    claim = await client.post(f"/v1/staff/requests/{request_id}/claim", headers=outsider.auth)
    assert claim.status_code == 404
    listing = (await client.get("/v1/staff/requests", headers=outsider.auth)).json()
    assert request_id not in [item["id"] for item in listing["items"]]


async def test_whole_workflow_with_resident_sms_in_arabic(
    client: httpx.AsyncClient, stack: Any, sms: Any, admin: Any, resident: Any
) -> None:
    officer = await stack.staff(
        client, sms.ledger, admin, "officer", ["family_affairs"], on_duty=True
    )
    request_id = await _submit(client, stack, resident, "family_affairs", "register_newborn")
    mine = (await client.get("/v1/staff/requests?assigned=me", headers=officer.auth)).json()
    assert request_id in [item["id"] for item in mine["items"]]  # auto-assigned
    base = f"/v1/staff/requests/{request_id}"
    assert (await client.post(f"{base}/claim", headers=officer.auth)).status_code == 200
    asked = await client.post(
        f"{base}/request-info", json={"message": "يرجى إرفاق شهادة الميلاد"}, headers=officer.auth
    )
    assert asked.json()["status"] == "awaiting_resident"
    upload = await client.post(
        f"/v1/requests/{request_id}/documents",
        files={"file": ("birth.pdf", files.PDF, "application/pdf")},
        headers=resident.auth,
    )
    assert upload.status_code == 201
    answered = await client.post(
        f"/v1/requests/{request_id}/respond",
        json={"message": "أرفقت الشهادة"},
        headers=resident.auth,
    )
    assert answered.json()["status"] == "in_progress"
    note = await client.post(f"{base}/notes", json={"text": "checked"}, headers=officer.auth)
    assert note.status_code == 200
    replied = await client.post(
        f"{base}/reply", json={"message": "جار العمل"}, headers=officer.auth
    )
    assert replied.status_code == 200
    resolved = await client.post(
        f"{base}/resolve", json={"message": "تم تسجيل المولود"}, headers=officer.auth
    )
    assert resolved.json()["status"] == "resolved"
    rated = await client.post(
        f"/v1/requests/{request_id}/rating",
        json={"score": 5, "comment": "ممتاز"},
        headers=resident.auth,
    )
    assert rated.json()["status"] == "closed"
    assert rated.json()["rating"] == 5
    await stack.drain()
    resident_view = (await client.get(f"/v1/requests/{request_id}", headers=resident.auth)).json()
    assert "note_added" not in [e["type"] for e in resident_view["timeline"]]
    staff_view = (await client.get(base, headers=officer.auth)).json()
    assert "note_added" in [e["type"] for e in staff_view["timeline"]]
    bodies = [m["body"] for m in sms.ledger.to(resident.phone)]
    reference = resident_view["reference"]
    about = [b for b in bodies if reference in b]
    # submitted, routed, information needed, replied, resolved — all in Arabic
    assert len(about) == 5
    assert all("تواصل" in b for b in about)


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("resolve", {"message": "x"}),
        ("reply", {"message": "x"}),
        ("request-info", {"message": "x"}),
    ],
)
async def test_actions_before_claim_are_conflicts_naming_the_state(
    client: httpx.AsyncClient,
    stack: Any,
    sms: Any,
    admin: Any,
    resident: Any,
    action: str,
    body: dict[str, str],
) -> None:
    supervisor = await stack.staff(client, sms.ledger, admin, "supervisor", ["residency"])
    request_id = await _submit(client, stack, resident, "residency", "renew_iqama")
    response = await client.post(
        f"/v1/staff/requests/{request_id}/{action}", json=body, headers=supervisor.auth
    )
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_state"
    assert response.json()["current_status"] == "routed"


async def test_resident_cannot_rate_or_respond_out_of_turn(
    client: httpx.AsyncClient, stack: Any, resident: Any
) -> None:
    request_id = await _submit(client, stack, resident, "visas", "final_exit")
    rate = await client.post(
        f"/v1/requests/{request_id}/rating", json={"score": 4}, headers=resident.auth
    )
    respond = await client.post(
        f"/v1/requests/{request_id}/respond", json={"message": "x"}, headers=resident.auth
    )
    assert rate.status_code == respond.status_code == 409
    bad_score = await client.post(
        f"/v1/requests/{request_id}/rating", json={"score": 9}, headers=resident.auth
    )
    assert bad_score.status_code == 422


async def test_resident_withdraws_an_open_request_once(
    client: httpx.AsyncClient, stack: Any, sms: Any, resident: Any
) -> None:
    request_id = await _submit(client, stack, resident, "visas", "final_exit")
    first = await client.post(f"/v1/requests/{request_id}/withdraw", headers=resident.auth)
    second = await client.post(f"/v1/requests/{request_id}/withdraw", headers=resident.auth)
    assert first.json()["status"] == "withdrawn"
    assert second.status_code == 409
    await stack.drain()
    reference = first.json()["reference"]
    assert sum(reference in m["body"] for m in sms.ledger.to(resident.phone)) == 3


async def test_officer_acts_only_on_own_assignments(
    client: httpx.AsyncClient, stack: Any, sms: Any, admin: Any, resident: Any
) -> None:
    first = await stack.staff(
        client, sms.ledger, admin, "officer", ["saudi_passports"], on_duty=True
    )
    request_id = await _submit(client, stack, resident, "saudi_passports", "renew_passport")
    second = await stack.staff(client, sms.ledger, admin, "officer", ["saudi_passports"])
    response = await client.post(f"/v1/staff/requests/{request_id}/claim", headers=second.auth)
    assert response.status_code == 403
    assert response.json()["code"] == "not_assigned_to_you"
    assert (
        await client.post(f"/v1/staff/requests/{request_id}/claim", headers=first.auth)
    ).status_code == 200


async def test_transfer_routes_again_and_moves_scope(
    client: httpx.AsyncClient, stack: Any, sms: Any, admin: Any, resident: Any
) -> None:
    supervisor = await stack.staff(client, sms.ledger, admin, "supervisor", ["general_enquiries"])
    request_id = await _submit(client, stack, resident, "general_enquiries", "general_enquiry")
    moved = await client.post(
        f"/v1/staff/requests/{request_id}/transfer",
        json={"department_code": "visas", "reason": "visa matter"},
        headers=supervisor.auth,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["department_code"] == "visas"
    assert moved.json()["status"] == "routed"
    after = await client.get(f"/v1/staff/requests/{request_id}", headers=supervisor.auth)
    assert after.status_code == 404
    bad = await client.post(
        f"/v1/staff/requests/{request_id}/transfer",
        json={"department_code": "nowhere", "reason": "x"},
        headers=admin.auth,
    )
    assert bad.status_code == 422


async def test_two_officers_claiming_at_once_cannot_both_win(
    client: httpx.AsyncClient, stack: Any, sms: Any, admin: Any, resident: Any
) -> None:
    officers = [
        await stack.staff(client, sms.ledger, admin, "officer", ["violations"]) for _ in range(4)
    ]
    requests = [
        await _submit(client, stack, resident, "violations", "fines_enquiry") for _ in range(10)
    ]
    attempts = [
        client.post(f"/v1/staff/requests/{rid}/claim", headers=o.auth)
        for rid in requests
        for o in officers
    ]
    results = await asyncio.gather(*attempts)
    for index, rid in enumerate(requests):
        codes = sorted(r.status_code for r in results[index * 4 : index * 4 + 4])
        assert codes == [200, 409, 409, 409], (rid, codes)


async def test_routing_rule_sends_to_its_queue_without_assigning(
    client: httpx.AsyncClient, stack: Any, sms: Any, admin: Any, resident: Any
) -> None:
    await stack.staff(client, sms.ledger, admin, "officer", ["visas"], on_duty=True)
    rule = await client.post(
        "/v1/admin/routing-rules",
        json={
            "department_code": "visas",
            "service_code": "extend_visit_visa",
            "queue_code": "visit_visas",
            "auto_assign": False,
        },
        headers=admin.auth,
    )
    assert rule.status_code == 201, rule.text
    duplicate = await client.post(
        "/v1/admin/routing-rules",
        json={
            "department_code": "visas",
            "service_code": "extend_visit_visa",
            "queue_code": "other",
        },
        headers=admin.auth,
    )
    assert duplicate.status_code == 409
    try:
        request_id = await _submit(client, stack, resident, "visas", "extend_visit_visa")
        view = (await client.get(f"/v1/staff/requests/{request_id}", headers=admin.auth)).json()
        assert view["queue_code"] == "visit_visas"
        assert view["officer_id"] is None
    finally:
        await client.delete(f"/v1/admin/routing-rules/{rule.json()['id']}", headers=admin.auth)


async def test_request_of_a_retired_department_goes_to_triage(
    client: httpx.AsyncClient, stack: Any, admin: Any, resident: Any
) -> None:
    draft = await client.post(
        "/v1/requests",
        json={
            "department_code": "employment_affairs",
            "service_code": "change_profession",
            "description": "x",
        },
        headers=resident.auth,
    )
    request_id = draft.json()["id"]
    await client.post(f"/v1/requests/{request_id}/submit", headers=resident.auth)
    async with stack.sessions() as session, session.begin():
        await session.execute(
            text("UPDATE departments SET active = false WHERE code = 'employment_affairs'")
        )
    try:
        await stack.drain()
    finally:
        async with stack.sessions() as session, session.begin():
            await session.execute(
                text("UPDATE departments SET active = true WHERE code = 'employment_affairs'")
            )
    view = (await client.get(f"/v1/staff/requests/{request_id}", headers=admin.auth)).json()
    assert view["status"] == "routed"
    assert view["queue_code"] == "triage"


async def test_hundreds_of_parallel_submissions_balance_across_officers(
    client: httpx.AsyncClient, stack: Any, sms: Any, admin: Any
) -> None:
    officers = [
        await stack.staff(client, sms.ledger, admin, "officer", ["residency"], on_duty=True)
        for _ in range(3)
    ]
    for officer in officers:
        await client.put(
            "/v1/staff/me/duty", json={"on_duty": True, "capacity": 500}, headers=officer.auth
        )
    residents = [await stack.sign_up(client, sms.ledger) for _ in range(6)]
    gate = asyncio.Semaphore(24)

    async def submit(resident: Any, index: int) -> str:
        async with gate:
            draft = await client.post(
                "/v1/requests",
                json={
                    "department_code": "residency",
                    "service_code": "issue_iqama",
                    "description": f"parallel {index}",
                },
                headers=resident.auth,
            )
            rid: str = draft.json()["id"]
            done = await client.post(f"/v1/requests/{rid}/submit", headers=resident.auth)
            assert done.status_code == 200
            return rid

    ids = await asyncio.gather(*(submit(residents[i % 6], i) for i in range(240)))
    await asyncio.gather(stack.drain(), stack.drain(), stack.drain())
    async with stack.sessions() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT a.officer_id::text, count(*) FROM request_assignments a "
                    "WHERE a.request_id = ANY(:ids) GROUP BY 1"
                ),
                {"ids": ids},
            )
        ).all()
    loads = {officer: count for officer, count in rows}
    assert sum(loads.values()) == 240  # every request placed exactly once
    before = {o.id: 0 for o in officers}
    assert set(loads) <= set(before) | {None}
    counts = [loads.get(o.id, 0) for o in officers]
    assert max(counts) - min(counts) <= 1, counts
