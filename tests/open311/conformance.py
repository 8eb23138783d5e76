"""Open311 GeoReport v2 as the conformance tests read it: the spec's fields, both formats
parsed alike, the checks each answer must pass, and a partner world to file requests in."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

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


async def partner(client: httpx.AsyncClient, admin: Any, **body: Any) -> dict[str, Any]:
    payload = {"name": "Open311 client", "scopes": [READ, WRITE], **body}
    response = await client.post("/v1/admin/partners", json=payload, headers=admin.auth)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


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
