"""Submissions survive a killed routing worker and a Redis that stops and comes back empty."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.live import (
    LiveStack,
    PrivateRedis,
    live_stack,
    sign_in,
    submit_one,
    wait_until,
)
from tests.support.sms_receiver import SmsReceiver

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def redis_server() -> Iterator[PrivateRedis]:
    """A Redis this module may stop."""
    server = PrivateRedis()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def stack(
    backing: Any,
    sms: SmsReceiver,
    redis_server: PrivateRedis,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[LiveStack]:
    """The whole system on the private Redis."""
    env = {
        **backing.env(),
        "REDIS_URL": redis_server.url,
        "SMS_PROVIDER": "webhook",
        "SMS_WEBHOOK_URL": sms.url,
    }
    with live_stack(env, tmp_path_factory.mktemp("logs-faults")) as running:
        yield running


def _all_routed_with_two_sms(
    client: Any, resident: Any, references: list[str], sms: SmsReceiver
) -> bool:
    listing = client.get("/v1/requests?limit=100", headers=resident.headers).json()["items"]
    statuses = {item["reference"]: item["status"] for item in listing}
    if any(statuses.get(ref) != "routed" for ref in references):
        return False
    bodies = [m["body"] for m in sms.ledger.to(resident.phone)]
    return all(sum(ref in body for body in bodies) >= 2 for ref in references)


def _explain(client: Any, resident: Any, references: list[str], sms: SmsReceiver) -> str:
    """What each request's status and SMS count are, so a failure says which part fell behind."""
    listing = client.get("/v1/requests?limit=100", headers=resident.headers).json()["items"]
    statuses = {item["reference"]: item["status"] for item in listing}
    bodies = [m["body"] for m in sms.ledger.to(resident.phone)]
    return "; ".join(
        f"{ref}: {statuses.get(ref)}, {sum(ref in body for body in bodies)} SMS"
        for ref in references
    )


def _wait_for_all(client: Any, resident: Any, references: list[str], sms: SmsReceiver) -> None:
    try:
        wait_until(
            lambda: _all_routed_with_two_sms(client, resident, references, sms),
            90,
            "some requests were not routed or texted",
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {_explain(client, resident, references, sms)}") from None


def _assert_exactly_two_sms_each(resident: Any, references: list[str], sms: SmsReceiver) -> None:
    bodies = [m["body"] for m in sms.ledger.to(resident.phone)]
    counts = {ref: sum(ref in body for body in bodies) for ref in references}
    assert set(counts.values()) == {2}, counts  # submitted + routed, never twice


def test_killing_the_routing_worker_loses_nothing(stack: LiveStack, sms: SmsReceiver) -> None:
    with stack.client() as client:
        resident = sign_in(client, sms.ledger)
        references = [
            submit_one(client, resident, f"before kill {i}")["reference"] for i in range(5)
        ]
        stack.supervisor.signal("routing-worker", signal.SIGKILL)
        references += [
            submit_one(client, resident, f"while dead {i}")["reference"] for i in range(10)
        ]
        stack.supervisor.start("routing-worker")
        _wait_for_all(client, resident, references, sms)
        _assert_exactly_two_sms_each(resident, references, sms)


def test_stopping_redis_loses_nothing(
    stack: LiveStack, sms: SmsReceiver, redis_server: PrivateRedis
) -> None:
    with stack.client() as client:
        resident = sign_in(client, sms.ledger)
        references = [
            submit_one(client, resident, f"before outage {i}")["reference"] for i in range(5)
        ]
        redis_server.stop()
        # Submissions do not wait for Redis: they commit what is owed and answer.
        references += [
            submit_one(client, resident, f"during outage {i}")["reference"] for i in range(10)
        ]
        time.sleep(2)  # long enough for the relays and workers to fail several times
        redis_server.start()  # back, and empty: every job it held is gone
        _wait_for_all(client, resident, references, sms)
        _assert_exactly_two_sms_each(resident, references, sms)


def test_a_frozen_redis_slows_calls_but_loses_nothing(
    stack: LiveStack, sms: SmsReceiver, redis_server: PrivateRedis
) -> None:
    """Checklist #3: Redis stopped with SIGSTOP keeps its sockets open and answers nothing,
    which only client timeouts notice. Submissions still succeed (authentication and limits
    fail open after their 2 s timeout), a sign-in fails closed with 503 instead of going
    unlimited, and once Redis answers again every request is routed and texted exactly
    twice."""
    with stack.client() as client:
        resident = sign_in(client, sms.ledger)
        references = [submit_one(client, resident, "before the freeze")["reference"]]
        redis_server.pause()
        try:
            references += [
                submit_one(client, resident, f"while frozen {i}")["reference"] for i in range(3)
            ]
            login = client.post(
                "/v1/auth/login",
                json={"national_id": resident.national_id, "password": "a strong passphrase"},
            )
        finally:
            redis_server.resume()
        assert login.status_code == 503, login.text
        assert login.headers["retry-after"]
        assert login.json()["detail_ar"]
        _wait_for_all(client, resident, references, sms)
        _assert_exactly_two_sms_each(resident, references, sms)
