"""Notify workers: `python -m notify_service.worker [sms|otp]`, one queue per process."""

from __future__ import annotations

import sys
from typing import Any

from arq.cron import cron
from arq.worker import func
from redis.asyncio import Redis

from notify_service.jobs.deliver import send_otp, send_sms
from notify_service.jobs.recovery import Recovery
from notify_service.jobs.slots import Slots
from notify_service.jobs.stuck import sweep_stuck
from notify_service.jobs.webhooks import deliver_webhook, fan_out_event
from notify_service.settings import NotifySettings, get_settings
from notify_service.sms.providers.registry import build_pool
from notify_service.sms.templates import load_templates
from notify_service.webhooks.transport import webhook_client
from shared.queue.contract import Queue
from shared.queue.runner import WorkerSpec, run


def spec(kind: str = "sms") -> WorkerSpec:
    """The SMS worker or the one-time-code worker; templates are checked before any job runs."""
    settings = get_settings()
    templates = load_templates(max_parts=settings.sms_max_parts)

    async def startup(ctx: dict[str, Any]) -> None:
        ctx["templates"] = templates
        ctx["health_redis"] = Redis.from_url(
            settings.redis_url, socket_connect_timeout=1, socket_timeout=2
        )
        ctx["pool"] = build_pool(settings, ctx["health_redis"])
        ctx["sms_slots"] = Slots(settings.sms_max_in_flight)
        ctx["sms_recovery"] = Recovery()

    async def shutdown(ctx: dict[str, Any]) -> None:
        await ctx["pool"].aclose()
        await ctx["health_redis"].aclose()

    if kind == "webhooks":
        return _webhook_spec(settings)
    if kind == "otp":
        queue, function, name, crons = Queue.otp, send_otp, "otp-worker", []
    else:
        queue, function, name = Queue.notify, send_sms, "notify-worker"
        crons = [
            cron(sweep_stuck, name="sweep_stuck", minute=None, second=30, unique=True, timeout=120)
        ]
    timeout = int(settings.sms_timeout) + 10
    return WorkerSpec(
        name=name,
        queue=queue,
        functions=[func(function, name=function.__name__, timeout=timeout, max_tries=3)],
        settings=settings,
        max_jobs=100,
        redrive_after=settings.sms_redrive_after,
        max_attempts=settings.sms_max_attempts + 5,
        on_startup=startup,
        on_shutdown=shutdown,
        cron_jobs=crons,
    )


def _webhook_spec(settings: NotifySettings) -> WorkerSpec:
    """Partner webhooks on their own queue, so a slow receiver never holds up an SMS."""

    async def startup(ctx: dict[str, Any]) -> None:
        ctx["webhook_client"] = webhook_client(
            settings.webhook_timeout, allow_private=settings.webhook_allow_private_targets
        )

    async def shutdown(ctx: dict[str, Any]) -> None:
        await ctx["webhook_client"].aclose()

    return WorkerSpec(
        name="webhook-worker",
        queue=Queue.webhooks,
        functions=[
            func(fan_out_event, name="fan_out_event", timeout=30, max_tries=3),
            func(
                deliver_webhook,
                name="deliver_webhook",
                timeout=int(settings.webhook_timeout) + 10,
                max_tries=3,
            ),
        ],
        settings=settings,
        max_jobs=50,
        redrive_after=settings.sms_redrive_after,
        max_attempts=10_000,  # the day-long retry window decides, not a count
        on_startup=startup,
        on_shutdown=shutdown,
    )


if __name__ == "__main__":
    kind = sys.argv[1] if len(sys.argv) > 1 else "sms"
    if kind not in {"sms", "otp", "webhooks"}:
        raise SystemExit("usage: python -m notify_service.worker [sms|otp|webhooks]")
    run(lambda: spec(kind))
