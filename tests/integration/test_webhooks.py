"""Signed webhooks to partners: delivery, verification, retries, dead letters and replay."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from notify_service.webhooks.security import SIGNATURE_HEADER, UnsafeTarget, check_target, verify


class Receiver:
    """A partner's endpoint on 127.0.0.1 that records deliveries; `failing` answers 500."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.failing = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                if receiver.failing:
                    receiver.failing -= 1
                    self.send_response(500)
                else:
                    receiver.received.append(
                        ({k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    self.send_response(204)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def payloads(self) -> list[dict[str, Any]]:
        """Bodies received, parsed."""
        return [json.loads(body) for _, body in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A fresh receiver per test."""
    server = Receiver()
    yield server
    server.server.shutdown()
    server.server.server_close()


async def _partner(client: httpx.AsyncClient, admin: Any, **client_fields: Any) -> dict[str, str]:
    """A partner client made by the admin; returns its bearer header."""
    created = (
        await client.post("/v1/admin/partners", json=client_fields, headers=admin.auth)
    ).json()
    token = (
        await client.post(
            "/v1/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": created["client_id"],
                "client_secret": created["client_secret"],
            },
        )
    ).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


async def _partner_with_hook(
    client: httpx.AsyncClient, admin: Any, url: str, scopes: list[str]
) -> tuple[dict[str, str], str, str]:
    headers = await _partner(
        client, admin, name="Case system", scopes=scopes, agencies=["passports"]
    )
    hook = await client.post("/v1/partner/webhooks", json={"url": url}, headers=headers)
    assert hook.status_code == 201, hook.text
    return headers, hook.json()["secret"], hook.json()["id"]


async def _file(client: httpx.AsyncClient, headers: dict[str, str], resident: Any) -> str:
    filed = (
        await client.post(
            "/v1/partner/requests",
            json={
                "department_code": "visas",
                "service_code": "final_exit",
                "description": "x",
                "resident": {"national_id": resident.national_id, "phone": resident.phone},
            },
            headers=headers,
        )
    ).json()
    submitted = await client.post(f"/v1/partner/requests/{filed['id']}/submit", headers=headers)
    assert submitted.status_code == 200
    return str(filed["id"])


async def test_status_changes_arrive_signed(
    client: httpx.AsyncClient, stack: Any, sms: Any, receiver: Receiver
) -> None:
    admin = await stack.admin(client, sms.ledger)
    resident = await stack.sign_up(client, sms.ledger)
    headers, secret, _ = await _partner_with_hook(
        client, admin, receiver.url, ["requests:read", "requests:write", "webhooks:manage"]
    )
    request_id = await _file(client, headers, resident)
    await stack.drain()
    mine = [p for p in receiver.payloads() if p["request_id"] == request_id]
    assert sorted(p["status"] for p in mine) == ["routed", "submitted"]
    for received_headers, body in receiver.received:
        assert verify(secret, received_headers[SIGNATURE_HEADER.lower()], body)
        assert not verify("another-secret", received_headers[SIGNATURE_HEADER.lower()], body)


async def test_failing_receiver_is_retried_then_dead_then_replayed(
    client: httpx.AsyncClient, stack: Any, sms: Any, receiver: Receiver
) -> None:
    admin = await stack.admin(client, sms.ledger)
    resident = await stack.sign_up(client, sms.ledger)
    headers, _, hook_id = await _partner_with_hook(
        client, admin, receiver.url, ["requests:read", "requests:write", "webhooks:manage"]
    )
    receiver.failing = 1000
    request_id = await _file(client, headers, resident)
    await stack.drain()
    await stack.make_pending_due()
    await stack.drain()
    async with stack.sessions() as session:
        attempts = await session.scalar(
            text("SELECT max(attempts) FROM webhook_deliveries WHERE request_id = :id"),
            {"id": request_id},
        )
        assert attempts >= 2  # retried
        # A day passes without success.
        await session.execute(
            text(
                "UPDATE webhook_deliveries SET created_at = now() - interval '25 hours' "
                "WHERE request_id = :id"
            ),
            {"id": request_id},
        )
        await session.commit()
    await stack.make_pending_due()
    await stack.drain()
    dead = (await client.get("/v1/admin/webhooks/dead-letters", headers=admin.auth)).json()
    parked = [d for d in dead if d["request_id"] == request_id and d["webhook_id"] == hook_id]
    assert len(parked) == 2
    receiver.failing = 0
    for delivery in parked:
        replayed = await client.post(
            f"/v1/admin/webhooks/dead-letters/{delivery['id']}/replay", headers=admin.auth
        )
        assert replayed.json()["status"] == "pending"
    await stack.drain()
    statuses = sorted(p["status"] for p in receiver.payloads() if p["request_id"] == request_id)
    assert statuses == ["routed", "submitted"]  # each once, after the replay


async def test_subscribing_needs_the_scope(
    client: httpx.AsyncClient, stack: Any, sms: Any, receiver: Receiver
) -> None:
    admin = await stack.admin(client, sms.ledger)
    headers = await _partner(
        client, admin, name="Reader", scopes=["requests:read"], agencies=["passports"]
    )
    response = await client.post(
        "/v1/partner/webhooks", json={"url": receiver.url}, headers=headers
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",
        "https://127.0.0.1/hook",
        "https://169.254.169.254/latest",
        "https://10.1.2.3/x",
        "https://[::1]/x",
        "https://user:pw@example.com/x",
        "ftp://x.y/z",
        "https://localhost/hook",
        "https://2130706433/hook",  # 127.0.0.1 written as a number
        "https://8.8.8.8:6379/hook",  # a public host's other services
        "https://8.8.8.8:25/hook",
        "https://8.8.8.8:99999/hook",
        "https://8.8.8.8:x/hook",
        "https://100.64.0.1/",  # carrier-grade NAT: pod addresses on EKS custom networking
        "https://100.127.255.254/",
        "https://[2002:7f00:1::]/",  # 6to4 for 127.0.0.1
    ],
)
async def test_internal_targets_are_refused(url: str) -> None:
    with pytest.raises(UnsafeTarget):
        await check_target(url, allow_private=False)


@pytest.mark.parametrize("url", ["https://8.8.8.8/hook", "https://8.8.8.8:8443/hook"])
async def test_public_https_on_a_web_port_is_accepted(url: str) -> None:
    await check_target(url, allow_private=False)  # the control: the refusals are not blanket


async def test_one_job_fans_out_many_events_each_to_its_own_subscribers(
    client: httpx.AsyncClient, stack: Any, sms: Any, receiver: Receiver
) -> None:
    """The relay puts up to 50 events in one fan_out_event job; each still reaches exactly
    the partners entitled to it, and the job run twice adds nothing."""
    from notify_service.jobs.webhooks import fan_out_event

    admin = await stack.admin(client, sms.ledger)
    headers = await _partner(
        client,
        admin,
        name="Visa desk",
        scopes=["requests:read", "webhooks:manage"],
        departments=["visas"],
    )
    hook = await client.post("/v1/partner/webhooks", json={"url": receiver.url}, headers=headers)
    assert hook.status_code == 201, hook.text
    resident = await stack.sign_up(client, sms.ledger)
    filed: dict[str, str] = {}
    for department, service in (
        ("visas", "final_exit"),
        ("violations", "fines_enquiry"),
        ("visas", "final_exit"),
    ):
        draft = await client.post(
            "/v1/requests",
            json={"department_code": department, "service_code": service, "description": "x"},
            headers=resident.auth,
        )
        request_id = draft.json()["id"]
        await client.post(f"/v1/requests/{request_id}/submit", headers=resident.auth)
        filed[request_id] = department
    async with stack.sessions() as session:
        owed = list(
            await session.scalars(
                text(
                    "SELECT id::text FROM outbox WHERE job = 'fan_out_event' "
                    "AND status = 'pending' AND payload->>'request_id' = ANY(:ids)"
                ),
                {"ids": list(filed)},
            )
        )
    assert len(owed) == 3
    ctx = {"sessions": stack.sessions}
    # (other tests' partners, scoped to the whole agency, hear of these requests too)
    assert (await fan_out_event(ctx, *owed)).startswith("events=3 ")
    assert await fan_out_event(ctx, *owed) == "skipped"
    async with stack.sessions() as session:
        delivered = list(
            await session.scalars(
                text("SELECT request_id::text FROM webhook_deliveries WHERE webhook_id = :h"),
                {"h": hook.json()["id"]},
            )
        )
    assert sorted(delivered) == sorted(i for i, d in filed.items() if d == "visas")
    await stack.drain()
