"""Traces cross gateway → intake → queue → worker when an OTLP endpoint is set; free when not."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from devstack.processes import current_env
from tests.support.live import LiveStack, live_stack, sign_in, submit_one, wait_until
from tests.support.sms_receiver import SmsReceiver

pytestmark = pytest.mark.e2e


class Collector:
    """An OTLP/HTTP receiver: keeps (service, span name, trace id) of every span."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, str, str]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                for resource in request.resource_spans:
                    service = next(
                        (
                            a.value.string_value
                            for a in resource.resource.attributes
                            if a.key == "service.name"
                        ),
                        "",
                    )
                    for scope in resource.scope_spans:
                        for span in scope.spans:
                            collector.spans.append((service, span.name, span.trace_id.hex()))
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    """The trace receiver."""
    receiver = Collector()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


@pytest.fixture(scope="module")
def stack(
    backing: Any, sms: SmsReceiver, collector: Collector, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveStack]:
    """Every process, exporting spans to the local receiver."""
    env = {
        **backing.env(),
        "SMS_PROVIDER": "webhook",
        "SMS_WEBHOOK_URL": sms.url,
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    with live_stack(env, tmp_path_factory.mktemp("logs-tracing")) as running:
        yield running


def test_one_trace_from_gateway_to_the_routing_worker(
    stack: LiveStack, sms: SmsReceiver, collector: Collector
) -> None:
    with stack.client() as client:
        resident = sign_in(client, sms.ledger)
        submit_one(client, resident, "traced")

    def submit_trace() -> str | None:
        for service, name, trace_id in collector.spans:
            if service == "tawasul-intake" and "submit" in name:
                return trace_id
        return None

    wait_until(lambda: submit_trace() is not None, 20, "intake exported no submit span")
    trace_id = submit_trace()

    def services_in_trace() -> set[str]:
        return {service for service, _, t in collector.spans if t == trace_id}

    wait_until(
        lambda: (
            {"tawasul-gateway", "tawasul-intake", "tawasul-routing-worker"} <= services_in_trace()
        ),
        20,
        f"the trace did not reach every process: {services_in_trace()}",
    )
    assert any(name == "job route_request" and t == trace_id for _, name, t in collector.spans)


def test_tracing_sdk_is_not_even_loaded_when_off() -> None:
    env = {k: v for k, v in current_env().items() if not k.startswith("OTEL_")}
    probe = (
        "import sys, gateway.app, intake_service.app;"
        "gateway.app.create_app(); intake_service.app.create_app();"
        "sdk = ('opentelemetry.sdk', 'opentelemetry.exporter', 'opentelemetry.instrumentation');"
        "loaded = [m for m in sys.modules if m.startswith(sdk)];"
        "print(loaded); sys.exit(1 if loaded else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env=env,
        capture_output=True,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
