"""A table locked for longer than lock_timeout: quick 503s with Retry-After, never a 500 or a
queue of waiting connections, and everything works again once the lock is gone."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy import text

DRAFT = {
    "department_code": "visas",
    "service_code": "final_exit",
    "description": "أرغب في إصدار تأشيرة خروج نهائي.",
}
LOCK_TIMEOUT_SECONDS = 3  # shared.db.session sets lock_timeout to 3000 ms


async def test_a_locked_requests_table_answers_503_then_recovers(
    client: httpx.AsyncClient, stack: Any, sms: Any
) -> None:
    resident = await stack.sign_up(client, sms.ledger)
    draft = (await client.post("/v1/requests", json=DRAFT, headers=resident.auth)).json()
    calls: dict[str, Callable[[], Awaitable[httpx.Response]]] = {
        "list": lambda: client.get("/v1/requests", headers=resident.auth),
        "page": lambda: client.get(f"/v1/requests/{draft['id']}", headers=resident.auth),
        "draft": lambda: client.post("/v1/requests", json=DRAFT, headers=resident.auth),
        "submit": lambda: client.post(f"/v1/requests/{draft['id']}/submit", headers=resident.auth),
    }
    answers: dict[str, httpx.Response] = {}
    async with stack.sessions() as session, session.begin():
        await session.execute(text("LOCK TABLE requests IN ACCESS EXCLUSIVE MODE"))
        for name, call in calls.items():
            started = time.monotonic()
            answers[name] = await call()
            waited = time.monotonic() - started
            assert waited < LOCK_TIMEOUT_SECONDS + 2, (name, waited)  # not statement_timeout
    for name, answer in answers.items():
        assert answer.status_code == 503, (name, answer.text)
        assert answer.headers["retry-after"], name
        assert answer.json()["code"] == "service_unavailable", name
        assert answer.json()["detail_ar"], name
    after = {name: await call() for name, call in calls.items()}
    assert {name: a.status_code for name, a in after.items()} == {
        "list": 200,
        "page": 200,
        "draft": 201,
        "submit": 200,
    }
    listed = (await client.get("/v1/requests", headers=resident.auth)).json()["items"]
    assert len(listed) == 2  # the first draft and the one made after: the refused one left nothing
