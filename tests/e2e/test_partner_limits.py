"""A partner's rate limit holds across two gateway processes that share Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from gateway.auth.tokens import load_private_key, private_key_pem
from gateway.staff.bootstrap import ensure_admin
from tests.support.identities import clear_of_minute_boundary, mobile
from tests.support.live import LiveStack, live_stack, second_gateway, staff_sign_in
from tests.support.sms_receiver import SmsReceiver
from tests.support.sync import run_sync

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(
    backing: Any, sms: SmsReceiver, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveStack]:
    """Every process; gateways sign with one configured key, as replicas do."""
    env = {
        **backing.env(),
        "SMS_PROVIDER": "webhook",
        "SMS_WEBHOOK_URL": sms.url,
        "JWT_PRIVATE_KEY": private_key_pem(load_private_key(None)).decode(),
    }
    with live_stack(env, tmp_path_factory.mktemp("logs-limits")) as running:
        yield running


def test_partner_limit_is_shared_by_two_gateway_processes(
    stack: LiveStack, sms: SmsReceiver, backing: Any
) -> None:
    other_url = second_gateway(stack)
    name, phone = f"admin{uuid.uuid4().hex[:6]}", mobile()
    run_sync(
        ensure_admin(backing.database_url, username=name, password="admin-password-1", phone=phone)
    )
    with stack.client() as first, httpx.Client(base_url=other_url, timeout=30) as second:
        admin = staff_sign_in(first, sms.ledger, name, "admin-password-1", phone)
        partner = first.post(
            "/v1/admin/partners",
            json={
                "name": "Call centre",
                "scopes": ["requests:read"],
                "agencies": ["passports"],
                "rate_limit_per_minute": 4,
            },
            headers=admin,
        ).json()
        token = second.post(
            "/v1/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": partner["client_id"],
                "client_secret": partner["client_secret"],
            },
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        clear_of_minute_boundary()
        codes = [
            (first if n % 2 == 0 else second).get("/v1/partner/requests", headers=headers)
            for n in range(6)
        ]
    statuses = [c.status_code for c in codes]
    assert statuses[:4] == [200, 200, 200, 200], statuses
    assert 429 in statuses[4:], statuses
    refused = next(c for c in codes if c.status_code == 429)
    assert int(refused.headers["retry-after"]) > 0
    assert refused.json()["code"] == "rate_limited"
