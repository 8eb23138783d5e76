"""Downloads (checklist #39): only a clean document, only to staff of the request's department
or to its own resident, always as an RFC 6266 attachment the browser must not sniff."""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from sqlalchemy import text

from devstack.clamd import Clamd
from tests.support import files

NAME = "جواز السفر.pdf"


@dataclass
class Filed:
    """A routed request with one document, and an officer of its department."""

    request_id: str
    document_id: str
    officer: Any
    resident: Any

    @property
    def url(self) -> str:
        """The document's download path."""
        return f"/v1/staff/requests/{self.request_id}/documents/{self.document_id}"


async def _file(client: httpx.AsyncClient, stack: Any, sms: Any, admin: Any) -> Filed:
    resident = await stack.sign_up(client, sms.ledger)
    draft = await client.post(
        "/v1/requests",
        json={"department_code": "visas", "service_code": "final_exit", "description": "طلب"},
        headers=resident.auth,
    )
    request_id = draft.json()["id"]
    upload = await client.post(
        f"/v1/requests/{request_id}/documents",
        files={"file": (NAME, files.PDF, "application/pdf")},
        headers=resident.auth,
    )
    assert upload.status_code == 201, upload.text
    submitted = await client.post(f"/v1/requests/{request_id}/submit", headers=resident.auth)
    assert submitted.status_code == 200, submitted.text
    await stack.drain()
    officer = await stack.staff(client, sms.ledger, admin, "officer", ["visas"])
    return Filed(request_id, upload.json()["id"], officer, resident)


@pytest.fixture
async def clean(
    client: httpx.AsyncClient, stack: Any, sms: Any, admin: Any, scanning: Clamd
) -> Filed:
    """A document clamd called clean."""
    return await _file(client, stack, sms, admin)


async def test_officer_downloads_a_clean_document_as_an_attachment(
    client: httpx.AsyncClient, clean: Filed
) -> None:
    response = await client.get(clean.url, headers=clean.officer.auth)
    assert response.status_code == 200, response.text
    assert response.content == files.PDF
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "private, no-store"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="document.pdf"; ')
    assert unquote(disposition.split("filename*=UTF-8''", 1)[1]) == NAME


async def test_the_staff_page_says_whether_a_document_is_clean(
    client: httpx.AsyncClient, clean: Filed
) -> None:
    page = await client.get(f"/v1/staff/requests/{clean.request_id}", headers=clean.officer.auth)
    assert [d["scan_status"] for d in page.json()["documents"]] == ["clean"]


@pytest.mark.parametrize("status", ["not_scanned", "infected", "failed"])
async def test_a_document_that_is_not_clean_is_never_served(
    client: httpx.AsyncClient, stack: Any, clean: Filed, status: str
) -> None:
    async with stack.sessions() as session, session.begin():
        await session.execute(
            text("UPDATE documents SET scan_status = :s WHERE id = :id"),
            {"s": status, "id": clean.document_id},
        )
    response = await client.get(clean.url, headers=clean.officer.auth)
    assert response.status_code == 409
    assert response.json()["code"] == "document_not_downloadable"
    assert response.json()["scan_status"] == status
    assert response.json()["detail_ar"]
    assert files.PDF not in response.content


async def test_an_upload_nobody_scanned_cannot_be_downloaded(
    client: httpx.AsyncClient, stack: Any, sms: Any, admin: Any
) -> None:
    filed = await _file(client, stack, sms, admin)  # no scanner, as in development
    response = await client.get(filed.url, headers=filed.officer.auth)
    assert response.status_code == 409
    assert response.json()["scan_status"] == "not_scanned"


async def test_another_departments_document_answers_like_a_missing_one(
    client: httpx.AsyncClient, stack: Any, sms: Any, admin: Any, clean: Filed
) -> None:
    outsider = await stack.staff(client, sms.ledger, admin, "supervisor", ["violations"])
    foreign = await client.get(clean.url, headers=outsider.auth)
    missing_request = await client.get(
        f"/v1/staff/requests/{uuid.uuid4()}/documents/{clean.document_id}",
        headers=outsider.auth,
    )
    assert foreign.status_code == missing_request.status_code == 404
    assert foreign.json()["code"] == missing_request.json()["code"] == "request_not_found"


async def test_a_document_is_reached_only_through_its_own_request(
    client: httpx.AsyncClient, stack: Any, sms: Any, admin: Any, clean: Filed
) -> None:
    other = await _file(client, stack, sms, admin)
    crossed = f"/v1/staff/requests/{other.request_id}/documents/{clean.document_id}"
    response = await client.get(crossed, headers=clean.officer.auth)
    missing = await client.get(
        f"/v1/staff/requests/{other.request_id}/documents/{uuid.uuid4()}",
        headers=clean.officer.auth,
    )
    assert response.status_code == missing.status_code == 404
    assert response.json()["code"] == missing.json()["code"] == "document_not_found"


async def test_residents_cannot_use_the_staff_download(
    client: httpx.AsyncClient, stack: Any, sms: Any, clean: Filed
) -> None:
    resident = await stack.sign_up(client, sms.ledger)
    assert (await client.get(clean.url, headers=resident.auth)).status_code == 403


async def test_bytes_changed_in_storage_are_never_served(
    client: httpx.AsyncClient, stack: Any, clean: Filed
) -> None:
    async with stack.sessions() as session:
        key = await session.scalar(
            text("SELECT storage_key FROM documents WHERE id = :id"), {"id": clean.document_id}
        )
    swapped = b"%PDF-1.4 swapped"
    checksum = base64.b64encode(hashlib.sha256(swapped).digest()).decode()
    await stack.intake.state.store.put(
        key, swapped, content_type="application/pdf", sha256_b64=checksum
    )
    response = await client.get(clean.url, headers=clean.officer.auth)
    assert response.status_code == 500
    assert response.json()["code"] == "document_integrity_failed"


async def test_residents_download_their_own_clean_document(
    client: httpx.AsyncClient, clean: Filed
) -> None:
    url = f"/v1/requests/{clean.request_id}/documents/{clean.document_id}"
    response = await client.get(url, headers=clean.resident.auth)
    assert response.status_code == 200, response.text
    assert response.content == files.PDF
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-disposition"].startswith("attachment; ")


async def test_another_residents_document_answers_like_a_missing_one(
    client: httpx.AsyncClient, stack: Any, sms: Any, clean: Filed
) -> None:
    stranger = await stack.sign_up(client, sms.ledger)
    url = f"/v1/requests/{clean.request_id}/documents/{clean.document_id}"
    foreign = await client.get(url, headers=stranger.auth)
    missing = await client.get(
        f"/v1/requests/{uuid.uuid4()}/documents/{clean.document_id}", headers=stranger.auth
    )
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["code"] == missing.json()["code"]
