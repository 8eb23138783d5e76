"""OpenTelemetry tracing: on only when an OTLP endpoint is configured, and free otherwise.

Standard variables switch it on: OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT),
OTEL_SERVICE_NAME, OTEL_SDK_DISABLED=true to force it off. Without them nothing of the SDK
is imported. Traces cross HTTP hops (FastAPI and httpx instrumentation) and the queue: an
outbox row carries the W3C traceparent of the transaction that owed it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from typing import Any

TRACE_KEY = "_trace"


@cache
def enabled() -> bool:
    """True when an OTLP endpoint is set and the SDK is not disabled."""
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    return bool(
        os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def setup(service: str, app: Any | None = None) -> None:
    """Install the tracer provider (once per process) and instrument `app` and httpx."""
    if not enabled():
        return
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        name = os.environ.get("OTEL_SERVICE_NAME", f"tawasul-{service}")
        provider = TracerProvider(resource=Resource.create({"service.name": name}))
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(provider)
        HTTPXClientInstrumentor().instrument()
    if app is not None:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,metrics")


def carrier() -> dict[str, str]:
    """The current trace context, to be stored with work owed to another process."""
    if not enabled():
        return {}
    from opentelemetry.propagate import inject

    headers: dict[str, str] = {}
    inject(headers)
    return headers


@contextmanager
def job_span(name: str, context: Mapping[str, str] | None) -> Iterator[None]:
    """A span for one job, continuing the trace that owed it."""
    if not enabled():
        yield
        return
    from opentelemetry import trace
    from opentelemetry.propagate import extract

    tracer = trace.get_tracer("tawasul.queue")
    with tracer.start_as_current_span(
        f"job {name}", context=extract(dict(context or {})), kind=trace.SpanKind.CONSUMER
    ):
        yield


def shutdown() -> None:
    """Flush spans before the process exits."""
    if not enabled():
        return
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    if hasattr(provider, "shutdown"):
        provider.shutdown()
