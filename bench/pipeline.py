"""Part 4 of issue 7's benchmark: submission to the SMS provider's receipt, at a steady load.

Drafts are made first, so the measured window holds only submissions, fired on a fixed
schedule (an open loop: a slow answer does not slow the offered load). Each submission's
"received" SMS names its reference; the local provider timestamps its arrival, and the
latency is arrival minus the moment the submission's answer came back.
"""

from __future__ import annotations

import asyncio
import math
import re
import statistics
import time
from collections import Counter
from typing import Any

import httpx

from bench.http_scenarios import DRAFT
from bench.sms_sink import SmsSink

REFERENCE = re.compile(r"TW-\d{4}-\d{8}")


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (share in 0..1) of a non-empty list."""
    ordered = sorted(values)
    rank = max(math.ceil(share * len(ordered)), 1)
    return ordered[rank - 1]


async def _drafts(client: httpx.AsyncClient, count: int) -> list[str]:
    ids: list[str] = []
    gate = asyncio.Semaphore(32)

    async def one() -> None:
        async with gate:
            response = await client.post("/v1/requests", json=DRAFT)
            response.raise_for_status()
            ids.append(response.json()["id"])

    await asyncio.gather(*(one() for _ in range(count)))
    return ids


async def _run(
    gateway: str, token: str, sink: SmsSink, rate: float, seconds: int, grace: float
) -> dict[str, Any]:
    count = max(int(rate * seconds), 1)
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        base_url=gateway, headers=headers, timeout=30, limits=limits
    ) as client:
        ids = await _drafts(client, count)
        answered: dict[str, float] = {}
        failures = 0
        refused: Counter[str] = Counter()

        async def submit(request_id: str) -> None:
            nonlocal failures
            response = await client.post(f"/v1/requests/{request_id}/submit")
            if response.status_code != 200:
                failures += 1
                refused[f"{response.status_code} {response.json().get('code', '')}"] += 1
                return
            answered[response.json()["reference"]] = time.monotonic()

        start = time.monotonic()
        tasks = []
        for index, request_id in enumerate(ids):
            delay = start + index / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(submit(request_id)))
        await asyncio.gather(*tasks)
        offered = time.monotonic() - start
    deadline = time.monotonic() + grace
    arrivals = _first_arrivals(sink, answered)
    while len(arrivals) < len(answered) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        arrivals = _first_arrivals(sink, answered)
    latencies = [(arrivals[ref] - at) * 1000 for ref, at in answered.items() if ref in arrivals]
    return {
        "rate_per_second": round(rate, 1),
        "seconds": round(offered, 1),
        "submissions": len(answered),
        "submit_failures": failures,
        "submit_refusals": dict(refused),
        "without_sms": len(answered) - len(latencies),
        "p50_ms": round(percentile(latencies, 0.5), 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99), 1) if latencies else None,
        "max_ms": round(max(latencies), 1) if latencies else None,
        "mean_ms": round(statistics.fmean(latencies), 1) if latencies else None,
    }


def _first_arrivals(sink: SmsSink, wanted: dict[str, float]) -> dict[str, float]:
    """When the first SMS naming each wanted reference reached the provider."""
    first: dict[str, float] = {}
    for arrival in sink.snapshot():
        match = REFERENCE.search(arrival.body)
        if match and match.group(0) in wanted and match.group(0) not in first:
            first[match.group(0)] = arrival.at
    return first


def measure_pipeline(
    gateway: str, token: str, sink: SmsSink, *, rate: float, seconds: int = 60, grace: float = 30
) -> dict[str, Any]:
    """Submit at `rate` per second for `seconds`; latency to the provider, and what never came.

    Targets: p50 ≤ 150 ms, p99 ≤ 1 s, zero submissions without their SMS."""
    result = asyncio.run(_run(gateway, token, sink, rate, seconds, grace))
    p50, p99 = result["p50_ms"], result["p99_ms"]
    result["targets"] = {
        "pipeline_p50_ms": {"value": p50, "target": 150, "met": p50 is not None and p50 <= 150},
        "pipeline_p99_ms": {"value": p99, "target": 1000, "met": p99 is not None and p99 <= 1000},
        "pipeline_without_sms": {
            "value": result["without_sms"] + result["submit_failures"],
            "target": 0,
            "met": result["without_sms"] == 0 and result["submit_failures"] == 0,
        },
    }
    return result
