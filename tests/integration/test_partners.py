"""Partner systems: tokens, scopes, filing for residents, hand-offs, audit, rate limits."""

from __future__ import annotations

import asyncio
import base64
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from gateway.app import create_app as create_gateway
from tests.support import files
from tests.support.identities import clear_of_minute_boundary

DRAFT = {"department_code": "visas", "service_code": "final_exit", "description": "طلب من جهة"}


async def _partner(client: httpx.AsyncClient, admin: Any, **body: Any) -> dict[str, Any]:
    payload = {
        "name": "Ministry case system",
        "scopes": ["requests:read", "requests:write"],
        "agencies": ["passports"],
        **body,
    }
    response = await client.post("/v1/admin/partners", json=payload, headers=admin.auth)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def _token(
    client: httpx.AsyncClient,
    partner: dict[str, Any],
    *,
    secret: str | None = None,
    scope: str | None = None,
    basic: bool = False,
) -> httpx.Response:
    form = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
    headers = {}
    secret = secret or partner["client_secret"]
    if basic:
        raw = f"{partner['client_id']}:{secret}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
    else:
        form |= {"client_id": partner["client_id"], "client_secret": secret}
    return await client.post("/v1/oauth/token", data=form, headers=headers)


def _bearer(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def test_token_by_form_and_by_basic_auth(client: httpx.AsyncClient, admin: Any) -> None:
    partner = await _partner(client, admin)
    assert partner["client_secret"].startswith("tws_")
    by_form = await _token(client, partner)
    by_basic = await _token(client, partner, basic=True)
    assert by_form.status_code == by_basic.status_code == 200
    assert by_form.json()["token_type"] == "Bearer"
    assert by_form.json()["scope"] == "requests:read requests:write"


async def test_wrong_secret_and_bad_grant(client: httpx.AsyncClient, admin: Any) -> None:
    partner = await _partner(client, admin)
    wrong = await _token(client, partner, secret="tws_not-the-secret")
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    grant = await client.post("/v1/oauth/token", data={"grant_type": "password"})
    assert grant.json()["error"] == "unsupported_grant_type"
    scope = await _token(client, partner, scope="webhooks:manage")
    assert scope.status_code == 400
    assert scope.json()["error"] == "invalid_scope"


async def test_revocation_stops_tokens_at_once(client: httpx.AsyncClient, admin: Any) -> None:
    partner = await _partner(client, admin)
    headers = _bearer(await _token(client, partner))
    assert (await client.get("/v1/partner/requests", headers=headers)).status_code == 200
    revoked = await client.post(
        f"/v1/admin/partners/{partner['client_id']}/revoke", headers=admin.auth
    )
    assert revoked.json()["active"] is False
    assert (await client.get("/v1/partner/requests", headers=headers)).status_code == 401
    assert (await _token(client, partner)).status_code == 401


async def test_rotation_keeps_the_old_secret_for_the_overlap(
    client: httpx.AsyncClient, admin: Any
) -> None:
    partner = await _partner(client, admin)
    url = f"/v1/admin/partners/{partner['client_id']}/secrets"
    rotated = await client.post(url, json={"overlap_seconds": 3600}, headers=admin.auth)
    assert rotated.status_code == 201
    new_secret = rotated.json()["client_secret"]
    assert (await _token(client, partner)).status_code == 200  # old, inside the overlap
    assert (await _token(client, partner, secret=new_secret)).status_code == 200
    again = await client.post(url, json={"overlap_seconds": 0}, headers=admin.auth)
    assert (await _token(client, partner)).status_code == 401  # expired now
    assert (await _token(client, partner, secret=new_secret)).status_code == 401
    assert (await _token(client, partner, secret=again.json()["client_secret"])).status_code == 200


async def test_rotation_without_overlap_ends_the_old_secrets_tokens_at_once(
    client: httpx.AsyncClient, admin: Any
) -> None:
    partner = await _partner(client, admin)
    old = _bearer(await _token(client, partner))
    assert (await client.get("/v1/partner/requests", headers=old)).status_code == 200
    url = f"/v1/admin/partners/{partner['client_id']}/secrets"
    rotated = await client.post(url, json={"overlap_seconds": 0}, headers=admin.auth)
    assert rotated.status_code == 201, rotated.text
    assert (await client.get("/v1/partner/requests", headers=old)).status_code == 401
    new = _bearer(await _token(client, partner, secret=rotated.json()["client_secret"]))
    assert (await client.get("/v1/partner/requests", headers=new)).status_code == 200


async def test_old_secrets_tokens_work_for_the_overlap_and_stop_when_it_ends(
    client: httpx.AsyncClient, admin: Any
) -> None:
    partner = await _partner(client, admin)
    old = _bearer(await _token(client, partner))
    url = f"/v1/admin/partners/{partner['client_id']}/secrets"
    long = await client.post(url, json={"overlap_seconds": 3600}, headers=admin.auth)
    assert long.status_code == 201, long.text
    assert (await client.get("/v1/partner/requests", headers=old)).status_code == 200
    # A second rotation shortens the overlap to a second; each call's answer is judged by
    # whether it was made before or after that second ended.
    short = await client.post(url, json={"overlap_seconds": 1}, headers=admin.auth)
    ends = datetime.fromisoformat(short.json()["old_secrets_expire_at"])
    answers: list[tuple[str, int]] = []
    while not answers or answers[-1][0] != "after":
        before = datetime.now(UTC)
        status = (await client.get("/v1/partner/requests", headers=old)).status_code
        after = datetime.now(UTC)
        when = "inside" if after < ends else "after" if before > ends else "edge"
        answers.append((when, status))
        await asyncio.sleep(0.1)
    assert answers[-1] == ("after", 401)
    assert all(status == 200 for when, status in answers if when == "inside"), answers


async def test_each_scope_allows_only_its_calls(
    client: httpx.AsyncClient, stack: Any, sms: Any, admin: Any
) -> None:
    resident = await stack.sign_up(client, sms.ledger)
    partner = await _partner(client, admin)
    reader = _bearer(await _token(client, partner, scope="requests:read"))
    writer = _bearer(await _token(client, partner, scope="requests:write"))
    body = {**DRAFT, "resident": {"national_id": resident.national_id, "phone": resident.phone}}
    refused = await client.post("/v1/partner/requests", json=body, headers=reader)
    assert refused.status_code == 403
    assert refused.json()["code"] == "insufficient_scope"
    filed = await client.post("/v1/partner/requests", json=body, headers=writer)
    assert filed.status_code == 201
    assert (
        await client.get(f"/v1/partner/requests/{filed.json()['id']}", headers=writer)
    ).status_code == 403
    assert (
        await client.get(f"/v1/partner/requests/{filed.json()['id']}", headers=reader)
    ).status_code == 200
    assert (await client.get("/v1/requests", headers=reader)).status_code == 403  # not a resident


async def test_filing_for_a_resident_who_sees_it_and_gets_the_sms(
    client: httpx.AsyncClient, stack: Any, sms: Any, admin: Any
) -> None:
    resident = await stack.sign_up(client, sms.ledger)
    headers = _bearer(await _token(client, await _partner(client, admin)))
    body = {**DRAFT, "resident": {"national_id": resident.national_id, "phone": resident.phone}}
    filed = (await client.post("/v1/partner/requests", json=body, headers=headers)).json()
    upload = await client.post(
        f"/v1/partner/requests/{filed['id']}/documents",
        files={"file": ("passport.pdf", files.PDF, "application/pdf")},
        headers=headers,
    )
    assert upload.status_code == 201
    submitted = await client.post(f"/v1/partner/requests/{filed['id']}/submit", headers=headers)
    assert submitted.status_code == 200, submitted.text
    reference = submitted.json()["reference"]
    await stack.drain()
    mine = (await client.get("/v1/requests", headers=resident.auth)).json()["items"]
    assert filed["id"] in [item["id"] for item in mine]
    texts = [m["body"] for m in sms.ledger.to(resident.phone) if reference in m["body"]]
    assert len(texts) == 2  # submitted and routed, as if the resident had filed it


async def test_wrong_phone_or_department_outside_scope(
    client: httpx.AsyncClient, stack: Any, sms: Any, admin: Any
) -> None:
    resident = await stack.sign_up(client, sms.ledger)
    headers = _bearer(
        await _token(client, await _partner(client, admin, agencies=[], departments=["visas"]))
    )
    wrong_phone = {
        **DRAFT,
        "resident": {"national_id": resident.national_id, "phone": "+966500000999"},
    }
    response = await client.post("/v1/partner/requests", json=wrong_phone, headers=headers)
    assert response.status_code == 404
    assert response.json()["code"] == "resident_not_found"
    elsewhere = {
        **DRAFT,
        "department_code": "residency",
        "service_code": "renew_iqama",
        "resident": {"national_id": resident.national_id, "phone": resident.phone},
    }
    response = await client.post("/v1/partner/requests", json=elsewhere, headers=headers)
    assert response.status_code == 403
    own = (
        await client.post(
            "/v1/requests",
            json={**DRAFT, "department_code": "residency", "service_code": "renew_iqama"},
            headers=resident.auth,
        )
    ).json()
    assert (
        await client.get(f"/v1/partner/requests/{own['id']}", headers=headers)
    ).status_code == 404


async def test_a_residents_draft_is_hidden_from_partners_until_submitted(
    client: httpx.AsyncClient, stack: Any, sms: Any, admin: Any
) -> None:
    resident = await stack.sign_up(client, sms.ledger)
    partner = await _partner(client, admin)
    headers = _bearer(await _token(client, partner))
    draft = (await client.post("/v1/requests", json=DRAFT, headers=resident.auth)).json()
    dropped = (await client.post("/v1/requests", json=DRAFT, headers=resident.auth)).json()
    withdrawn = await client.post(f"/v1/requests/{dropped['id']}/withdraw", headers=resident.auth)
    assert withdrawn.json()["status"] == "withdrawn"  # never submitted, so still the resident's
    absent = await client.get(f"/v1/partner/requests/{uuid.uuid4()}", headers=headers)
    for hidden in (draft["id"], dropped["id"]):
        read = await client.get(f"/v1/partner/requests/{hidden}", headers=headers)
        assert (read.status_code, read.json()["code"]) == (404, absent.json()["code"])
        open311 = await client.get(
            f"/open311/v2/tokens/{hidden}.json", params={"api_key": partner["client_secret"]}
        )
        assert open311.status_code == 404
    listed = await client.get("/v1/partner/requests?limit=100", headers=headers)
    assert {draft["id"], dropped["id"]}.isdisjoint(item["id"] for item in listed.json()["items"])
    submitted = await client.post(f"/v1/requests/{draft['id']}/submit", headers=resident.auth)
    assert submitted.status_code == 200, submitted.text
    read = await client.get(f"/v1/partner/requests/{draft['id']}", headers=headers)
    assert read.status_code == 200
    listed = await client.get("/v1/partner/requests?limit=100", headers=headers)
    assert draft["id"] in [item["id"] for item in listed.json()["items"]]


async def test_a_partner_reads_the_drafts_it_filed_or_handed_off(
    client: httpx.AsyncClient, stack: Any, sms: Any, admin: Any
) -> None:
    resident = await stack.sign_up(client, sms.ledger)
    headers = _bearer(await _token(client, await _partner(client, admin)))
    ref = {"national_id": resident.national_id, "phone": resident.phone}
    filed = await client.post(
        "/v1/partner/requests", json={**DRAFT, "resident": ref}, headers=headers
    )
    handed = await client.post(
        "/v1/partner/handoffs",
        json={
            "resident": ref,
            "department_code": "visas",
            "service_code": "exit_reentry_single",
            "origin": {
                "service": "absher.exit_reentry",
                "error_code": "EXR-1043",
                "transaction_reference": "ABS-1",
            },
        },
        headers=headers,
    )
    assert filed.status_code == handed.status_code == 201, handed.text
    listed = await client.get("/v1/partner/requests?limit=100", headers=headers)
    for draft in (filed.json(), handed.json()):
        read = await client.get(f"/v1/partner/requests/{draft['id']}", headers=headers)
        assert (read.status_code, read.json()["status"]) == (200, "draft")
        assert draft["id"] in [item["id"] for item in listed.json()["items"]]


async def test_handoff_from_a_failed_eservice(
    client: httpx.AsyncClient, stack: Any, sms: Any, admin: Any
) -> None:
    resident = await stack.sign_up(client, sms.ledger)
    headers = _bearer(await _token(client, await _partner(client, admin)))
    before = len(sms.ledger.to(resident.phone))
    handed = await client.post(
        "/v1/partner/handoffs",
        json={
            "resident": {"national_id": resident.national_id, "phone": resident.phone},
            "department_code": "visas",
            "service_code": "exit_reentry_single",
            "origin": {
                "service": "absher.exit_reentry",
                "error_code": "EXR-1043",
                "transaction_reference": "ABS-778812",
                "data": {"destination": "Jordan", "duration_days": 60},
            },
        },
        headers=headers,
    )
    assert handed.status_code == 201, handed.text
    draft = handed.json()
    assert draft["status"] == "draft"
    assert draft["origin"]["error_code"] == "EXR-1043"
    await stack.drain()
    assert "absher.exit_reentry" in sms.ledger.wait_for(resident.phone, before + 1)[-1]["body"]
    url = f"/v1/requests/{draft['id']}"
    blank = await client.post(f"{url}/submit", headers=resident.auth)
    assert blank.status_code == 422
    assert blank.json()["code"] == "description_required"
    await client.patch(url, json={"description": "أحتاج تأشيرة خروج وعودة"}, headers=resident.auth)
    submitted = await client.post(f"{url}/submit", headers=resident.auth)
    assert submitted.json()["status"] == "submitted"
    await stack.drain()
    staff_view = (await client.get(f"/v1/staff/requests/{draft['id']}", headers=admin.auth)).json()
    assert staff_view["origin"]["transaction_reference"] == "ABS-778812"
    today = staff_view["submitted_at"][:10]
    tomorrow = (date.fromisoformat(today) + timedelta(days=1)).isoformat()
    stats = await client.get(
        f"/v1/staff/statistics/origins?from={today}&to={tomorrow}", headers=admin.auth
    )
    rows = {(r["origin_service"], r["origin_error_code"]): r for r in stats.json()}
    assert rows[("absher.exit_reentry", "EXR-1043")]["submitted"] >= 1


async def test_every_partner_call_is_audited_and_the_log_cannot_change(
    client: httpx.AsyncClient, stack: Any, sms: Any, admin: Any
) -> None:
    resident = await stack.sign_up(client, sms.ledger)
    partner = await _partner(client, admin)
    headers = _bearer(await _token(client, partner))
    body = {**DRAFT, "resident": {"national_id": resident.national_id, "phone": resident.phone}}
    filed = (await client.post("/v1/partner/requests", json=body, headers=headers)).json()
    await client.get("/v1/partner/requests/00000000-0000-0000-0000-000000000000", headers=headers)
    log = (
        await client.get(f"/v1/admin/partners/{partner['client_id']}/audit", headers=admin.auth)
    ).json()
    assert [(e["action"].split()[0], e["outcome"]) for e in log] == [
        ("GET", 404),
        ("POST", 201),
        ("oauth.token", 200),
    ]
    assert log[1]["request_id"] == filed["id"]
    async with stack.sessions() as session:
        with pytest.raises(DBAPIError, match="append-only"):
            await session.execute(text("DELETE FROM partner_audit"))


async def test_rate_limit_holds_across_two_gateways_sharing_redis(
    client: httpx.AsyncClient, stack: Any, admin: Any
) -> None:
    partner = await _partner(client, admin, rate_limit_per_minute=4)
    headers = _bearer(await _token(client, partner))
    second = create_gateway(
        stack.gateway_settings, intake_transport=httpx.ASGITransport(app=stack.intake)
    )
    async with (
        second.router.lifespan_context(second),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=second), base_url="http://gateway-2"
        ) as other,
    ):
        answers = []
        clear_of_minute_boundary()
        for index in range(6):
            gateway = client if index % 2 == 0 else other
            answers.append(await gateway.get("/v1/partner/requests", headers=headers))
    codes = [a.status_code for a in answers]
    assert codes[:4] == [200, 200, 200, 200]
    assert 429 in codes[4:]
    limited = next(a for a in answers if a.status_code == 429)
    assert int(limited.headers["retry-after"]) > 0
    assert limited.headers["content-type"] == "application/problem+json"
