"""Notify workers: `python -m notify_service.worker [sms|otp]`, one queue per process."""

from __future__ import annotations

import sys
from typing import Any

from arq.worker import func

from notify_service.jobs.deliver import send_otp, send_sms
from notify_service.settings import get_settings
from notify_service.sms.providers import build_provider
from notify_service.sms.templates import load_templates
from shared.queue.contract import Queue
from shared.queue.runner import WorkerSpec, run


def spec(kind: str = "sms") -> WorkerSpec:
    """The SMS worker or the one-time-code worker; templates are checked before any job runs."""
    settings = get_settings()
    templates = load_templates(max_parts=settings.sms_max_parts)

    async def startup(ctx: dict[str, Any]) -> None:
        ctx["templates"] = templates
        ctx["provider"] = build_provider(settings)

    async def shutdown(ctx: dict[str, Any]) -> None:
        await ctx["provider"].aclose()

    if kind == "otp":
        queue, function, name = Queue.otp, send_otp, "otp-worker"
    else:
        queue, function, name = Queue.notify, send_sms, "notify-worker"
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
    )


if __name__ == "__main__":
    kind = sys.argv[1] if len(sys.argv) > 1 else "sms"
    if kind not in {"sms", "otp"}:
        raise SystemExit("usage: python -m notify_service.worker [sms|otp]")
    run(lambda: spec(kind))
