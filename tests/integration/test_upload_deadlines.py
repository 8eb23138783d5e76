"""An upload that cannot be stored in time, or whose caller hangs up, stops there and leaves
nothing attached (issue 17): even the object S3 writes after intake gave up is deleted."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from starlette.types import Message

from intake_service.documents import deadline
from shared.identity import IDENTITY_HEADER, Identity, PrincipalKind, sign_identity
from shared.settings import S3Settings
from shared.storage import DocumentStore
from tests.support import files
from tests.support.buckets import documents_left_behind

DRAFT = {"department_code": "visas", "service_code": "final_exit", "description": "Final exit"}


class StalledStore(DocumentStore):
    """S3 whose puts hold boto3's thread until `gate` opens, as a slow S3 does; the thread
    then writes the object whether or not anyone still waits for it."""

    def __init__(self, settings: S3Settings) -> None:
        super().__init__(settings)
        self.gate = threading.Event()
        self.writing = threading.Event()
        self.written = threading.Event()
        self.deleted = asyncio.Event()

    async def put(self, key: str, data: bytes, *, content_type: str, sha256_b64: str) -> None:
        def write() -> None:
            self.writing.set()
            self.gate.wait(30)
            self._client.put_object(
                Bucket=self.bucket, Key=key, Body=data, ContentType=content_type
            )
            self.written.set()

        await asyncio.to_thread(write)

    async def delete(self, key: str) -> None:
        await super().delete(key)
        self.deleted.set()


@pytest.fixture
async def resident(client: httpx.AsyncClient, stack: Any, sms: Any) -> Any:
    """A signed-in resident."""
    return await stack.sign_up(client, sms.ledger)


@pytest.fixture
def stalled(stack: Any) -> Iterator[StalledStore]:
    """The in-process intake stores through a StalledStore for this test."""
    before = stack.intake.state.store
    store = StalledStore(stack.intake_settings)
    stack.intake.state.store = store
    yield store
    store.gate.set()  # a failed test must not leave a thread waiting
    stack.intake.state.store = before


async def _draft(client: httpx.AsyncClient, resident: Any) -> str:
    response = await client.post("/v1/requests", json=DRAFT, headers=resident.auth)
    assert response.status_code == 201, response.text
    request_id: str = response.json()["id"]
    return request_id


async def _upload(client: httpx.AsyncClient, resident: Any, request_id: str) -> httpx.Response:
    """A PDF uploaded to the draft; a test that hangs here fails after 30 s instead."""
    return await asyncio.wait_for(
        client.post(
            f"/v1/requests/{request_id}/documents",
            files={"file": ("scan.pdf", files.PDF, "application/pdf")},
            headers=resident.auth,
        ),
        30,
    )


async def _nothing_left_once_written(stack: Any, store: StalledStore, request_id: str) -> None:
    """Let S3 finish the put intake gave up on; then its object must go again."""
    store.gate.set()
    assert await asyncio.to_thread(store.written.wait, 30), "S3 never wrote the object"
    await asyncio.wait_for(store.deleted.wait(), 30)
    assert await documents_left_behind(stack, request_id) == (0, [])


async def test_an_upload_s3_cannot_store_in_time_answers_503_and_keeps_nothing(
    client: httpx.AsyncClient,
    resident: Any,
    stack: Any,
    stalled: StalledStore,
) -> None:
    request_id = await _draft(client, resident)
    # S3 is reached within milliseconds; the rest is room for a busy machine. The put is held
    # until intake has answered, so only the deadline can end the upload.
    within = 2.0
    settings = stack.intake.state.settings
    stack.intake.state.settings = settings.model_copy(update={"upload_timeout": within})
    try:
        started = asyncio.get_running_loop().time()
        response = await _upload(client, resident, request_id)
        elapsed = asyncio.get_running_loop().time() - started
    finally:
        stack.intake.state.settings = settings
    assert stalled.writing.is_set(), f"the deadline passed before S3 was called: {elapsed} s"
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "upload_timeout"
    assert response.headers["retry-after"] == "5"
    assert within <= elapsed < within + 5, elapsed
    await _nothing_left_once_written(stack, stalled, request_id)


async def test_an_upload_whose_caller_hangs_up_stops_and_keeps_nothing(
    client: httpx.AsyncClient, resident: Any, stack: Any, stalled: StalledStore
) -> None:
    request_id = await _draft(client, resident)
    async with stack.sessions() as session:
        resident_id = await session.scalar(
            text("SELECT resident_id FROM requests WHERE id = :id"), {"id": request_id}
        )
    secret = stack.intake_settings.internal_auth_secret.get_secret_value().encode()
    identity = Identity(subject=str(resident_id), kind=PrincipalKind.resident)
    upload = httpx.Request(
        "POST",
        f"http://intake/v1/requests/{request_id}/documents",
        files={"file": ("scan.pdf", files.PDF, "application/pdf")},
        headers={IDENTITY_HEADER: sign_identity(identity, secret)},
    )
    body = upload.read()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": upload.url.path,
        "raw_path": upload.url.raw_path,
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower(), v) for k, v in upload.headers.raw],
        "client": ("10.0.0.2", 40000),
        "server": ("intake", 80),
    }
    hang_up = asyncio.Event()
    delivered = False
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await hang_up.wait()  # as the gateway closing the connection at its deadline
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    call = asyncio.create_task(stack.intake(scope, receive, send))
    assert await asyncio.to_thread(stalled.writing.wait, 10), f"intake never reached S3: {sent}"
    hang_up.set()
    await asyncio.wait_for(call, 5)
    assert sent[0]["status"] == 499
    await _nothing_left_once_written(stack, stalled, request_id)


async def test_an_upload_whose_record_is_held_past_its_bound_answers_503_and_keeps_nothing(
    client: httpx.AsyncClient, resident: Any, stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    request_id = await _draft(client, resident)
    # Well under lock_timeout (3 s), so only the bound can end the wait for the lock.
    monkeypatch.setattr(deadline, "RECORD_BOUND", 0.5)
    async with stack.sessions() as session, session.begin():
        await session.execute(
            text("SELECT id FROM requests WHERE id = :id FOR UPDATE"), {"id": request_id}
        )
        # The lock is held until intake has answered.
        response = await _upload(client, resident, request_id)
    assert response.status_code == 503, response.text
    assert response.json()["code"] == "upload_timeout"
    assert response.headers["retry-after"] == "5"
    assert await documents_left_behind(stack, request_id) == (0, [])
