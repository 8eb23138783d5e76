"""What SREs rely on: metrics, request IDs in logs, graceful SIGTERM, dependency outages."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from devstack.ports import free_port
from devstack.processes import current_env
from tests.support import files
from tests.support.live import LiveStack, sign_in, submit_one, wait_until
from tests.support.sms_receiver import SmsReceiver
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(webhook_stack: LiveStack) -> LiveStack:
    """The module's running system."""
    return webhook_stack


def _metrics(port: int | None) -> str:
    return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text


def test_every_process_exposes_metrics(stack: LiveStack, sms: SmsReceiver) -> None:
    with stack.client() as client:
        resident = sign_in(client, sms.ledger)
        request_id = submit_one(client, resident, "metrics")["id"]
        client.get(f"/v1/requests/{request_id}", headers=resident.headers)
    specs = stack.supervisor.specs
    gateway = _metrics(specs["gateway"].port)
    assert 'route="/v1/auth/login"' in gateway
    intake = _metrics(specs["intake"].port)
    assert (
        'http_requests_total{method="GET",route="/v1/requests/{request_id}",status="200"}' in intake
    )
    assert request_id not in intake  # route templates, never raw paths
    assert "http_request_duration_seconds_bucket" in intake

    def jobs_counted() -> bool:
        return 'tawasul_jobs_total{job="route_request"' in _metrics(specs["routing-worker"].port)

    wait_until(jobs_counted, 20, "the routing worker did not count its jobs")
    notify = _metrics(specs["notify-worker"].port)
    assert "tawasul_sms_total" in notify
    assert 'tawasul_queue_depth{queue="notify"}' in notify
    assert "tawasul_outbox_oldest_pending_seconds" in notify


def test_request_id_is_carried_from_gateway_to_service_logs(
    stack: LiveStack, sms: SmsReceiver
) -> None:
    marker = f"ops{time.time_ns()}"
    with stack.client() as client:
        resident = sign_in(client, sms.ledger)
        draft = client.post(
            "/v1/requests",
            json={"department_code": "visas", "service_code": "final_exit", "description": "x"},
            headers=resident.headers,
        ).json()
        answer = client.post(
            f"/v1/requests/{draft['id']}/documents",
            files={"file": ("a.pdf", files.PDF, "application/pdf")},
            headers={**resident.headers, "x-request-id": marker},
        )
    assert answer.headers["x-request-id"] == marker
    time.sleep(0.5)
    lines = [
        line for line in (stack.log_dir / "intake.log").read_text().splitlines() if marker in line
    ]
    assert lines, "intake never logged the gateway's request ID"
    assert all(json.loads(line)["request_id"] == marker for line in lines)
    with stack.client() as client:
        client.post(
            f"/v1/requests/{draft['id']}/submit",
            headers={**resident.headers, "x-request-id": marker},
        )

    def routed_with_marker() -> bool:
        log = (stack.log_dir / "routing-worker.log").read_text().splitlines()
        return any(marker in line and "routing.request_routed" in line for line in log)

    wait_until(routed_with_marker, 20, "the routing job's log lacks the request ID")


def test_sigterm_turns_readiness_off_first_and_finishes_in_flight_work(
    stack: LiveStack, sms: SmsReceiver
) -> None:
    intake = stack.supervisor.specs["intake"]
    failures: list[str] = []
    done = threading.Event()
    served = 0

    def load() -> None:
        nonlocal served
        with httpx.Client(base_url=f"http://127.0.0.1:{intake.port}", timeout=10) as client:
            while not done.is_set():
                try:
                    response = client.get("/v1/catalog")
                    if response.status_code != 200:
                        failures.append(str(response.status_code))
                    served += 1
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    stack.supervisor.signal("intake", signal.SIGTERM)

    def not_ready() -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{intake.port}/readyz", timeout=2).status_code == 503
        except httpx.HTTPError:
            return False

    wait_until(not_ready, 5, "readiness did not turn false after SIGTERM")
    done.set()  # the load balancer stops sending once the pod is not ready
    for thread in threads:
        thread.join()
    code = stack.supervisor.procs["intake"].wait(timeout=30)
    assert code == 0
    assert served > 0
    assert failures == []
    stack.supervisor.start("intake")
    stack.supervisor.wait_ready(timeout=60)


def test_sigterm_on_a_worker_loses_no_job(stack: LiveStack, sms: SmsReceiver) -> None:
    with stack.client() as client:
        resident = sign_in(client, sms.ledger)
        references = [submit_one(client, resident, f"term {i}")["reference"] for i in range(10)]
        stack.supervisor.signal("routing-worker", signal.SIGTERM)
        assert stack.supervisor.procs["routing-worker"].wait(timeout=40) == 0
        references += [submit_one(client, resident, f"after {i}")["reference"] for i in range(5)]
        stack.supervisor.start("routing-worker")

        def all_routed() -> bool:
            items = client.get("/v1/requests?limit=100", headers=resident.headers).json()["items"]
            states = {item["reference"]: item["status"] for item in items}
            return all(states.get(ref) == "routed" for ref in references)

        wait_until(all_routed, 60, "requests were lost across the worker's SIGTERM")


@pytest.fixture
def intake_behind_proxy(backing: Any) -> Iterator[tuple[TcpProxy, int]]:
    """An intake process whose Postgres is reached through a proxy the test controls."""
    url = make_url(backing.database_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    port = free_port()
    env = current_env(
        {
            **backing.env(),
            "DATABASE_URL": url.set(port=proxy.port).render_as_string(hide_password=False),
            "SHUTDOWN_DELAY": "0",
        }
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "shared.serve",
            "intake_service.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: _alive(port), 30, "intake did not start with its database down")
        yield proxy, port
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        proxy.close()


def _alive(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_service_starts_without_its_database_and_answers_503_until_it_is_back(
    intake_behind_proxy: tuple[TcpProxy, int],
) -> None:
    proxy, port = intake_behind_proxy
    base = f"http://127.0.0.1:{port}"
    assert httpx.get(f"{base}/readyz", timeout=10).status_code == 503
    started = time.monotonic()
    down = httpx.get(f"{base}/v1/catalog", timeout=15)
    assert down.status_code == 503
    assert down.headers["content-type"] == "application/problem+json"
    assert down.json()["code"] == "service_unavailable"
    assert time.monotonic() - started < 10  # an answer, not a hang
    proxy.open()
    wait_until(
        lambda: httpx.get(f"{base}/readyz", timeout=5).status_code == 200,
        30,
        "intake did not become ready when its database came back",
    )
    assert httpx.get(f"{base}/v1/catalog", timeout=10).status_code == 200
