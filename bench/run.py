"""`python -m bench.run`: issue 7's benchmark, every part side by side in one run.

Parts: `http` (reference ceilings, gateway overhead, writes through the gateway, then the
60-second pipeline and each process's memory), `drain` (SMS drain against arq's no-op drain)
and `scale` (reads and query plans at the small and the national data size). Results go to
bench/results/latest.json and latest.md. Exit status 1 when a query plan scans a large table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench import http_scenarios, memory, report
from bench.http_scenarios import Scenario, paired_ratio
from bench.login_cost import measure_login_cost
from bench.notify_drain import measure_drain
from bench.pipeline import measure_pipeline
from bench.scale.run import measure_scale
from bench.sms_sink import SmsSink
from bench.stack import base_env, fresh_database, reference, running, stack
from devstack.ports import free_ports

PARTS = ("http", "drain", "scale")


def measure_http(
    base: Mapping[str, str], *, seconds: int, repeats: int, pipeline_seconds: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Parts 1-4 and 7 on one stack; returns (figures, targets)."""
    with SmsSink() as sink, fresh_database(base, label="bench") as fresh:
        env = {**fresh, "SMS_PROVIDER": "webhook", "SMS_WEBHOOK_URL": sink.url}
        system = stack(env)
        constant, insert, gateway_lean, gateway_aiohttp, gateway_httpx = free_ports(5)
        constant_url = f"http://127.0.0.1:{constant}"
        extras = [
            reference("ref-constant", "bench.reference_apps:create_constant_app", constant, env),
            reference(
                "ref-insert",
                "bench.reference_apps:create_insert_app",
                insert,
                {**env, "BENCH_DSN": env["DATABASE_URL"].replace("+asyncpg", "")},
            ),
        ]
        for name, port, transport in (
            ("gateway-constant", gateway_lean, "httptools"),  # the default
            ("gateway-constant-aiohttp", gateway_aiohttp, "aiohttp"),
            ("gateway-constant-httpx", gateway_httpx, "httpx"),
        ):
            gateway_env = {
                **system[-1].env,
                "INTAKE_URL": constant_url,
                "GATEWAY_PORT": str(port),
                "GATEWAY_FORWARD_TRANSPORT": transport,
            }
            extras.append(reference(name, "gateway.app:create_app", port, gateway_env))
        with running([*system, *extras]) as run:
            time.sleep(3)
            own = {spec.name for spec in system}
            idle = memory.snapshot({k: v for k, v in run.pids().items() if k in own})
            gateway = run.url("gateway")
            resident = asyncio.run(http_scenarios.seed_resident(gateway, env, sink))
            bearer = {"Authorization": f"Bearer {resident.token}"}
            identity = {
                "x-tawasul-identity": http_scenarios.resident_identity(env, resident.resident_id)
            }
            draft_body = json.dumps(http_scenarios.DRAFT)
            # Each target's pair is listed side by side: measure() runs them in rounds, so
            # the two halves of a ratio are measured seconds apart (paired_ratio).
            scenarios = {
                "reference_constant": Scenario(f"{constant_url}/v1/catalog"),
                "constant_via_gateway": Scenario(f"{run.url('gateway-constant')}/v1/catalog"),
                "constant_via_gateway_aiohttp": Scenario(
                    f"{run.url('gateway-constant-aiohttp')}/v1/catalog"
                ),
                "constant_via_gateway_httpx": Scenario(
                    f"{run.url('gateway-constant-httpx')}/v1/catalog"
                ),
                "read_direct": Scenario(
                    f"{run.url('intake')}/v1/requests/{resident.request_id}", identity
                ),
                "read_via_gateway": Scenario(
                    f"{gateway}/v1/requests/{resident.request_id}", bearer
                ),
                "reference_insert": Scenario(
                    f"{run.url('ref-insert')}/insert", method="POST", body="{}"
                ),
                "drafts_via_gateway": Scenario(
                    f"{gateway}/v1/requests", bearer, method="POST", body=draft_body
                ),
                "create_and_submit_via_gateway": Scenario(
                    f"{gateway}/v1/requests",
                    script=http_scenarios.submit_script(resident.token),
                ),
            }
            figures = http_scenarios.measure(scenarios, seconds, repeats, run.pids())
            median = {k: v["requests_per_second"]["median"] for k, v in figures.items()}
            # Half of each create-and-submit pair is a submission.
            submissions = median["create_and_submit_via_gateway"] / 2
            figures["submissions_per_second"] = {"median": round(submissions, 1)}
            targets = {
                "gateway_read_ratio": {
                    **paired_ratio(figures, "read_via_gateway", "read_direct", 0.7),
                    "rule": "read via gateway ≥ 0.7 × direct",
                },
                "gateway_constant_ratio": {
                    **paired_ratio(figures, "constant_via_gateway", "reference_constant", 0.45),
                    "rule": "constant via gateway ≥ 0.45 × direct",
                },
                "draft_write_ratio": {
                    **paired_ratio(figures, "drafts_via_gateway", "reference_insert", 0.3),
                    "rule": "drafts via gateway ≥ 0.3 × raw asyncpg insert",
                },
            }
            _settle(env)
            pipeline = measure_pipeline(
                gateway, resident.token, sink, rate=submissions / 2, seconds=pipeline_seconds
            )
            for name, target in pipeline.pop("targets").items():
                targets[name] = target
            targets["pipeline_p50_ms"]["rule"] = "≤ 150 ms"
            targets["pipeline_p99_ms"]["rule"] = "≤ 1000 ms"
            targets["pipeline_without_sms"]["rule"] = "= 0"
            figures["pipeline"] = pipeline
            _settle(env)
            loaded = memory.snapshot({k: v for k, v in run.pids().items() if k in own})
            mem = memory.verdict(idle, loaded)
            targets["memory_mb"] = {**mem.pop("target"), "rule": "every process < 150 MB"}
            figures["memory"] = mem
    return figures, targets


def _settle(env: Mapping[str, str], timeout: float = 120) -> None:
    """Wait until every job owed so far has been done, so one part's backlog never taxes the
    next one's figures."""

    async def pending() -> int:
        engine = create_async_engine(env["DATABASE_URL"])
        try:
            async with engine.connect() as conn:
                count = await conn.scalar(
                    text("SELECT count(*) FROM outbox WHERE status = 'pending'")
                )
        finally:
            await engine.dispose()
        return int(count or 0)

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = asyncio.run(pending())
        if left == 0:
            return
        print(f"[bench] waiting for {left} owed jobs", flush=True)
        time.sleep(2)


def _targets_of(part: dict[str, Any]) -> dict[str, Any]:
    """A part's own target verdicts, moved into the report's one list of targets."""
    found: dict[str, Any] = part.pop("targets", {})
    return found


def main() -> None:
    """Command-line entry."""
    parser = argparse.ArgumentParser(prog="python -m bench.run")
    parser.add_argument("--seconds", type=int, default=10, help="length of one wrk run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per wrk scenario")
    parser.add_argument("--pipeline-seconds", type=int, default=60)
    parser.add_argument("--drain-count", type=int, default=20000)
    parser.add_argument(
        "--scale", type=float, default=1.0, help="share of 13M residents / 40M requests"
    )
    parser.add_argument("--only", default=",".join(PARTS), help=f"parts: {','.join(PARTS)}")
    args = parser.parse_args()
    parts = [part.strip() for part in args.only.split(",") if part.strip()]
    base = base_env()
    figures: dict[str, Any] = {}
    targets: dict[str, Any] = {}
    if "http" in parts:
        found, met = measure_http(
            base,
            seconds=args.seconds,
            repeats=args.repeats,
            pipeline_seconds=args.pipeline_seconds,
        )
        figures.update(found)
        targets.update(met)
        figures["login_cost"] = measure_login_cost()
    if "drain" in parts:
        drain = measure_drain(base, count=args.drain_count, repeats=args.repeats)
        targets.update(_targets_of(drain))
        figures["notify_drain"] = drain
    if "scale" in parts:
        try:
            scale = measure_scale(
                base, scale=args.scale, seconds=args.seconds, repeats=args.repeats
            )
        except RuntimeError as exc:  # e.g. the data would not fit on this disk: say so
            print(f"[bench] scale: {exc}", flush=True)
            scale = {"error": str(exc), "targets": {"scale_ran": {"value": str(exc), "met": False}}}
        targets.update(_targets_of(scale))
        figures["scale"] = scale
    result = {
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": report.machine(),
        "settings": {
            "seconds_per_run": args.seconds,
            "repeats": args.repeats,
            "pipeline_seconds": args.pipeline_seconds,
            "drain_count": args.drain_count,
            "scale": args.scale,
            "parts": parts,
        },
        "figures": figures,
        "targets": targets,
    }
    report.write(result)
    if not targets.get("no_sequential_scan", {"met": True})["met"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
