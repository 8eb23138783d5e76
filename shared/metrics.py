"""Prometheus metrics every process exposes, and the HTTP middleware that records them."""

from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HTTP_REQUESTS = Counter(
    "http_requests_total",
    "HTTP requests by route template, method and status.",
    ["route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "HTTP request duration by route template and method.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
QUEUE_DEPTH = Gauge("tawasul_queue_depth", "Jobs waiting in an arq queue.", ["queue"])
OUTBOX_OLDEST = Gauge(
    "tawasul_outbox_oldest_pending_seconds", "Age of the oldest due outbox row.", ["queue"]
)
JOBS = Counter("tawasul_jobs_total", "Jobs run, by job and outcome.", ["job", "outcome"])
JOB_DURATION = Histogram(
    "tawasul_job_duration_seconds",
    "Job duration.",
    ["job"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
SMS = Counter("tawasul_sms_total", "SMS outcomes by provider and status.", ["provider", "status"])
REQUESTS_BY_STATUS = Gauge("tawasul_requests_by_status", "Open requests by status.", ["status"])
STATISTICS_LAG = Gauge(
    "tawasul_statistics_lag_seconds",
    "Age of the oldest request change not yet folded into the supervisors' statistics.",
)
SLA_BREACHES = Counter("tawasul_sla_breaches_total", "Requests marked breached.")
WEBHOOK_DEAD = Counter("tawasul_webhook_dead_letters_total", "Webhook deliveries given up.")


def metrics_response() -> Response:
    """The current metrics in Prometheus' text format."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


async def metrics_endpoint(_: Request) -> Response:
    """GET /metrics."""
    return metrics_response()


class MetricsMiddleware:
    """Counts and times every HTTP request by its route template (never the raw path)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == "/metrics":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope.get("method", "GET")
            HTTP_REQUESTS.labels(template, method, str(status)).inc()
            HTTP_DURATION.labels(template, method).observe(time.perf_counter() - start)
