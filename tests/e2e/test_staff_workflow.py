"""Every process, through the gateway: a resident's request worked by its department's officer."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.staff.bootstrap import ensure_admin
from tests.support import files
from tests.support.identities import mobile
from tests.support.live import LiveStack, sign_in, staff_sign_in, wait_until
from tests.support.sms_receiver import SmsReceiver
from tests.support.sync import run_sync

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(webhook_stack: LiveStack) -> LiveStack:
    """The module's running system."""
    return webhook_stack


def test_officer_works_a_request_to_resolution(
    stack: LiveStack, sms: SmsReceiver, backing: Any
) -> None:
    admin_name, admin_phone = f"admin{uuid.uuid4().hex[:6]}", mobile()
    run_sync(
        ensure_admin(
            backing.database_url,
            username=admin_name,
            password="admin-password-1",
            phone=admin_phone,
        )
    )
    with stack.client() as client:
        admin = staff_sign_in(client, sms.ledger, admin_name, "admin-password-1", admin_phone)
        officer_name, officer_phone = f"officer{uuid.uuid4().hex[:6]}", mobile()
        created = client.post(
            "/v1/admin/staff",
            json={
                "username": officer_name,
                "full_name": "ضابط الأسرة",
                "phone": officer_phone,
                "password": "officer-password",
                "role": "officer",
                "departments": ["family_affairs"],
            },
            headers=admin,
        )
        assert created.status_code == 201, created.text
        officer = staff_sign_in(client, sms.ledger, officer_name, "officer-password", officer_phone)
        assert (
            client.put("/v1/staff/me/duty", json={"on_duty": True}, headers=officer).status_code
            == 200
        )
        try:
            resident = sign_in(client, sms.ledger)
            draft = client.post(
                "/v1/requests",
                json={
                    "department_code": "family_affairs",
                    "service_code": "add_dependent",
                    "description": "إضافة تابع إلى هويتي",
                },
                headers=resident.headers,
            ).json()
            request_id = draft["id"]
            reference = client.post(
                f"/v1/requests/{request_id}/submit", headers=resident.headers
            ).json()["reference"]

            def in_my_queue() -> bool:
                page = client.get("/v1/staff/requests?assigned=me", headers=officer).json()
                return request_id in [item["id"] for item in page["items"]]

            wait_until(in_my_queue, 20, "the request never reached the officer's queue")
            page = client.get("/v1/staff/requests?assigned=me", headers=officer).json()
            officer_id = next(i["officer_id"] for i in page["items"] if i["id"] == request_id)
            base = f"/v1/staff/requests/{request_id}"
            assert client.post(f"{base}/claim", headers=officer).status_code == 200
            asked = client.post(
                f"{base}/request-info",
                json={"message": "يرجى إرفاق شهادة الميلاد"},
                headers=officer,
            )
            assert asked.json()["status"] == "awaiting_resident"
            upload = client.post(
                f"/v1/requests/{request_id}/documents",
                files={"file": ("birth.pdf", files.PDF, "application/pdf")},
                headers=resident.headers,
            )
            assert upload.status_code == 201
            answered = client.post(
                f"/v1/requests/{request_id}/respond",
                json={"message": "تم الإرفاق"},
                headers=resident.headers,
            )
            assert answered.json()["status"] == "in_progress"
            resolved = client.post(
                f"{base}/resolve", json={"message": "تمت إضافة التابع"}, headers=officer
            )
            assert resolved.json()["status"] == "resolved"
            rated = client.post(
                f"/v1/requests/{request_id}/rating", json={"score": 5}, headers=resident.headers
            )
            assert rated.json()["status"] == "closed"

            # submitted, routed, information needed, resolved: each an Arabic SMS
            def four_texts() -> bool:
                texts = [m for m in sms.ledger.to(resident.phone) if reference in m["body"]]
                return len(texts) >= 4

            wait_until(four_texts, 20, "the resident did not get every SMS")
            texts = [m["body"] for m in sms.ledger.to(resident.phone) if reference in m["body"]]
            assert len(texts) == 4
            assert all("تواصل" in body for body in texts)

            # The routing worker's fold (every 10 s) brings the request into the statistics.
            today = datetime.now(UTC).date()
            period = f"from={today}&to={today + timedelta(days=1)}&department=family_affairs"

            def counted() -> dict[str, Any] | None:
                stats = client.get(f"/v1/staff/statistics?{period}", headers=admin).json()
                mine = [o for o in stats["officers"] if o["key"] == officer_id]
                return mine[0] if mine and mine[0]["ratings"] == 1 else None

            wait_until(counted, 30, "the request never reached the supervisors' statistics")
            figures = counted()
            assert figures is not None
            assert figures["by_status"] == {"closed": 1}
            assert figures["satisfaction_average"] == 5.0
            assert figures["resolution"]["count"] == 1
        finally:
            client.put("/v1/staff/me/duty", json={"on_duty": False}, headers=officer)
