"""Uploads scanned by a real clamd (checklist #37): infected bytes are refused and never
stored; a scanner that is down, hung or over its limits fails closed with 503."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from devstack.clamd import Clamd
from intake_service.documents.errors import ScannerUnavailable
from intake_service.documents.scanner import ClamdScanner
from tests.support import files
from tests.support.buckets import documents_left_behind

DRAFT = {"department_code": "visas", "service_code": "final_exit", "description": "Final exit"}


@pytest.fixture
async def resident(client: httpx.AsyncClient, stack: Any, sms: Any) -> Any:
    """A signed-in resident."""
    return await stack.sign_up(client, sms.ledger)


async def _draft(client: httpx.AsyncClient, resident: Any) -> str:
    response = await client.post("/v1/requests", json=DRAFT, headers=resident.auth)
    assert response.status_code == 201, response.text
    request_id: str = response.json()["id"]
    return request_id


async def _upload(
    client: httpx.AsyncClient, resident: Any, request_id: str, data: bytes
) -> httpx.Response:
    return await client.post(
        f"/v1/requests/{request_id}/documents",
        files={"file": ("scan.pdf", data, "application/pdf")},
        headers=resident.auth,
    )


async def test_clean_pdf_is_recorded_as_clean(
    client: httpx.AsyncClient, resident: Any, stack: Any, scanning: Clamd
) -> None:
    request_id = await _draft(client, resident)
    response = await _upload(client, resident, request_id, files.PDF)
    assert response.status_code == 201, response.text
    assert response.json()["scan_status"] == "clean"
    async with stack.sessions() as session:
        status, scanned_at = (
            await session.execute(
                text("SELECT scan_status, scanned_at FROM documents WHERE id = :id"),
                {"id": response.json()["id"]},
            )
        ).one()
    assert status == "clean"
    assert scanned_at is not None


async def test_eicar_is_refused_and_nothing_is_kept(
    client: httpx.AsyncClient, resident: Any, stack: Any, scanning: Clamd
) -> None:
    request_id = await _draft(client, resident)
    response = await _upload(client, resident, request_id, files.EICAR_PDF)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "document_rejected"
    assert body["detail"]
    assert body["detail_ar"]
    assert "EICAR" not in response.text  # the signature's name is for our logs only
    assert await documents_left_behind(stack, request_id) == (0, [])


async def test_killed_clamd_refuses_uploads_with_503_and_keeps_nothing(
    client: httpx.AsyncClient, resident: Any, stack: Any, scanning: Clamd
) -> None:
    request_id = await _draft(client, resident)
    with Clamd() as doomed:
        stack.intake.state.scanner = ClamdScanner(doomed.address, timeout=5)
        doomed.kill()
        response = await _upload(client, resident, request_id, files.PDF)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"
    assert response.json()["code"] == "scanner_unavailable"
    assert await documents_left_behind(stack, request_id) == (0, [])


async def test_clamd_over_its_stream_limit_fails_closed(
    client: httpx.AsyncClient, resident: Any, stack: Any, scanning: Clamd
) -> None:
    request_id = await _draft(client, resident)
    big = b"%PDF-1.4\n%" + b"a" * (2 * 1024 * 1024) + b"\n" + files.PDF[len(b"%PDF-1.4\n") :]
    with Clamd(stream_max_length="1M") as small:
        stack.intake.state.scanner = ClamdScanner(small.address, timeout=5)
        response = await _upload(client, resident, request_id, big)
    assert response.status_code == 503, response.text
    assert await documents_left_behind(stack, request_id) == (0, [])


async def test_a_scanner_that_never_answers_times_out(tmp_path: Path) -> None:
    path = str(tmp_path / "hung.sock")

    done = asyncio.Event()

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # everything until the client gives up, and never an answer
        writer.close()
        await writer.wait_closed()
        done.set()

    server = await asyncio.start_unix_server(swallow, path=path)
    try:
        started = asyncio.get_running_loop().time()
        with pytest.raises(ScannerUnavailable):
            await ClamdScanner(path, timeout=0.3).scan(files.PDF)
        assert asyncio.get_running_loop().time() - started < 2
        await asyncio.wait_for(done.wait(), 5)
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(
    ("name", "declared", "data", "status", "code"),
    [
        ("photo.pdf", "application/pdf", files.png(), 415, "document_type_mismatch"),
        ("scan.pdf", "image/png", files.PDF, 415, "document_type_mismatch"),
        ("scan.pdf.exe", "application/pdf", files.PDF, 415, "document_type_mismatch"),
        ("../../scan.pdf", "application/pdf", files.PDF, 422, "hostile_filename"),
        ("\u202efdp.exe.pdf", "application/pdf", files.PDF, 422, "hostile_filename"),
        (
            "scan.pdf",
            "application/pdf",
            files.PDF + b"PK\x05\x06" + b"\x00" * 18,
            422,
            "document_polyglot",
        ),
        (
            "scan.pdf",
            "application/pdf",
            files.PDF.replace(b"/Root", b"/OpenAction 1 0 R /Root"),
            422,
            "pdf_active_content",
        ),
        # Issue 17: a script in an object stream behind a padded dictionary, typed or not.
        ("scan.pdf", "application/pdf", files.pdf_with_hidden_script(), 422, "pdf_active_content"),
        (
            "scan.pdf",
            "application/pdf",
            files.pdf_with_hidden_script(typed=False),
            422,
            "pdf_active_content",
        ),
        (
            "scan.pdf",
            "application/pdf",
            files.PDF.replace(b"/Root", b"/Encrypt 1 0 R /Root"),
            422,
            "pdf_encrypted",
        ),
        (
            "photo.png",
            "image/png",
            files.png().replace(
                b"\x00\x00\x00\x01\x00\x00\x00\x01", b"\x00\x00\xc3\x50\x00\x00\xc3\x50", 1
            ),
            422,
            "image_dimensions_too_large",
        ),
    ],
)
async def test_content_rules_answer_their_own_problem(
    client: httpx.AsyncClient,
    resident: Any,
    stack: Any,
    scanning: Clamd,
    name: str,
    declared: str,
    data: bytes,
    status: int,
    code: str,
) -> None:
    request_id = await _draft(client, resident)
    response = await client.post(
        f"/v1/requests/{request_id}/documents",
        files={"file": (name, data, declared)},
        headers=resident.auth,
    )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code
    assert body["type"].endswith(code.replace("_", "-"))
    assert body["detail"]
    assert body["detail_ar"]
    assert await documents_left_behind(stack, request_id) == (0, [])


async def test_without_a_scanner_uploads_are_recorded_not_scanned(
    client: httpx.AsyncClient, resident: Any
) -> None:
    request_id = await _draft(client, resident)
    response = await _upload(client, resident, request_id, files.PDF)
    assert response.status_code == 201
    assert response.json()["scan_status"] == "not_scanned"
