"""Bodies built to hurt the parser (reliability checklist #34): deep nesting, huge arrays and
oversized fields get a quick 4xx problem on public and authenticated endpoints, never a 5xx."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

DEPTH = 50_000
BODIES = {
    "array nested 50,000 deep": "[" * DEPTH + "]" * DEPTH,
    "object nested 50,000 deep": '{"a":' * DEPTH + "1" + "}" * DEPTH,
    "a field nested 20,000 deep": (
        '{"department_code": "visas", "service_code": "final_exit", "description": '
        + "[" * 20_000
        + "]" * 20_000
        + "}"
    ),
    "an array of 10,000 items": "[" + ",".join(["1"] * 10_000) + "]",
    "a 2 MiB string": '{"description": "' + "x" * (2 * 1024 * 1024) + '"}',
    "not JSON": "{'department_code': visas",
}
PATHS = ("/v1/requests", "/v1/auth/login", "/v1/auth/register", "/v1/auth/refresh")


@pytest.fixture
async def resident(client: httpx.AsyncClient, stack: Any, sms: Any) -> Any:
    """A signed-in resident, so authenticated endpoints parse the body too."""
    return await stack.sign_up(client, sms.ledger)


@pytest.mark.parametrize("shape", sorted(BODIES))
async def test_hostile_bodies_get_a_4xx_problem(
    client: httpx.AsyncClient, resident: Any, shape: str
) -> None:
    headers = {**resident.auth, "content-type": "application/json"}
    for path in PATHS:
        response = await client.post(path, content=BODIES[shape], headers=headers)
        assert response.status_code in (400, 413, 422), (shape, path, response.text[:200])
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        assert problem["status"] == response.status_code
        assert problem["detail_ar"], (shape, path)
