"""Routing worker: `python -m routing_service.worker` consumes the routing queue only."""

from __future__ import annotations

from arq.cron import cron
from arq.worker import func

from routing_service.jobs.fold_statistics import fold_statistics
from routing_service.jobs.route_request import route_request
from routing_service.jobs.sla_sweep import sla_sweep
from routing_service.settings import get_settings
from shared.queue.contract import Queue
from shared.queue.gauges import count_open_requests, statistics_lag
from shared.queue.runner import WorkerSpec, run


def spec() -> WorkerSpec:
    """What this worker consumes."""
    settings = get_settings()
    return WorkerSpec(
        name="routing-worker",
        queue=Queue.routing,
        functions=[func(route_request, name="route_request", timeout=30, max_tries=3)],
        # Every minute at second 0; `unique` makes one replica run each tick.
        cron_jobs=[
            cron(sla_sweep, name="sla_sweep", second=0, timeout=120, unique=True),
            # Supervisors' figures trail the requests by at most a tick or two.
            cron(
                fold_statistics,
                name="fold_statistics",
                second=set(range(5, 60, 10)),
                timeout=60,
                unique=True,
            ),
        ],
        settings=settings,
        max_jobs=50,
        redrive_after=settings.routing_redrive_after,
        collectors=[count_open_requests, statistics_lag],
    )


if __name__ == "__main__":
    run(spec)
