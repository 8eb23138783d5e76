"""Open311 GeoReport v2 conformance: every endpoint, in XML and JSON, checked against the spec."""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

BASE = "/open311/v2"
FORMATS = ("json", "xml")
SERVICE = "visas.final_exit"
OTHER_DEPARTMENT_SERVICE = "residency.renew_iqama"
READ, WRITE = "requests:read", "requests:write"

# The standard's element names: each list and the element its items take in XML.
LIST_ITEMS = {
    "services": "service",
    "attributes": "attribute",
    "values": "value",
    "service_requests": "request",
    "endpoints": "endpoint",
    "formats": "format",
    "errors": "error",
}
SERVICE_FIELDS = {
    "service_code",
    "service_name",
    "description",
    "metadata",
    "type",
    "keywords",
    "group",
}
ATTRIBUTE_FIELDS = {
    "variable",
    "code",
    "datatype",
    "required",
    "datatype_description",
    "order",
    "description",
    "values",
}
DATATYPES = {"string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"}
REQUEST_FIELDS = {
    "service_request_id",
    "status",
    "service_name",
    "service_code",
    "description",
    "requested_datetime",
    "updated_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}
OPTIONAL_REQUEST_FIELDS = {
    "status_notes",
    "agency_responsible",
    "service_notice",
    "expected_datetime",
}
W3C = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
REFERENCE = re.compile(r"^TW-\d{4}-\d{8}$")


# ---- The specification's rules, as small checks ----------------------------------------------


def parse(response: httpx.Response, fmt: str) -> Any:
    """The body as data: JSON as is, XML (declared, UTF-8) in the JSON shape, all text."""
    if fmt == "json":
        assert response.headers["content-type"] == "application/json; charset=utf-8"
        return response.json()
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    assert response.text.startswith('<?xml version="1.0" encoding="utf-8"?>')
    root = ET.fromstring(response.content)  # noqa: S314 - our own server's answer
    return {root.tag: from_xml(root)}


def from_xml(element: ET.Element) -> Any:
    """Lists by the standard's element names, records as dicts, leaves as text."""
    if element.tag in LIST_ITEMS:
        assert all(child.tag == LIST_ITEMS[element.tag] for child in element), element.tag
        return [from_xml(child) for child in element]
    if len(element):
        return {child.tag: from_xml(child) for child in element}
    return element.text or ""


def as_text(value: Any) -> Any:
    """JSON as XML would carry it: booleans as true/false, numbers and null as text."""
    if isinstance(value, dict):
        return {key: as_text(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_text(item) for item in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


async def both(client: httpx.AsyncClient, path: str, root: str, **params: str) -> Any:
    """GET path in both formats; they must carry the same data. Returns the JSON."""
    as_json = await client.get(f"{BASE}/{path}.json", params=params)
    as_xml = await client.get(f"{BASE}/{path}.xml", params=params)
    assert as_json.status_code == as_xml.status_code == 200, (as_json.text, as_xml.text)
    data = parse(as_json, "json")
    assert parse(as_xml, "xml") == {root: as_text(data)}
    return data


def check_errors(response: httpx.Response, fmt: str, status: int) -> list[dict[str, str]]:
    """`errors[] → error{code, description}` with the HTTP status the standard names."""
    assert response.status_code == status, response.text
    data = parse(response, fmt)
    errors = data if fmt == "json" else data["errors"]
    assert isinstance(errors, list)
    assert errors
    for error in errors:
        assert set(error) == {"code", "description"}
        assert isinstance(error["code"], str)
        assert error["code"]
        assert isinstance(error["description"], str)
        assert error["description"]
    return list(errors)


def check_discovery(data: dict[str, Any]) -> None:
    """changeset, contact, key_service and endpoints{specification, url, …, formats}."""
    assert {"changeset", "contact", "key_service", "endpoints"} <= set(data)
    assert W3C.match(data["changeset"])
    for endpoint in data["endpoints"]:
        assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
        assert endpoint["url"].endswith(BASE)
        assert endpoint["type"] in ("production", "test")
        assert W3C.match(endpoint["changeset"])
        assert "text/xml" in endpoint["formats"]  # XML is the one required format
        assert "application/json" in endpoint["formats"]


def check_service(service: dict[str, Any]) -> None:
    """Every field of the service list, with the types and values the standard allows."""
    assert set(service) == SERVICE_FIELDS
    assert re.fullmatch(r"[a-z0-9_]+\.[a-z0-9_]+", service["service_code"])
    for name in ("service_name", "description", "group"):
        assert isinstance(service[name], str)
        assert service[name].strip()
    assert isinstance(service["metadata"], bool)
    assert service["type"] in ("realtime", "batch", "blackbox")
    assert isinstance(service["keywords"], str)  # a comma list, possibly empty


def check_definition(definition: dict[str, Any], code: str) -> None:
    """service_code, then attributes with their 8 fields and unique positive `order`."""
    assert set(definition) == {"service_code", "attributes"}
    assert definition["service_code"] == code
    orders = []
    for attribute in definition["attributes"]:
        assert set(attribute) == ATTRIBUTE_FIELDS
        assert isinstance(attribute["variable"], bool)
        assert isinstance(attribute["required"], bool)
        assert attribute["datatype"] in DATATYPES
        assert isinstance(attribute["order"], int)
        assert attribute["order"] > 0
        assert isinstance(attribute["description"], str)
        assert attribute["description"]
        assert isinstance(attribute["datatype_description"], str)
        assert isinstance(attribute["values"], list)
        if attribute["datatype"].endswith("valuelist"):
            assert attribute["values"]
            assert all(set(value) == {"key", "name"} for value in attribute["values"])
        else:
            assert attribute["values"] == []
        orders.append(attribute["order"])
    assert len(orders) == len(set(orders))


def check_request(request: dict[str, Any]) -> None:
    """A service request with every required field; status open/closed; W3C datetimes."""
    assert REQUEST_FIELDS <= set(request) <= REQUEST_FIELDS | OPTIONAL_REQUEST_FIELDS
    assert REFERENCE.match(request["service_request_id"])
    assert request["status"] in ("open", "closed")
    for name in ("requested_datetime", "updated_datetime", "expected_datetime"):
        if name in request:
            assert W3C.match(request[name]), request[name]


def check_w3c_recent(text: str) -> None:
    """A W3C datetime with a zone, within the last few minutes."""
    assert W3C.match(text)
    assert datetime.now(UTC) - datetime.fromisoformat(text) < timedelta(minutes=5)


# ---- Who is calling -----------------------------------------------------------------------


@dataclass
class World:
    """An admin, a resident, and partner keys with different scopes and departments."""

    admin: Any
    resident: Any
    full: dict[str, Any]  # read+write over the whole passports agency
    writer: dict[str, Any]  # write only
    narrow: dict[str, Any]  # read+write, residency department only


async def _partner(client: httpx.AsyncClient, admin: Any, **body: Any) -> dict[str, Any]:
    payload = {"name": "Open311 client", "scopes": [READ, WRITE], **body}
    response = await client.post("/v1/admin/partners", json=payload, headers=admin.auth)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


@pytest.fixture(scope="module")
async def world(stack: Any, sms: Any) -> World:
    """Signed up and registered once for the module."""
    async with stack.gateway_client() as client:
        admin = await stack.admin(client, sms.ledger)
        return World(
            admin=admin,
            resident=await stack.sign_up(client, sms.ledger),
            full=await _partner(client, admin, agencies=["passports"]),
            writer=await _partner(client, admin, scopes=[WRITE], agencies=["passports"]),
            narrow=await _partner(client, admin, departments=["residency"]),
        )


def filing(world: World, **override: str) -> dict[str, str]:
    """A POST requests body with the standard's names (location given, and ignored)."""
    return {
        "api_key": world.full["client_secret"],
        "service_code": SERVICE,
        "attribute[national_id]": world.resident.national_id,
        "phone": world.resident.phone,
        "description": "Final exit for my worker, filed by the ministry system.\nSecond line.",
        "lat": "24.7136",
        "long": "46.6753",
        **override,
    }


async def file_request(client: httpx.AsyncClient, world: World, fmt: str = "json") -> str:
    """POST requests; the answer carries the service_request_id (our reference)."""
    response = await client.post(f"{BASE}/requests.{fmt}", data=filing(world))
    assert response.status_code == 200, response.text
    data = parse(response, fmt)
    requests = data if fmt == "json" else data["service_requests"]
    assert len(requests) == 1
    assert set(requests[0]) <= {"service_request_id", "token", "service_notice", "account_id"}
    reference: str = requests[0]["service_request_id"]
    assert REFERENCE.match(reference)
    assert reference in requests[0]["service_notice"]
    return reference


async def uuid_of(client: httpx.AsyncClient, world: World, reference: str) -> str:
    """The request's UUID (the Open311 token), from the resident's own list."""
    response = await client.get("/v1/requests", headers=world.resident.auth)
    assert response.status_code == 200, response.text
    ids = [item["id"] for item in response.json()["items"] if item["reference"] == reference]
    assert len(ids) == 1, "the resident sees the request the partner filed"
    return str(ids[0])


# ---- Tests ------------------------------------------------------------------------------------


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
