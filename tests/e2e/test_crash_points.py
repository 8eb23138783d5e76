"""A process killed between two steps that cannot share a transaction (checklist #1, #13).

Each test restarts one process with `FAULT_POINT` set (shared/faults.py), so it dies with
status 137 the first time it passes that point, then starts it again without the variable,
as Kubernetes would, and checks that the client's retry and the system's own re-drive leave
exactly one request and exactly one SMS per event.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import pytest

from shared.faults import KILLED_EXIT_CODE, POINTS
from tests.support.live import LiveStack, sign_in, submit_one, wait_until
from tests.support.sms_receiver import SmsReceiver

pytestmark = pytest.mark.e2e

DRAFT = {"department_code": "residency", "service_code": "renew_iqama"}


@contextmanager
def dies_at(
    stack: LiveStack, process: str, point: str, after: Mapping[str, str] | None = None
) -> Iterator[None]:
    """Run `process` armed at `point`; on leaving, require that it died there and start it
    again unarmed (with `after` added to its environment)."""
    assert point in POINTS
    supervisor = stack.supervisor
    spec = supervisor.specs[process]
    supervisor.stop(process)
    supervisor.specs[process] = replace(spec, env={**spec.env, "FAULT_POINT": point})
    supervisor.start(process)
    supervisor.wait_ready(timeout=60)
    try:
        yield
        code = supervisor.procs[process].wait(timeout=60)
        assert code == KILLED_EXIT_CODE, f"{process} exited {code}, not at {point}"
    finally:
        supervisor.stop(process)
        supervisor.specs[process] = replace(spec, env={**spec.env, **(after or {})})
        supervisor.start(process)
        supervisor.wait_ready(timeout=60)


def _sms_for(sms: SmsReceiver, phone: str, reference: str) -> int:
    return sum(reference in message["body"] for message in sms.ledger.to(phone))


def _routed_with_two_sms(client: Any, resident: Any, request_id: str, sms: SmsReceiver) -> bool:
    page = client.get(f"/v1/requests/{request_id}", headers=resident.headers).json()
    if page["status"] != "routed":
        return False
    return _sms_for(sms, resident.phone, page["reference"]) >= 2


def _settles_once(client: Any, resident: Any, request_id: str, sms: SmsReceiver) -> None:
    """Routed, and each of its two SMS reached the resident exactly once."""
    wait_until(lambda: _routed_with_two_sms(client, resident, request_id, sms), 60, "not settled")
    reference = client.get(f"/v1/requests/{request_id}", headers=resident.headers).json()[
        "reference"
    ]
    assert _sms_for(sms, resident.phone, reference) == 2


def test_a_draft_committed_but_not_answered_is_found_by_its_retry(
    webhook_stack: LiveStack, sms: SmsReceiver
) -> None:
    with webhook_stack.client() as client:
        resident = sign_in(client, sms.ledger)
        key = str(uuid.uuid4())
        body = {**DRAFT, "description": f"crash after commit {key}"}
        headers = {**resident.headers, "Idempotency-Key": key}
        with dies_at(webhook_stack, "intake", "intake.draft.after_commit"):
            lost = client.post("/v1/requests", json=body, headers=headers)
            assert lost.status_code == 503, lost.text  # the gateway's problem, never a 500
            assert lost.headers["retry-after"]
        retry = client.post("/v1/requests", json=body, headers=headers)
        assert retry.status_code in (200, 201), retry.text
        assert retry.headers.get("idempotent-replayed") == "true"  # found, not made again
        listing = client.get("/v1/requests?limit=100", headers=resident.headers).json()["items"]
        assert [item["id"] for item in listing] == [retry.json()["id"]]


def test_a_submission_committed_but_not_answered_is_routed_and_texted_once(
    webhook_stack: LiveStack, sms: SmsReceiver
) -> None:
    with webhook_stack.client() as client:
        resident = sign_in(client, sms.ledger)
        draft = client.post(
            "/v1/requests", json={**DRAFT, "description": "submit"}, headers=resident.headers
        ).json()
        with dies_at(webhook_stack, "intake", "intake.submit.after_commit"):
            lost = client.post(f"/v1/requests/{draft['id']}/submit", headers=resident.headers)
            assert lost.status_code == 503, lost.text
        retry = client.post(f"/v1/requests/{draft['id']}/submit", headers=resident.headers)
        # The first try committed: the retry says so instead of submitting twice.
        assert retry.status_code == 409, retry.text
        assert retry.json()["current_status"] in ("submitted", "routed")
        _settles_once(client, resident, draft["id"], sms)


def test_a_relay_killed_after_enqueueing_leaves_one_routing(
    webhook_stack: LiveStack, sms: SmsReceiver
) -> None:
    """The routing worker's relay enqueues the job and dies before its claim commits: the
    row is claimed again under the same job id, and the job's own guard makes one effect."""
    with webhook_stack.client() as client:
        resident = sign_in(client, sms.ledger)
        with dies_at(webhook_stack, "routing-worker", "relay.after_enqueue"):
            submitted = submit_one(client, resident, "relay crash")
        _settles_once(client, resident, submitted["id"], sms)


def test_an_sms_worker_killed_after_the_provider_accepted_texts_once(
    webhook_stack: LiveStack, sms: SmsReceiver
) -> None:
    """The provider has the message; our record of it died with the worker. After the lease
    the claim is in doubt and the message is sent again with the same Idempotency-Key, which
    the provider (like the real aggregators) answers without texting the resident twice."""
    with webhook_stack.client() as client:
        resident = sign_in(client, sms.ledger)
        repeats = sms.ledger.repeats
        with dies_at(
            webhook_stack, "notify-worker", "notify.after_send", after={"SMS_SENDING_LEASE": "3"}
        ):
            submitted = submit_one(client, resident, "sms crash")
        _settles_once(client, resident, submitted["id"], sms)
        wait_until(lambda: sms.ledger.repeats > repeats, 30, "the in-doubt SMS was not re-sent")
