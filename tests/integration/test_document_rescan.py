"""The re-scan job (checklist #37): documents nobody scanned get clamd's verdict later, from
the bytes recorded at upload; infected ones are deleted from S3, and while clamd is down
nothing changes and the job fails so that the next run tries again."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from devstack.clamd import Clamd
from intake_service.documents import rescan
from intake_service.documents.scanner import ClamdScanner
from tests.conftest import ROOT
from tests.support import files

DRAFT = {"department_code": "visas", "service_code": "final_exit", "description": "Final exit"}
OTHER_PDF = files.PDF.replace(b"%PDF-1.4", b"%PDF-1.5", 1)


@pytest.fixture
async def resident(client: httpx.AsyncClient, stack: Any, sms: Any) -> Any:
    return await stack.sign_up(client, sms.ledger)


async def _unscanned(client: httpx.AsyncClient, resident: Any, *contents: bytes) -> list[str]:
    """Documents uploaded while intake has no scanner (as in development, or before 0010)."""
    response = await client.post("/v1/requests", json=DRAFT, headers=resident.auth)
    assert response.status_code == 201, response.text
    request_id = response.json()["id"]
    ids = []
    for number, data in enumerate(contents):
        response = await client.post(
            f"/v1/requests/{request_id}/documents",
            files={"file": (f"scan{number}.pdf", data, "application/pdf")},
            headers=resident.auth,
        )
        assert response.status_code == 201, response.text
        assert response.json()["scan_status"] == "not_scanned"
        ids.append(response.json()["id"])
    return ids


async def _status(stack: Any, document_id: str) -> tuple[str, Any, str]:
    async with stack.sessions() as session:
        row = (
            await session.execute(
                text("SELECT scan_status, scanned_at, storage_key FROM documents WHERE id = :id"),
                {"id": document_id},
            )
        ).one()
    return row[0], row[1], row[2]


async def _exists(stack: Any, key: str) -> bool:
    store = stack.intake.state.store
    listing = await asyncio.to_thread(
        store._client.list_objects_v2, Bucket=store.bucket, Prefix=key
    )
    return bool(listing.get("Contents"))


async def test_unscanned_documents_get_clamds_verdict(
    client: httpx.AsyncClient, resident: Any, stack: Any, clamd: Clamd
) -> None:
    clean, infected, missing, altered = await _unscanned(
        client, resident, files.PDF, files.EICAR_PDF, OTHER_PDF, files.PDF + b"\n%x"
    )
    store = stack.intake.state.store
    await store.delete((await _status(stack, missing))[2])
    altered_key = (await _status(stack, altered))[2]
    await asyncio.to_thread(
        store._client.put_object, Bucket=store.bucket, Key=altered_key, Body=b"%PDF-1.4 other"
    )
    download = f"/v1/requests/{await _request_of(stack, clean)}/documents/{clean}"
    assert (await client.get(download, headers=resident.auth)).status_code == 409

    outcome = await rescan.rescan(
        stack.intake.state.db, store, ClamdScanner(clamd.address, timeout=10)
    )

    assert outcome.clean >= 1
    assert outcome.infected >= 1
    assert outcome.failed >= 2
    assert not outcome.scanner_unavailable
    assert not outcome.remaining
    status, scanned_at, _ = await _status(stack, clean)
    assert (status, scanned_at is not None) == ("clean", True)
    status, _, key = await _status(stack, infected)
    assert status == "infected"
    assert not await _exists(stack, key)  # an infected object does not stay in the bucket
    assert (await _status(stack, missing))[0] == "failed"
    assert (await _status(stack, altered))[0] == "failed"  # not the bytes that were uploaded
    response = await client.get(download, headers=resident.auth)
    assert response.status_code == 200, response.text
    assert response.content == files.PDF
    infected_download = download.replace(clean, infected)
    assert (await client.get(infected_download, headers=resident.auth)).status_code == 409
    # Nothing is left, so a second run finds nothing.
    again = await rescan.rescan(
        stack.intake.state.db, store, ClamdScanner(clamd.address, timeout=10)
    )
    assert (again.clean, again.infected, again.failed) == (0, 0, 0)


async def test_while_clamd_is_down_nothing_changes_and_the_run_says_so(
    client: httpx.AsyncClient, resident: Any, stack: Any
) -> None:
    (document,) = await _unscanned(client, resident, files.PDF)
    with Clamd() as doomed:
        doomed.kill()
        outcome = await rescan.rescan(
            stack.intake.state.db,
            stack.intake.state.store,
            ClamdScanner(doomed.address, timeout=5),
        )
    assert outcome.scanner_unavailable
    assert outcome.remaining
    assert (await _status(stack, document))[:2] == ("not_scanned", None)


async def test_a_run_stops_taking_documents_when_its_budget_is_spent(
    client: httpx.AsyncClient, resident: Any, stack: Any, clamd: Clamd
) -> None:
    (document,) = await _unscanned(client, resident, files.PDF)
    outcome = await rescan.rescan(
        stack.intake.state.db,
        stack.intake.state.store,
        ClamdScanner(clamd.address, timeout=10),
        budget_seconds=0,
    )
    assert outcome.remaining
    assert outcome.clean == 0
    assert (await _status(stack, document))[0] == "not_scanned"


def test_the_command_refuses_to_run_without_a_scanner(stack: Any) -> None:
    env = {**os.environ, **stack.backing.env()}
    env.pop("CLAMD_ADDRESS", None)
    done = subprocess.run(
        [sys.executable, "-m", "intake_service.documents.rescan"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "CLAMD_ADDRESS is not set" in done.stderr


async def test_the_command_scans_and_exits_zero(
    client: httpx.AsyncClient, resident: Any, stack: Any, clamd: Clamd
) -> None:
    (document,) = await _unscanned(client, resident, files.PDF)
    env = {**os.environ, **stack.backing.env(), "CLAMD_ADDRESS": clamd.address}
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "intake_service.documents.rescan", "--budget-seconds", "60"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert (await _status(stack, document))[0] == "clean"


async def _request_of(stack: Any, document_id: str) -> uuid.UUID:
    async with stack.sessions() as session:
        request_id: uuid.UUID = await session.scalar(
            text("SELECT request_id FROM documents WHERE id = :id"), {"id": document_id}
        )
    return request_id
