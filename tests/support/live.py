"""A running stack of real processes, driven over HTTP like a resident's app."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from devstack.ports import free_port
from devstack.processes import current_env, stack_processes
from devstack.supervisor import Supervisor
from tests.support.identities import mobile, national_id
from tests.support.sms_receiver import SmsLedger

FAST_TEST_SETTINGS = {
    "ARGON2_MEMORY_KIB": "1024",
    "ARGON2_TIME_COST": "1",
    "OTP_SENDS_PER_PHONE_PER_HOUR": "1000",
    "OTP_SENDS_PER_IP_PER_HOUR": "100000",
    "OTP_SENDS_PER_LOGIN_PER_HOUR": "1000",
    "OTP_SENDS_PER_LOGIN_PER_DAY": "1000",
    "LOGIN_PER_IP_PER_MINUTE": "100000",
    "LOGIN_PER_ID_PER_MINUTE": "1000",
    "API_PER_PRINCIPAL_PER_MINUTE": "100000",
    "ROUTING_REDRIVE_AFTER": "3",
    "SMS_REDRIVE_AFTER": "3",
    "SHUTDOWN_DELAY": "1",
}


@dataclass
class LiveStack:
    """The supervisor and the gateway's address."""

    supervisor: Supervisor
    url: str
    log_dir: Path

    def client(self) -> httpx.Client:
        """A client for the gateway."""
        return httpx.Client(base_url=self.url, timeout=30.0)


@contextmanager
def live_stack(env: Mapping[str, str], log_dir: Path) -> Iterator[LiveStack]:
    """Start every process with `env`, wait until ready, stop them all afterwards."""
    full_env = current_env({**FAST_TEST_SETTINGS, **env, "GATEWAY_PORT": "0"})
    specs = stack_processes(full_env)
    port = next(spec.port for spec in specs if spec.name == "gateway")
    supervisor = Supervisor(specs, log_dir=log_dir)
    supervisor.start_all()
    try:
        supervisor.wait_ready(timeout=60)
        yield LiveStack(supervisor, f"http://127.0.0.1:{port}", log_dir)
    finally:
        supervisor.stop_all(timeout=20)


@dataclass
class SignedIn:
    """A resident signed in through the live gateway."""

    national_id: str
    phone: str
    headers: dict[str, str]


def sign_in(client: httpx.Client, ledger: SmsLedger, language: str = "ar") -> SignedIn:
    """Step 1: register, verify, sign in — every code read from the SMS provider's ledger."""
    nid, phone, password = national_id("2"), mobile(), "a strong passphrase"
    response = client.post(
        "/v1/auth/register",
        json={
            "national_id": nid,
            "phone": phone,
            "password": password,
            "preferred_language": language,
        },
    )
    assert response.status_code == 202, response.text
    code = ledger.latest_code(phone)
    response = client.post("/v1/auth/register/verify", json={"national_id": nid, "code": code})
    assert response.status_code == 201, response.text
    seen = len(ledger.to(phone))
    response = client.post("/v1/auth/login", json={"national_id": nid, "password": password})
    assert response.status_code == 200, response.text
    challenge = response.json()["challenge_id"]
    code = ledger.latest_code(phone, after=seen)
    response = client.post("/v1/auth/login/verify", json={"challenge_id": challenge, "code": code})
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["token_type"] == "Bearer"
    return SignedIn(nid, phone, {"Authorization": f"Bearer {tokens['access_token']}"})


def submit_one(client: httpx.Client, resident: SignedIn, description: str) -> dict[str, Any]:
    """Create and submit one request; returns the submission's answer."""
    draft = client.post(
        "/v1/requests",
        json={
            "department_code": "residency",
            "service_code": "renew_iqama",
            "description": description,
        },
        headers=resident.headers,
    )
    assert draft.status_code == 201, draft.text
    response = client.post(f"/v1/requests/{draft.json()['id']}/submit", headers=resident.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_until(predicate: Any, timeout: float, message: str) -> None:
    """Poll `predicate` until true or fail with `message`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(message)


class PrivateRedis:
    """A redis-server of the test's own, so the test may stop and restart it."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Its URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start empty (no persistence), as a restarted cache-less Redis would be."""
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                import redis

                if redis.Redis.from_url(self.url, socket_timeout=1).ping():
                    return
            except Exception:
                time.sleep(0.05)
        raise TimeoutError("private redis did not start")

    def pause(self) -> None:
        """SIGSTOP: connections stay open and nothing answers (a hung or partitioned Redis)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT: it answers again, with everything it held."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Kill it; whatever it held is gone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def staff_sign_in(
    client: httpx.Client, ledger: SmsLedger, username: str, password: str, phone: str
) -> dict[str, str]:
    """Staff sign-in through the live gateway, the code read from the SMS provider's ledger."""
    seen = len(ledger.to(phone))
    response = client.post(
        "/v1/staff/auth/login", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    code = ledger.latest_code(phone, after=seen)
    response = client.post(
        "/v1/staff/auth/login/verify",
        json={"challenge_id": response.json()["challenge_id"], "code": code},
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def second_gateway(stack: LiveStack) -> str:
    """Start another gateway process beside the stack's (same services, Redis and key)."""
    from dataclasses import replace

    from devstack.ports import free_port

    original = stack.supervisor.specs["gateway"]
    port = free_port()
    argv = list(original.argv)
    argv[argv.index("--port") + 1] = str(port)
    spec = replace(original, name="gateway-2", argv=tuple(argv), port=port)
    stack.supervisor.specs["gateway-2"] = spec
    stack.supervisor.start("gateway-2")
    stack.supervisor.wait_ready(timeout=60)
    return f"http://127.0.0.1:{port}"
