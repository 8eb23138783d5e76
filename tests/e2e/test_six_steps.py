"""Every service as its own process, driven through the gateway: the resident's six steps."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest

from tests.support import files
from tests.support.live import LiveStack, sign_in, wait_until
from tests.support.sms_receiver import SmsReceiver

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(webhook_stack: LiveStack) -> LiveStack:
    """The module's running system."""
    return webhook_stack


def test_resident_six_steps_through_the_gateway(stack: LiveStack, sms: SmsReceiver) -> None:
    with stack.client() as client:
        # 1. Register and sign in with national ID, password and SMS codes.
        resident = sign_in(client, sms.ledger)

        # 2. Browse the catalog: agency → department → service.
        catalog = client.get("/v1/catalog").json()
        visas = next(
            d for a in catalog["agencies"] for d in a["departments"] if d["code"] == "visas"
        )
        service = next(s for s in visas["services"] if s["code"] == "exit_reentry_single")

        # 3. Create a draft (twice with the same Idempotency-Key: one request).
        body = {
            "department_code": visas["code"],
            "service_code": service["code"],
            "description": "Exit and re-entry visa for a family visit; passport attached.",
        }
        key = {"Idempotency-Key": str(uuid.uuid4())}
        draft = client.post("/v1/requests", json=body, headers={**resident.headers, **key})
        again = client.post("/v1/requests", json=body, headers={**resident.headers, **key})
        assert draft.status_code == again.status_code == 201
        request_id = draft.json()["id"]
        assert again.json()["id"] == request_id

        # 4. Upload documents; the type comes from the bytes.
        pdf, png = files.PDF, files.png()
        for name, data in (("passport.pdf", pdf), ("photo.png", png)):
            response = client.post(
                f"/v1/requests/{request_id}/documents",
                files={"file": (name, data, "application/octet-stream")},
                headers=resident.headers,
            )
            assert response.status_code == 201, response.text
            assert response.json()["sha256"] == hashlib.sha256(data).hexdigest()

        # 5. Submit: a reference, an SMS with it, and routing over the queue.
        before = len(sms.ledger.to(resident.phone))
        submitted = client.post(f"/v1/requests/{request_id}/submit", headers=resident.headers)
        assert submitted.status_code == 200, submitted.text
        reference = submitted.json()["reference"]
        assert submitted.json()["status"] == "submitted"
        texts = sms.ledger.wait_for(resident.phone, before + 2)[before:]
        assert all(reference in m["body"] for m in texts)

        # 6. Follow it: the list and the request with documents and timeline.
        def routed() -> bool:
            detail = client.get(f"/v1/requests/{request_id}", headers=resident.headers).json()
            return bool(detail["status"] == "routed")

        wait_until(routed, 20, "request was not routed")
        detail = client.get(f"/v1/requests/{request_id}", headers=resident.headers).json()
        assert detail["reference"] == reference
        assert detail["department"]["code"] == "visas"
        assert detail["service"]["code"] == "exit_reentry_single"
        assert {d["content_type"] for d in detail["documents"]} == {"application/pdf", "image/png"}
        assert [e["type"] for e in detail["timeline"]] == [
            "created",
            "document_added",
            "document_added",
            "submitted",
            "routed",
        ]
        listing = client.get("/v1/requests", headers=resident.headers).json()
        assert [item["id"] for item in listing["items"]] == [request_id]
        assert len(sms.ledger.to(resident.phone)) == before + 2  # one SMS per status change


def test_gateway_serves_the_whole_openapi(stack: LiveStack) -> None:
    with stack.client() as client:
        document = client.get("/openapi.json").json()
    paths = document["paths"]
    for path in (
        "/v1/auth/register",
        "/v1/auth/login/verify",
        "/v1/catalog",
        "/v1/requests",
        "/v1/requests/{request_id}/documents",
        "/v1/requests/{request_id}/submit",
    ):
        assert path in paths, path
    assert paths["/v1/requests"]["post"]["security"] == [{"bearerAuth": []}]


def test_every_process_answers_health(stack: LiveStack) -> None:
    import httpx

    for spec in stack.supervisor.specs.values():
        if spec.port is None:
            continue
        for probe in ("/healthz", "/readyz"):
            response = httpx.get(f"http://127.0.0.1:{spec.port}{probe}", timeout=5)
            assert response.status_code == 200, (spec.name, probe, response.text)


def test_services_refuse_calls_without_the_gateways_signature(stack: LiveStack) -> None:
    import httpx

    intake = stack.supervisor.specs["intake"]
    response = httpx.get(f"http://127.0.0.1:{intake.port}/v1/requests", timeout=5)
    assert response.status_code == 401
    forged = httpx.get(
        f"http://127.0.0.1:{intake.port}/v1/requests",
        headers={"x-tawasul-identity": "eyJzdWIiOiIxIiwia25kIjoicmVzaWRlbnQifQ.Zm9yZ2Vk"},
        timeout=5,
    )
    assert forged.status_code == 401


def test_logs_are_json_and_carry_no_phone_numbers(stack: LiveStack, sms: SmsReceiver) -> None:
    with stack.client() as client:
        resident = sign_in(client, sms.ledger)
    digits = resident.phone[1:]
    for log in Path(stack.log_dir).glob("*.log"):
        text = log.read_text(errors="replace")
        assert digits not in text, log.name
        assert resident.national_id not in text, log.name
