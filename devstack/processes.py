"""The processes of the system and the environment each one gets."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field

from devstack.ports import free_ports


@dataclass(frozen=True)
class ProcessSpec:
    """One process: its name, command line, and the port its HTTP health answers on (if any)."""

    name: str
    argv: tuple[str, ...]
    port: int | None = None
    env: Mapping[str, str] = field(default_factory=dict)


def _uvicorn(module: str, port: int) -> tuple[str, ...]:
    return (
        sys.executable,
        "-m",
        "shared.serve",
        f"{module}:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--graceful-timeout",
        "20",
    )


def stack_processes(base_env: Mapping[str, str]) -> list[ProcessSpec]:
    """Gateway, three APIs and three workers; internal ports are free ones unless configured.

    GATEWAY_PORT=0 picks a free port for the gateway too (tests)."""
    spare = iter(free_ports(8))
    gateway_port = int(base_env.get("GATEWAY_PORT", "8000")) or next(spare)
    intake_port = int(base_env.get("INTAKE_PORT") or next(spare))
    routing_port = int(base_env.get("ROUTING_PORT") or next(spare))
    notify_port = int(base_env.get("NOTIFY_PORT") or next(spare))
    env = {
        **base_env,
        "GATEWAY_PORT": str(gateway_port),
        "INTAKE_URL": f"http://127.0.0.1:{intake_port}",
        "ROUTING_URL": f"http://127.0.0.1:{routing_port}",
        "NOTIFY_URL": f"http://127.0.0.1:{notify_port}",
    }
    python = sys.executable

    def worker(name: str, *argv: str) -> ProcessSpec:
        """A worker whose probe and metrics listen on a port of its own (9100 in Kubernetes)."""
        port = next(spare)
        return ProcessSpec(name, (python, "-m", *argv), port, {**env, "METRICS_PORT": str(port)})

    return [
        ProcessSpec("intake", _uvicorn("intake_service.app", intake_port), intake_port, env),
        ProcessSpec("routing", _uvicorn("routing_service.app", routing_port), routing_port, env),
        ProcessSpec("notify", _uvicorn("notify_service.app", notify_port), notify_port, env),
        worker("routing-worker", "routing_service.worker"),
        worker("notify-worker", "notify_service.worker", "sms"),
        worker("otp-worker", "notify_service.worker", "otp"),
        worker("webhook-worker", "notify_service.worker", "webhooks"),
        ProcessSpec("gateway", _uvicorn("gateway.app", gateway_port), gateway_port, env),
    ]


def current_env(overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment plus overrides, with the repo importable."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ)
    env.update(overrides or {})
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env
