"""Response-time targets: due times in working hours, the 80% warning, breach and escalation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import text

from routing_service.jobs.sla_sweep import sweep
from shared.sla.targets import default_calendar


async def _submit(client: httpx.AsyncClient, stack: Any, resident: Any, service: str) -> str:
    draft = await client.post(
        "/v1/requests",
        json={"department_code": "violations", "service_code": service, "description": "x"},
        headers=resident.auth,
    )
    request_id: str = draft.json()["id"]
    await client.post(f"/v1/requests/{request_id}/submit", headers=resident.auth)
    await stack.drain()
    return request_id


async def _set(stack: Any, request_id: str, **columns: datetime) -> None:
    assignments = ", ".join(f"{name} = :{name}" for name in columns)
    async with stack.sessions() as session, session.begin():
        await session.execute(
            text(f"UPDATE requests SET {assignments} WHERE id = :id"),  # noqa: S608 - test names
            {"id": request_id, **columns},
        )


async def _row(stack: Any, request_id: str) -> Any:
    async with stack.sessions() as session:
        return (
            await session.execute(
                text(
                    "SELECT r.submitted_at, r.first_response_due_at, r.resolution_due_at, "
                    "r.warned_at, r.breached_at, a.officer_id::text AS officer "
                    "FROM requests r LEFT JOIN request_assignments a ON a.request_id = r.id "
                    "WHERE r.id = :id"
                ),
                {"id": request_id},
            )
        ).one()


async def test_routing_sets_due_times_in_working_hours(
    client: httpx.AsyncClient, stack: Any, sms: Any
) -> None:
    resident = await stack.sign_up(client, sms.ledger)
    request_id = await _submit(client, stack, resident, "fines_enquiry")
    row = await _row(stack, request_id)
    calendar = default_calendar()
    assert row.first_response_due_at == calendar.add_working_hours(row.submitted_at, 24)
    assert row.resolution_due_at == calendar.add_working_hours(row.submitted_at, 49)
    seven_working_days = calendar.working_seconds_between(row.submitted_at, row.resolution_due_at)
    assert seven_working_days == 49 * 3600


async def test_warning_then_breach_escalates_and_reassigns(
    client: httpx.AsyncClient, stack: Any, sms: Any
) -> None:
    admin = await stack.admin(client, sms.ledger)
    first = await stack.staff(client, sms.ledger, admin, "officer", ["violations"], on_duty=True)
    supervisor = await stack.staff(client, sms.ledger, admin, "supervisor", ["violations"])
    resident = await stack.sign_up(client, sms.ledger)
    request_id = await _submit(client, stack, resident, "objection_to_violation")
    assert (await _row(stack, request_id)).officer == first.id
    second = await stack.staff(client, sms.ledger, admin, "officer", ["violations"], on_duty=True)
    reference = (await client.get(f"/v1/requests/{request_id}", headers=resident.auth)).json()[
        "reference"
    ]
    now = datetime.now(UTC)

    await _set(stack, request_id, first_response_warn_at=now - timedelta(seconds=1))
    await sweep(stack.sessions, now=now, reassign=True)
    await stack.drain()
    assert (await _row(stack, request_id)).warned_at is not None
    assert any(reference in m["body"] for m in sms.ledger.to(first.phone))

    await _set(stack, request_id, first_response_due_at=now - timedelta(seconds=1))
    await sweep(stack.sessions, now=now, reassign=True)
    await stack.drain()
    row = await _row(stack, request_id)
    assert row.breached_at is not None
    assert row.officer == second.id  # reassigned to the least-loaded other officer
    overdue = [m["body"] for m in sms.ledger.to(supervisor.phone) if reference in m["body"]]
    assert len(overdue) == 1
    staff_view = (await client.get(f"/v1/staff/requests/{request_id}", headers=admin.auth)).json()
    assert staff_view["breached"] is True
    assert {"sla_warning", "sla_breached", "reassigned"} <= {
        e["type"] for e in staff_view["timeline"]
    }
    resident_view = (await client.get(f"/v1/requests/{request_id}", headers=resident.auth)).json()
    assert "sla_breached" not in [e["type"] for e in resident_view["timeline"]]

    await sweep(stack.sessions, now=now + timedelta(hours=1), reassign=True)
    assert (await _row(stack, request_id)).breached_at == row.breached_at  # marked once


async def test_time_awaiting_the_resident_is_not_counted(
    client: httpx.AsyncClient, stack: Any, sms: Any
) -> None:
    admin = await stack.admin(client, sms.ledger)
    resident = await stack.sign_up(client, sms.ledger)
    request_id = await _submit(client, stack, resident, "fines_enquiry")
    base = f"/v1/staff/requests/{request_id}"
    await client.post(f"{base}/claim", headers=admin.auth)
    await client.post(f"{base}/request-info", json={"message": "?"}, headers=admin.auth)
    now = datetime.now(UTC)
    await _set(stack, request_id, resolution_due_at=now - timedelta(seconds=1))
    await sweep(stack.sessions, now=now, reassign=False)
    assert (await _row(stack, request_id)).breached_at is None  # paused while awaiting


def test_pause_moves_deadlines_by_the_working_time_spent_waiting() -> None:
    from shared.db.requests import Request
    from shared.sla.calendar import WorkingCalendar
    from shared.sla.targets import pause, set_targets

    riyadh = WorkingCalendar().tz
    calendar = WorkingCalendar()
    start = datetime(2026, 11, 22, 9, 0, tzinfo=riyadh)  # a Sunday
    request = Request()
    set_targets(request, calendar, start=start, first_response_hours=7, resolution_hours=49)
    request.first_response_at = start
    before = request.resolution_due_at
    assert before is not None
    # Waiting from Thursday 14:00 to Sunday 10:00 costs 1 + 2 working hours.
    pause(
        request,
        calendar,
        datetime(2026, 11, 26, 14, 0, tzinfo=riyadh),
        datetime(2026, 11, 29, 10, 0, tzinfo=riyadh),
    )
    assert request.resolution_due_at == calendar.add_working_hours(before, 3)
