"""A resident's requests through the gateway: drafts, documents, submission, routing, tracking."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.support import files

DRAFT = {
    "department_code": "visas",
    "service_code": "final_exit",
    "description": "أرغب في إصدار تأشيرة خروج نهائي لانتهاء عقد العمل.",
}


@pytest.fixture
async def resident(client: httpx.AsyncClient, stack: Any, sms: Any) -> Any:
    """A freshly signed-in resident."""
    return await stack.sign_up(client, sms.ledger)


async def _draft(client: httpx.AsyncClient, resident: Any, **changes: str) -> dict[str, Any]:
    response = await client.post("/v1/requests", json={**DRAFT, **changes}, headers=resident.auth)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_catalog_is_public_and_complete(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/catalog")
    assert response.status_code == 200
    agencies = response.json()["agencies"]
    passports = next(a for a in agencies if a["code"] == "passports")
    assert passports["name_ar"]
    departments = passports["departments"]
    services = [s for d in departments for s in d["services"]]
    assert len(departments) >= 6
    assert len(services) >= 20
    assert all(s["response_time_hours"] > 0 and s["name_ar"] and s["name_en"] for s in services)


async def test_create_draft(client: httpx.AsyncClient, resident: Any) -> None:
    body = await _draft(client, resident)
    assert body["status"] == "draft"
    assert body["reference"] is None
    assert body["department"]["code"] == "visas"
    assert body["service"]["response_time_hours"] > 0
    assert body["timeline"][0]["type"] == "created"


async def test_draft_for_a_service_of_another_department_is_refused(
    client: httpx.AsyncClient, resident: Any
) -> None:
    response = await client.post(
        "/v1/requests", json={**DRAFT, "department_code": "residency"}, headers=resident.auth
    )
    assert response.status_code == 422
    assert response.json()["code"] == "unknown_service"
    assert response.json()["detail_ar"]


@pytest.mark.parametrize(
    ("description", "reason"),
    [("", "empty"), ("   ", "blank"), ("x" * 4001, "too long"), ("bad\x00text", "control")],
)
async def test_bad_descriptions_are_refused(
    client: httpx.AsyncClient, resident: Any, description: str, reason: str
) -> None:
    response = await client.post(
        "/v1/requests", json={**DRAFT, "description": description}, headers=resident.auth
    )
    assert response.status_code == 422, reason
    assert response.json()["errors"][0]["loc"][-1] == "description"


async def test_longest_description_is_accepted(client: httpx.AsyncClient, resident: Any) -> None:
    body = await _draft(client, resident, description="ع" * 4000)
    assert len(body["description"]) == 4000


async def test_status_cannot_be_set_by_the_client(client: httpx.AsyncClient, resident: Any) -> None:
    response = await client.post(
        "/v1/requests", json={**DRAFT, "status": "resolved"}, headers=resident.auth
    )
    assert response.status_code == 422


async def test_same_idempotency_key_returns_the_same_request(
    client: httpx.AsyncClient, resident: Any
) -> None:
    headers = {**resident.auth, "Idempotency-Key": str(uuid.uuid4())}
    first = await client.post("/v1/requests", json=DRAFT, headers=headers)
    second = await client.post("/v1/requests", json=DRAFT, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert second.headers["idempotent-replayed"] == "true"


async def test_idempotency_key_with_another_body_is_refused(
    client: httpx.AsyncClient, resident: Any
) -> None:
    headers = {**resident.auth, "Idempotency-Key": str(uuid.uuid4())}
    await client.post("/v1/requests", json=DRAFT, headers=headers)
    other = await client.post(
        "/v1/requests", json={**DRAFT, "description": "شيء آخر"}, headers=headers
    )
    assert other.status_code == 422
    assert other.json()["code"] == "idempotency_key_reused"


async def test_upload_records_size_and_sha256_and_stores_in_s3(
    client: httpx.AsyncClient, resident: Any, stack: Any
) -> None:
    draft = await _draft(client, resident)
    data = files.png()
    response = await client.post(
        f"/v1/requests/{draft['id']}/documents",
        files={"file": ("passport.PNG", data, "application/octet-stream")},
        headers=resident.auth,
    )
    assert response.status_code == 201, response.text
    document = response.json()
    assert document["content_type"] == "image/png"  # from the bytes; the name only agrees
    assert document["filename"] == "passport.png"
    assert document["size_bytes"] == len(data)
    assert document["sha256"] == hashlib.sha256(data).hexdigest()
    async with stack.sessions() as session:
        key = await session.scalar(
            text("SELECT storage_key FROM documents WHERE id = :id"), {"id": document["id"]}
        )
    assert await stack.intake.state.store.read(key) == data


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        (files.EXE, 415, "unsupported_document_type"),
        (b"GIF89a" + b"\x00" * 20, 415, "unsupported_document_type"),
        (b"", 422, "empty_document"),
    ],
)
async def test_bad_documents_are_refused(
    client: httpx.AsyncClient, resident: Any, payload: bytes, status: int, code: str
) -> None:
    draft = await _draft(client, resident)
    response = await client.post(
        f"/v1/requests/{draft['id']}/documents",
        files={"file": ("scan.pdf", payload, "application/pdf")},
        headers=resident.auth,
    )
    assert response.status_code == status
    assert response.json()["code"] == code


async def test_document_over_ten_megabytes_is_refused(
    client: httpx.AsyncClient, resident: Any
) -> None:
    draft = await _draft(client, resident)
    big = files.PDF + b"0" * (10 * 1024 * 1024)
    response = await client.post(
        f"/v1/requests/{draft['id']}/documents",
        files={"file": ("big.pdf", big, "application/pdf")},
        headers=resident.auth,
    )
    assert response.status_code == 413
    assert response.json()["code"] == "document_too_large"


async def test_sixth_document_is_refused(client: httpx.AsyncClient, resident: Any) -> None:
    draft = await _draft(client, resident)
    url = f"/v1/requests/{draft['id']}/documents"
    for index in range(5):
        response = await client.post(
            url,
            files={"file": (f"d{index}.pdf", files.PDF, "application/pdf")},
            headers=resident.auth,
        )
        assert response.status_code == 201
    response = await client.post(
        url, files={"file": ("d6.jpg", files.JPEG, "image/jpeg")}, headers=resident.auth
    )
    assert response.status_code == 409
    assert response.json()["code"] == "too_many_documents"


async def test_an_upload_sent_again_is_the_document_already_attached(
    client: httpx.AsyncClient, resident: Any
) -> None:
    """A retry after a lost answer attaches no second copy, even at the five-document limit;
    the same bytes under another name are another document."""
    draft = await _draft(client, resident)
    url = f"/v1/requests/{draft['id']}/documents"

    async def upload(name: str, data: bytes = files.PDF) -> httpx.Response:
        return await client.post(
            url, files={"file": (name, data, "application/pdf")}, headers=resident.auth
        )

    first, again = await upload("scan.pdf"), await upload("scan.pdf")
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    other = await upload("copy.pdf")
    assert other.status_code == 201
    assert other.json()["id"] != first.json()["id"]
    for index in range(3):
        assert (await upload(f"d{index}.pdf")).status_code == 201
    assert (await upload("scan.pdf")).json()["id"] == first.json()["id"]  # full, yet a repeat
    page = (await client.get(f"/v1/requests/{draft['id']}", headers=resident.auth)).json()
    assert len(page["documents"]) == 5
    assert [e["type"] for e in page["timeline"]].count("document_added") == 5


async def test_submit_gives_reference_routes_and_texts(
    client: httpx.AsyncClient, resident: Any, stack: Any, sms: Any
) -> None:
    draft = await _draft(client, resident)
    response = await client.post(f"/v1/requests/{draft['id']}/submit", headers=resident.auth)
    assert response.status_code == 200, response.text
    submitted = response.json()
    assert submitted["status"] == "submitted"
    assert submitted["reference"].startswith("TW-20")
    assert len(submitted["reference"]) == len("TW-2026-00001234")
    before = len(sms.ledger.to(resident.phone))
    await stack.drain()
    detail = (await client.get(f"/v1/requests/{draft['id']}", headers=resident.auth)).json()
    assert detail["status"] == "routed"
    assert [e["type"] for e in detail["timeline"]] == ["created", "submitted", "routed"]
    texts = [m["body"] for m in sms.ledger.wait_for(resident.phone, before + 2)[before:]]
    assert all(submitted["reference"] in body for body in texts)
    async with stack.sessions() as session:
        queue = await session.scalar(
            text("SELECT queue_code FROM request_assignments WHERE request_id = :id"),
            {"id": draft["id"]},
        )
    assert queue == "visas"
    assert await stack.pending_outbox() == 0


async def test_submitting_twice_is_a_conflict_naming_the_state(
    client: httpx.AsyncClient, resident: Any
) -> None:
    draft = await _draft(client, resident)
    await client.post(f"/v1/requests/{draft['id']}/submit", headers=resident.auth)
    again = await client.post(f"/v1/requests/{draft['id']}/submit", headers=resident.auth)
    assert again.status_code == 409
    assert again.json()["current_status"] == "submitted"


async def test_no_documents_after_submission(client: httpx.AsyncClient, resident: Any) -> None:
    draft = await _draft(client, resident)
    await client.post(f"/v1/requests/{draft['id']}/submit", headers=resident.auth)
    response = await client.post(
        f"/v1/requests/{draft['id']}/documents",
        files={"file": ("late.pdf", files.PDF, "application/pdf")},
        headers=resident.auth,
    )
    assert response.status_code == 409


async def test_another_residents_request_is_not_found(
    client: httpx.AsyncClient, resident: Any, stack: Any, sms: Any
) -> None:
    draft = await _draft(client, resident)
    other = await stack.sign_up(client, sms.ledger)
    for method, path in [
        ("GET", f"/v1/requests/{draft['id']}"),
        ("POST", f"/v1/requests/{draft['id']}/submit"),
    ]:
        response = await client.request(method, path, headers=other.auth)
        assert response.status_code == 404, path
        assert response.json()["code"] == "request_not_found"
    upload = await client.post(
        f"/v1/requests/{draft['id']}/documents",
        files={"file": ("x.pdf", files.PDF, "application/pdf")},
        headers=other.auth,
    )
    assert upload.status_code == 404
    listing = (await client.get("/v1/requests", headers=other.auth)).json()
    assert listing["items"] == []


async def test_unknown_and_malformed_ids_are_not_found_or_invalid(
    client: httpx.AsyncClient, resident: Any
) -> None:
    missing = await client.get(f"/v1/requests/{uuid.uuid4()}", headers=resident.auth)
    assert missing.status_code == 404
    malformed = await client.get("/v1/requests/not-a-uuid", headers=resident.auth)
    assert malformed.status_code == 422


async def test_list_is_newest_first_with_cursor_pages(
    client: httpx.AsyncClient, resident: Any
) -> None:
    created = [(await _draft(client, resident))["id"] for _ in range(5)]
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, str | int] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/v1/requests", params=params, headers=resident.auth)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(created))


async def test_bad_cursor_and_limit_are_refused(client: httpx.AsyncClient, resident: Any) -> None:
    bad_cursor = await client.get("/v1/requests?cursor=garbage!", headers=resident.auth)
    assert bad_cursor.status_code == 422
    assert bad_cursor.json()["code"] == "invalid_cursor"
    bad_limit = await client.get("/v1/requests?limit=1000", headers=resident.auth)
    assert bad_limit.status_code == 422


async def test_malformed_json_is_a_problem_not_a_crash(
    client: httpx.AsyncClient, resident: Any
) -> None:
    response = await client.post(
        "/v1/requests",
        content=b"{not json",
        headers={**resident.auth, "content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


async def test_forged_identity_header_is_ignored(client: httpx.AsyncClient, resident: Any) -> None:
    response = await client.get(
        "/v1/requests", headers={"x-tawasul-identity": "eyJzdWIiOiJ4In0.AAAA"}
    )
    assert response.status_code == 401


async def test_request_id_is_echoed_and_reaches_the_service(
    client: httpx.AsyncClient, resident: Any
) -> None:
    response = await client.get("/v1/requests", headers={**resident.auth, "x-request-id": "abc123"})
    assert response.headers["x-request-id"] == "abc123"
    generated = await client.get("/v1/requests", headers=resident.auth)
    assert len(generated.headers["x-request-id"]) == 32


async def test_the_request_page_reads_what_the_submission_wrote(
    client: httpx.AsyncClient, resident: Any
) -> None:
    """The page is read in one query; it must agree field for field with the written view."""
    draft = await _draft(client, resident)
    for name, data, kind in (
        ("a.pdf", files.PDF, "application/pdf"),
        ("b.png", files.png(), "image/png"),
    ):
        uploaded = await client.post(
            f"/v1/requests/{draft['id']}/documents",
            files={"file": (name, data, kind)},
            headers=resident.auth,
        )
        assert uploaded.status_code == 201, uploaded.text
    submitted = (
        await client.post(f"/v1/requests/{draft['id']}/submit", headers=resident.auth)
    ).json()
    page = (await client.get(f"/v1/requests/{draft['id']}", headers=resident.auth)).json()
    assert [d["filename"] for d in page["documents"]] == ["a.pdf", "b.png"]
    assert page["documents"] == submitted["documents"]
    assert page["timeline"][: len(submitted["timeline"])] == submitted["timeline"]
    submission = next(e for e in page["timeline"] if e["type"] == "submitted")
    assert submission["data"] == {"reference": submitted["reference"]}
    same = {
        k: v
        for k, v in page.items()
        if k not in ("timeline", "status", "status_label", "updated_at")
    }
    assert same == {k: submitted[k] for k in same}
