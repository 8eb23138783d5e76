"""The one list of Tawasul processes that deploy/ must package, run and deploy.

The image's entrypoint must start each of them, and the manifests must run each one: a
Deployment per HTTP process and worker, the migration Job for `migrate`, a CronJob for
`rescan`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"

SERVE_FLAGS = "--host 0.0.0.0 --port 8000 --graceful-timeout 25"


class Role(StrEnum):
    """How a process runs; also its `app.kubernetes.io/component` label."""

    api = "api"  # HTTP on port 8000 ("http"), behind a Service
    worker = "worker"  # arq worker; probes and /metrics on 9100 ("metrics"), no Service
    migration = "migration"  # the one-off Job
    scheduled = "scheduled"  # a CronJob; no Redis, no Service, no probes


@dataclass(frozen=True)
class Process:
    """A process: its name (the container argument), its role and the commands it execs."""

    name: str
    role: Role
    commands: tuple[str, ...]


PROCESSES: tuple[Process, ...] = (
    Process("gateway", Role.api, (f"python -m shared.serve gateway.app:create_app {SERVE_FLAGS}",)),
    Process(
        "intake", Role.api, (f"python -m shared.serve intake_service.app:create_app {SERVE_FLAGS}",)
    ),
    Process(
        "routing",
        Role.api,
        (f"python -m shared.serve routing_service.app:create_app {SERVE_FLAGS}",),
    ),
    Process(
        "notify", Role.api, (f"python -m shared.serve notify_service.app:create_app {SERVE_FLAGS}",)
    ),
    Process("routing-worker", Role.worker, ("python -m routing_service.worker",)),
    Process("notify-worker", Role.worker, ("python -m notify_service.worker sms",)),
    Process("otp-worker", Role.worker, ("python -m notify_service.worker otp",)),
    Process("webhook-worker", Role.worker, ("python -m notify_service.worker webhooks",)),
    Process(
        "migrate",
        Role.migration,
        (
            "python -m alembic -c /app/alembic.ini upgrade head",
            "python -m services.db_loader",
        ),
    ),
    Process("rescan", Role.scheduled, ("python -m intake_service.documents.rescan",)),
)

HTTP_PROCESSES = tuple(p.name for p in PROCESSES if p.role is Role.api)
WORKERS = tuple(p.name for p in PROCESSES if p.role is Role.worker)
DEPLOYMENTS = HTTP_PROCESSES + WORKERS
JOBS = tuple(p.name for p in PROCESSES if p.role is Role.migration)
CRONJOBS = tuple(p.name for p in PROCESSES if p.role is Role.scheduled)
BY_NAME = {p.name: p for p in PROCESSES}
