"""A frozen clamd (SIGSTOP) through the gateway (issue 17): the scan gives up before intake
answers, intake answers before the gateway gives up, and the upload leaves nothing attached.
Should the gateway give up first all the same, intake stops the upload when it hangs up.

The stack runs the chain (deploy/README.md, "Deadlines") with the scan at a tenth of its
default, so the test takes seconds, and intake's upload and the gateway well above it, so a
4-MiB upload on a busy machine still ends at the scan's deadline. The defaults' own order is
checked in tests/deploy/test_deadlines.py.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import boto3
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from devstack.clamd import Clamd
from intake_service.documents.deadline import RECORD_BOUND
from intake_service.settings import IntakeSettings
from tests.support import files
from tests.support.live import LiveStack, SignedIn, live_stack, sign_in, wait_until
from tests.support.sms_receiver import SmsReceiver
from tests.support.sync import run_sync

pytestmark = pytest.mark.e2e

SCALE = 10
UPLOAD_ROUTE = "/v1/requests/{request_id}/documents"
# Bigger than a socket's buffers: writing it to a frozen clamd blocks, as a real upload does.
LARGE_PDF = b"%PDF-1.4\n%" + b"a" * (4 * 1024 * 1024) + b"\n" + files.PDF[len(b"%PDF-1.4\n") :]


def _default(settings: type[Any], field: str) -> float:
    value: float = settings.model_fields[field].default
    return value


SCAN = _default(IntakeSettings, "clamd_timeout") / SCALE
UPLOAD = SCAN + 4  # room for the upload's checks before the scan, however busy the machine
DEADLINES = {
    "UPSTREAM_TIMEOUT": UPLOAD + RECORD_BOUND + 1,  # above the upload and its record
    "UPLOAD_TIMEOUT": UPLOAD,
    "CLAMD_TIMEOUT": SCAN,
}
# Out of order on purpose: the gateway gives up while intake still waits on the scan.
GATEWAY_FIRST = {
    "UPSTREAM_TIMEOUT": 5.0,
    "UPLOAD_TIMEOUT": _default(IntakeSettings, "upload_timeout"),
    "CLAMD_TIMEOUT": _default(IntakeSettings, "clamd_timeout"),
}


@pytest.fixture(scope="module")
def clamd() -> Iterator[Clamd]:
    """A clamd this module may freeze."""
    with Clamd() as running:
        yield running


@contextmanager
def _stack(
    backing: Any, sms: SmsReceiver, clamd: Clamd, logs: Any, deadlines: Mapping[str, float]
) -> Iterator[LiveStack]:
    """Every process, intake scanning through `clamd`, on these deadlines."""
    env = {
        **backing.env(),
        "SMS_PROVIDER": "webhook",
        "SMS_WEBHOOK_URL": sms.url,
        "CLAMD_ADDRESS": clamd.address,
        **{name: str(value) for name, value in deadlines.items()},
    }
    with live_stack(env, logs) as running:
        yield running


@pytest.fixture
def stack(backing: Any, sms: SmsReceiver, clamd: Clamd, tmp_path: Any) -> Iterator[LiveStack]:
    """The whole chain at a tenth of its defaults."""
    with _stack(backing, sms, clamd, tmp_path, DEADLINES) as running:
        yield running


@pytest.fixture
def late_stack(backing: Any, sms: SmsReceiver, clamd: Clamd, tmp_path: Any) -> Iterator[LiveStack]:
    """A gateway that gives up before intake does."""
    with _stack(backing, sms, clamd, tmp_path, GATEWAY_FIRST) as running:
        yield running


def _uploads_finished(stack: LiveStack, status: str | None = None) -> float:
    """Uploads intake has finished (answered, or stopped after its caller left), by /metrics."""
    port = stack.supervisor.specs["intake"].port
    metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(metrics)
        if family.name == "http_requests"
        for sample in family.samples
        if sample.name == "http_requests_total"
        and sample.labels.get("route") == UPLOAD_ROUTE
        and sample.labels.get("method") == "POST"
        and status in (None, sample.labels.get("status"))
    )


async def _rows(database_url: str, request_id: str) -> int:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            count = await connection.scalar(
                text("SELECT count(*) FROM documents WHERE request_id = :id"), {"id": request_id}
            )
    finally:
        await engine.dispose()
    return int(count or 0)


def _objects(backing: Any, request_id: str) -> int:
    s3 = boto3.client(
        "s3",
        endpoint_url=backing.s3_endpoint_url,
        aws_access_key_id=backing.aws_key,
        aws_secret_access_key=backing.aws_secret,
        region_name=backing.region,
    )
    listing = s3.list_objects_v2(Bucket=backing.s3_bucket, Prefix=f"requests/{request_id}/")
    return len(listing.get("Contents", []))


def _upload(client: httpx.Client, resident: SignedIn, request_id: str, data: bytes) -> Any:
    return client.post(
        f"/v1/requests/{request_id}/documents",
        files={"file": ("scan.pdf", data, "application/pdf")},
        headers=resident.headers,
    )


def _draft_with_one_document(client: httpx.Client, resident: SignedIn) -> tuple[str, str]:
    """A draft holding one clean document: (request ID, document ID)."""
    draft = client.post(
        "/v1/requests",
        json={"department_code": "visas", "service_code": "final_exit", "description": "x"},
        headers=resident.headers,
    )
    assert draft.status_code == 201, draft.text
    first = _upload(client, resident, draft.json()["id"], files.PDF)
    assert first.status_code == 201, first.text
    assert first.json()["scan_status"] == "clean"
    return draft.json()["id"], first.json()["id"]


@contextmanager
def _frozen(clamd: Clamd) -> Iterator[None]:
    """clamd stopped (SIGSTOP) for the block, and running again after it, however it ends."""
    assert clamd.process is not None
    clamd.process.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        clamd.process.send_signal(signal.SIGCONT)


def _only_the_first_attached(
    client: httpx.Client, resident: SignedIn, backing: Any, request_id: str, first: str
) -> None:
    listing = client.get(f"/v1/requests/{request_id}", headers=resident.headers)
    assert [d["id"] for d in listing.json()["documents"]] == [first]
    assert run_sync(_rows(backing.database_url, request_id)) == 1
    assert _objects(backing, request_id) == 1


def test_a_frozen_clamd_answers_503_in_time_and_attaches_nothing(
    stack: LiveStack, sms: SmsReceiver, clamd: Clamd, backing: Any
) -> None:
    with stack.client() as client:
        resident = sign_in(client, sms.ledger)
        request_id, first = _draft_with_one_document(client, resident)
        with _frozen(clamd):
            started = time.monotonic()
            response = _upload(client, resident, request_id, LARGE_PDF)
            elapsed = time.monotonic() - started

        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "scanner_unavailable"
        assert int(response.headers["retry-after"]) > 0
        # Documented: the scan's deadline, well inside intake's, itself inside the gateway's.
        assert SCAN <= elapsed < UPLOAD, elapsed

        # clamd answers again; whatever intake was still doing with the upload has ended.
        wait_until(clamd._pong, 10, "clamd did not come back")
        wait_until(lambda: _uploads_finished(stack) >= 2, 10, "intake never finished the upload")
        _only_the_first_attached(client, resident, backing, request_id, first)


def test_an_upload_the_gateway_gave_up_on_stops_in_intake(
    late_stack: LiveStack, sms: SmsReceiver, clamd: Clamd, backing: Any
) -> None:
    with late_stack.client() as client:
        resident = sign_in(client, sms.ledger)
        request_id, first = _draft_with_one_document(client, resident)
        with _frozen(clamd):
            response = _upload(client, resident, request_id, LARGE_PDF)
            assert response.status_code == 504, response.text
            # Still frozen: intake stops because the gateway hung up, not because clamd failed.
            wait_until(
                lambda: _uploads_finished(late_stack, "499") == 1,
                5,
                "intake went on with an upload nobody waits for",
            )
        wait_until(clamd._pong, 10, "clamd did not come back")
        _only_the_first_attached(client, resident, backing, request_id, first)
