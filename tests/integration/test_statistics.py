"""Supervisor statistics checked against values computed by hand (percentiles are estimates
within 1%, see routing_service/statistics/sketch.py)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from routing_service.statistics.rollup import fold_all

BASE = datetime(2020, 1, 5, 9, 0, tzinfo=UTC)  # a period no other test writes into
H = timedelta(hours=1)


async def _place(stack: Any, request_id: str, officer: str, **times: Any) -> None:
    columns = ", ".join(f"{name} = :{name}" for name in times)
    async with stack.sessions() as session, session.begin():
        await session.execute(
            text(f"UPDATE requests SET {columns} WHERE id = :id"),  # noqa: S608 - test names
            {"id": request_id, **times},
        )
        await session.execute(
            text("UPDATE request_assignments SET officer_id = :o WHERE request_id = :id"),
            {"id": request_id, "o": officer},
        )


@pytest.fixture(scope="module")
async def figures(stack: Any, sms: Any) -> dict[str, Any]:
    """Four requests in 2020 with known timings, split between two officers (made once)."""
    async with stack.gateway_client() as client:
        return await _make_figures(client, stack, sms)


async def _make_figures(client: httpx.AsyncClient, stack: Any, sms: Any) -> dict[str, Any]:
    admin = await stack.admin(client, sms.ledger)
    supervisor = await stack.staff(client, sms.ledger, admin, "supervisor", ["visas"])
    officer_a = await stack.staff(client, sms.ledger, admin, "officer", ["visas"])
    officer_b = await stack.staff(client, sms.ledger, admin, "officer", ["visas"])
    resident = await stack.sign_up(client, sms.ledger)
    ids = []
    for _ in range(4):
        draft = await client.post(
            "/v1/requests",
            json={"department_code": "visas", "service_code": "final_exit", "description": "s"},
            headers=resident.auth,
        )
        ids.append(draft.json()["id"])
        await client.post(f"/v1/requests/{ids[-1]}/submit", headers=resident.auth)
    await stack.drain()
    due = {"first_response_due_at": BASE + 2 * H, "resolution_due_at": BASE + 15 * H}
    # first response after 1, 2, 3 h and never; resolved after 10 and 20 h; two breaches.
    await _place(
        stack,
        ids[0],
        officer_a.id,
        submitted_at=BASE,
        first_response_at=BASE + H,
        resolved_at=BASE + 10 * H,
        status="closed",
        rating=4,
        **due,
    )
    await _place(
        stack,
        ids[1],
        officer_a.id,
        submitted_at=BASE,
        first_response_at=BASE + 2 * H,
        resolved_at=BASE + 20 * H,
        status="closed",
        rating=5,
        breached_at=BASE + 15 * H,
        **due,
    )
    await _place(
        stack,
        ids[2],
        officer_b.id,
        submitted_at=BASE,
        first_response_at=BASE + 3 * H,
        status="in_progress",
        breached_at=BASE + 2 * H,
        **due,
    )
    await _place(stack, ids[3], officer_b.id, submitted_at=BASE, status="routed", **due)
    async with stack.sessions() as session:
        await fold_all(session)
    return {"supervisor": supervisor, "officer": officer_a, "a": officer_a.id, "b": officer_b.id}


async def test_department_figures_match_hand_computed(
    client: httpx.AsyncClient, figures: dict[str, Any]
) -> None:
    response = await client.get(
        "/v1/staff/statistics?from=2020-01-01&to=2020-02-01",
        headers=figures["supervisor"].auth,
    )
    assert response.status_code == 200, response.text
    (visas,) = response.json()["departments"]
    assert visas["key"] == "visas"
    assert visas["submitted"] == 4
    assert visas["by_status"] == {"closed": 2, "in_progress": 1, "routed": 1}
    assert visas["first_response"] == {
        "count": 3,
        "median_hours": pytest.approx(2.0, rel=0.01),
        "p90_hours": pytest.approx(2.8, rel=0.01),
        "within_target_share": 0.6667,
    }
    assert visas["resolution"] == {
        "count": 2,
        "median_hours": pytest.approx(15.0, rel=0.01),
        "p90_hours": pytest.approx(19.0, rel=0.01),
        "within_target_share": 0.5,
    }
    assert visas["breaches"] == 2
    assert visas["satisfaction_average"] == 4.5
    officers = {o["key"]: o for o in response.json()["officers"]}
    assert officers[figures["a"]]["first_response"]["median_hours"] == pytest.approx(1.5, rel=0.01)
    assert officers[figures["b"]]["breaches"] == 1
    assert officers[figures["b"]]["submitted"] == 2


async def test_csv_has_a_row_per_department_and_officer(
    client: httpx.AsyncClient, figures: dict[str, Any]
) -> None:
    response = await client.get(
        "/v1/staff/statistics?from=2020-01-01&to=2020-02-01&format=csv",
        headers=figures["supervisor"].auth,
    )
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["scope"] for r in rows] == ["department", "officer", "officer"]
    assert float(rows[0]["first_response_p90_hours"]) == pytest.approx(2.8, rel=0.01)


async def test_officers_and_bad_periods_are_refused(
    client: httpx.AsyncClient, figures: dict[str, Any]
) -> None:
    officer = await client.get(
        "/v1/staff/statistics?from=2020-01-01&to=2020-02-01", headers=figures["officer"].auth
    )
    assert officer.status_code == 403
    backwards = await client.get(
        "/v1/staff/statistics?from=2020-02-01&to=2020-01-01", headers=figures["supervisor"].auth
    )
    assert backwards.status_code == 422
    assert backwards.json()["code"] == "invalid_period"


async def test_supervisor_sees_only_their_departments(
    client: httpx.AsyncClient, stack: Any, sms: Any, figures: dict[str, Any]
) -> None:
    admin = await stack.admin(client, sms.ledger)
    other = await stack.staff(client, sms.ledger, admin, "supervisor", ["residency"])
    response = await client.get(
        "/v1/staff/statistics?from=2020-01-01&to=2020-02-01&department=visas", headers=other.auth
    )
    assert response.json()["departments"] == []


async def test_department_figures_alone_leave_out_the_officers(
    client: httpx.AsyncClient, figures: dict[str, Any]
) -> None:
    """The dashboard's headline call: the same department figures without a row per officer."""
    period = "/v1/staff/statistics?from=2020-01-01&to=2020-02-01"
    auth = figures["supervisor"].auth
    full = (await client.get(period, headers=auth)).json()
    alone = await client.get(f"{period}&officers=false", headers=auth)
    assert alone.status_code == 200, alone.text
    assert alone.json()["officers"] == []
    assert alone.json()["departments"] == full["departments"]
    assert len(full["officers"]) == 2
