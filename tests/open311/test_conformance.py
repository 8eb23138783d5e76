"""Open311 GeoReport v2 conformance: every endpoint, in XML and JSON, checked against the spec."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.open311.conformance import (
    BASE,
    FORMATS,
    OTHER_DEPARTMENT_SERVICE,
    SERVICE,
    WRITE,
    World,
    both,
    check_definition,
    check_discovery,
    check_errors,
    check_request,
    check_service,
    check_w3c_recent,
    file_request,
    filing,
    parse,
    partner,
    uuid_of,
)


@pytest.fixture(scope="module")
async def world(stack: Any, sms: Any) -> World:
    """Signed up and registered once for the module."""
    async with stack.gateway_client() as client:
        admin = await stack.admin(client, sms.ledger)
        return World(
            admin=admin,
            resident=await stack.sign_up(client, sms.ledger),
            full=await partner(client, admin, agencies=["passports"]),
            writer=await partner(client, admin, scopes=[WRITE], agencies=["passports"]),
            narrow=await partner(client, admin, departments=["residency"]),
        )


async def test_discovery(client: httpx.AsyncClient) -> None:
    check_discovery(await both(client, "discovery", "discovery"))


async def test_service_list_and_every_definition(client: httpx.AsyncClient) -> None:
    services = await both(client, "services", "services")
    assert services, "the catalog is loaded"
    for service in services:
        check_service(service)
        assert service["metadata"] is True
    codes = [service["service_code"] for service in services]
    assert len(codes) == len(set(codes))
    assert SERVICE in codes
    for code in codes:
        definition = await both(client, f"services/{code}", "service_definition")
        check_definition(definition, code)
        national_id = [a for a in definition["attributes"] if a["code"] == "national_id"]
        assert national_id
        assert national_id[0]["required"] is True
        assert national_id[0]["variable"] is True


async def test_english_names_on_request(client: httpx.AsyncClient) -> None:
    arabic = {s["service_code"]: s for s in await both(client, "services", "services")}
    english = await both(client, "services", "services", lang="en")
    by_header = await client.get(f"{BASE}/services.json", headers={"Accept-Language": "en"})
    assert by_header.json() == english
    for service in english:
        check_service(service)
        assert service["service_name"].isascii()
        assert service["service_name"] != arabic[service["service_code"]]["service_name"]


@pytest.mark.parametrize("fmt", FORMATS)
async def test_unknown_service_bad_format_and_unknown_path(
    client: httpx.AsyncClient, fmt: str
) -> None:
    for code in ("visas.no_such_service", "no_dot", "nowhere.final_exit"):
        errors = check_errors(await client.get(f"{BASE}/services/{code}.{fmt}"), fmt, 404)
        assert errors[0]["code"] == "service_not_found"
    # A format we do not serve: 404 in the standard's error format (XML, the required one).
    for path in ("services.csv", "discovery.html", f"services/{SERVICE}.yaml"):
        errors = check_errors(await client.get(f"{BASE}/{path}"), "xml", 404)
        assert errors[0]["code"] == "unsupported_format"
    check_errors(await client.get(f"{BASE}/nothing/here.{fmt}"), fmt, 404)


@pytest.mark.parametrize("fmt", FORMATS)
async def test_api_key_missing_or_invalid_is_403(
    client: httpx.AsyncClient, world: World, fmt: str
) -> None:
    body = filing(world)
    calls = [
        ("POST", f"requests.{fmt}"),
        ("GET", f"requests.{fmt}"),
        ("GET", f"requests/TW-2026-00000001.{fmt}"),
        ("GET", f"tokens/{uuid.uuid4()}.{fmt}"),
    ]
    for key, code in (("", "api_key_required"), ("tws_not-a-key", "invalid_api_key")):
        for method, path in calls:
            if method == "POST":
                response = await client.post(f"{BASE}/{path}", data={**body, "api_key": key})
            else:
                response = await client.get(f"{BASE}/{path}", params={"api_key": key})
            assert check_errors(response, fmt, 403)[0]["code"] == code


@pytest.mark.parametrize("fmt", FORMATS)
async def test_missing_or_wrong_fields_are_400(
    client: httpx.AsyncClient, world: World, fmt: str
) -> None:
    url = f"{BASE}/requests.{fmt}"
    missing = check_errors(
        await client.post(url, data=filing(world, **{"attribute[national_id]": ""})), fmt, 400
    )
    assert [e["code"] for e in missing] == ["missing_parameter"]
    assert "attribute[national_id]" in missing[0]["description"]
    none = {"api_key": world.full["client_secret"]}
    everything = check_errors(await client.post(url, data=none), fmt, 400)
    assert len(everything) == 4  # service_code, attribute[national_id], phone, description
    bad_phone = check_errors(await client.post(url, data=filing(world, phone="12")), fmt, 400)
    assert bad_phone[0]["code"] == "validation_error"
    assert bad_phone[0]["description"].startswith("phone")
    stranger = filing(world, phone="+966500000001")  # not the phone registered with the ID
    assert check_errors(await client.post(url, data=stranger), fmt, 400)[0]["code"] == (
        "resident_not_found"
    )
    unknown = check_errors(await client.post(url, data=filing(world, service_code="x.y")), fmt, 404)
    assert unknown[0]["code"] == "service_not_found"
    bad_dates = {"api_key": world.full["client_secret"], "start_date": "yesterday"}
    check_errors(await client.get(url, params=bad_dates), fmt, 400)
    too_long = {
        "api_key": world.full["client_secret"],
        "start_date": "2026-01-01T00:00:00Z",
        "end_date": "2026-06-01T00:00:00Z",
    }
    check_errors(await client.get(url, params=too_long), fmt, 400)


async def test_create_then_read_in_both_formats(
    client: httpx.AsyncClient, stack: Any, sms: Any, world: World
) -> None:
    started = datetime.now(UTC) - timedelta(seconds=5)
    key = {"api_key": world.full["client_secret"]}
    reference = await file_request(client, world, "json")
    other = await file_request(client, world, "xml")
    token = await uuid_of(client, world, reference)

    [request] = await both(client, f"requests/{reference}", "service_requests", **key)
    check_request(request)
    assert request["service_request_id"] == reference
    assert request["service_code"] == SERVICE
    assert request["status"] == "open"
    assert request["description"].endswith("\nSecond line.")
    assert request["agency_responsible"]
    assert request["status_notes"]
    check_w3c_recent(request["requested_datetime"])
    location = ("address", "address_id", "zipcode", "lat", "long", "media_url")
    assert {request[name] for name in location} == {""}  # one jurisdiction, no location kept
    assert await both(client, f"requests/{token}", "service_requests", **key) == [request]

    listed = await both(
        client, "requests", "service_requests", service_request_id=f"{reference},{other}", **key
    )
    assert [r["service_request_id"] for r in listed] == [reference, other]
    for entry in listed:
        check_request(entry)

    window = {"start_date": started.isoformat(), **key}
    recent = await both(client, "requests", "service_requests", **window)
    assert {reference, other} <= {r["service_request_id"] for r in recent}
    for entry in recent:
        check_request(entry)
        # Open311 shows whole seconds: a request filed in started's second shows before it.
        assert datetime.fromisoformat(entry["requested_datetime"]) >= started.replace(microsecond=0)
    closed = await both(client, "requests", "service_requests", status="closed", **window)
    assert reference not in {r["service_request_id"] for r in closed}
    elsewhere = {"service_code": OTHER_DEPARTMENT_SERVICE, **window}
    assert await both(client, "requests", "service_requests", **elsewhere) == []

    tokens = await both(client, f"tokens/{token}", "service_requests", **key)
    assert tokens == [{"service_request_id": reference, "token": token}]

    await stack.drain()
    messages = sms.ledger.to(world.resident.phone)
    assert any(reference in message["body"] for message in messages)
    assert any(other in message["body"] for message in messages)

    audit = await client.get(
        f"/v1/admin/partners/{world.full['client_id']}/audit", headers=world.admin.auth
    )
    actions = {(e["action"], e["outcome"], e["request_id"]) for e in audit.json()}
    assert (f"POST {BASE}/requests.json", 200, token) in actions


@pytest.mark.parametrize("fmt", FORMATS)
async def test_reads_need_the_read_scope(client: httpx.AsyncClient, world: World, fmt: str) -> None:
    reference = await file_request(client, world)
    token = await uuid_of(client, world, reference)
    key = {"api_key": world.writer["client_secret"]}
    writer = await client.post(f"{BASE}/requests.{fmt}", data=filing(world, **key))
    assert writer.status_code == 200, writer.text  # writing is this partner's scope
    for path in ("requests", f"requests/{reference}", f"tokens/{token}"):
        response = await client.get(f"{BASE}/{path}.{fmt}", params=key)
        assert check_errors(response, fmt, 403)[0]["code"] == "insufficient_scope"


@pytest.mark.parametrize("fmt", FORMATS)
async def test_requests_outside_the_partners_departments_are_404(
    client: httpx.AsyncClient, world: World, fmt: str
) -> None:
    reference = await file_request(client, world)  # visas, outside `narrow`'s residency
    token = await uuid_of(client, world, reference)
    key = {"api_key": world.narrow["client_secret"]}
    for path in (f"requests/{reference}", f"requests/{token}", f"tokens/{token}"):
        check_errors(await client.get(f"{BASE}/{path}.{fmt}", params=key), fmt, 404)
    listed = await client.get(
        f"{BASE}/requests.{fmt}", params={"service_request_id": reference, **key}
    )
    assert listed.status_code == 200
    assert parse(listed, fmt) in ([], {"service_requests": []})
    refused = await client.post(f"{BASE}/requests.{fmt}", data=filing(world, **key))
    assert check_errors(refused, fmt, 403)[0]["code"] == "department_out_of_scope"
