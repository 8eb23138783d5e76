"""Scenarios wrk drives: reference ceilings, gateway overhead, and writes through the gateway.

Parts 1-3 of issue 7's benchmark. Every scenario runs `repeats` times for `seconds` each at
64 connections; figures carry min/median/max throughput and the median p50/p99.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import statistics
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bench import wrk
from bench.sms_sink import SmsSink
from shared.identity import Identity, PrincipalKind, sign_identity
from shared.settings import DEV_INTERNAL_SECRET
from shared.validation import luhn_check_digit

DRAFT = {"department_code": "visas", "service_code": "final_exit", "description": "benchmark"}

# Each connection alternates: create a draft, then submit the draft some earlier answer named.
# wrk gives no per-connection state, so created ids wait in a shared queue.
SUBMIT_SCRIPT = """
local ids = {}
local create_body = '%(body)s'
function request()
  local id = table.remove(ids)
  if id then
    return wrk.format("POST", "/v1/requests/" .. id .. "/submit",
      {["Authorization"] = "%(auth)s", ["Content-Type"] = "application/json"}, "")
  end
  return wrk.format("POST", "/v1/requests",
    {["Authorization"] = "%(auth)s", ["Content-Type"] = "application/json"}, create_body)
end
function response(status, headers, body)
  local id = body:match('^{"id":"([%%x%%-]+)","reference":null,"status":"draft"')
  if id then table.insert(ids, id) end
end
"""


@dataclass(frozen=True)
class Scenario:
    """One wrk target: its URL, headers, and method/body or a whole Lua script."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    method: str = "GET"
    body: str | None = None
    script: str | None = None


@dataclass(frozen=True)
class Resident:
    """A verified resident with a bearer token and one draft, for the read scenarios."""

    token: str
    resident_id: str
    request_id: str
    phone: str


def ratio(numerator: float, denominator: float, target: float) -> dict[str, Any]:
    """A target expressed as a ratio of two figures from the same run."""
    value = numerator / denominator if denominator else 0.0
    return {"value": round(value, 3), "target": target, "met": value >= target}


def paired_ratio(
    figures: Mapping[str, Any], numerator: str, denominator: str, target: float
) -> dict[str, Any]:
    """A target as the median of each round's ratio between two scenarios run side by side.

    A shared VM's speed drifts by half within minutes; two scenarios measured seconds apart
    in the same round see the same machine, so their ratio does not carry the drift that a
    ratio of medians taken minutes apart does. Both are kept in the figures."""
    rounds = [
        top / bottom if bottom else 0.0
        for top, bottom in zip(
            figures[numerator]["per_run"], figures[denominator]["per_run"], strict=True
        )
    ]
    value = statistics.median(rounds)
    medians = ratio(
        figures[numerator]["requests_per_second"]["median"],
        figures[denominator]["requests_per_second"]["median"],
        target,
    )
    return {
        "value": round(value, 3),
        "target": target,
        "met": value >= target,
        "rounds": [round(r, 3) for r in rounds],
        "ratio_of_medians": medians["value"],
    }


def measure(
    scenarios: Mapping[str, Scenario],
    seconds: int,
    repeats: int,
    pids: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """Run the scenarios in `repeats` rounds, each scenario once per round in the given
    order, and summarise each over its rounds.

    Rounds rather than one scenario's repeats back to back: a pair compared by a target
    (listed next to each other) is then measured seconds apart in every round, and
    `paired_ratio` divides within a round. With `pids`, each process's CPU time per request
    is recorded too: the steadier figure on a shared machine, and the one the capacity plan
    divides cores by."""
    runs: dict[str, list[wrk.Sample]] = {label: [] for label in scenarios}
    spent: dict[str, dict[str, float]] = {label: {} for label in scenarios}
    for round_number in range(1, repeats + 1):
        for label, scenario in scenarios.items():
            print(f"[bench] {label} (round {round_number} of {repeats}, {seconds}s)", flush=True)
            before = {name: cpu_seconds(pid) for name, pid in (pids or {}).items()}
            runs[label].append(
                wrk.run(
                    scenario.url,
                    seconds=seconds,
                    headers=scenario.headers,
                    method=scenario.method,
                    body=scenario.body,
                    script=scenario.script,
                )
            )
            for name, pid in (pids or {}).items():
                used = cpu_seconds(pid) - before[name]
                spent[label][name] = spent[label].get(name, 0.0) + used
    out: dict[str, Any] = {}
    for label, samples in runs.items():
        out[label] = wrk.summary(samples)
        out[label]["per_run"] = [round(r.requests_per_second, 1) for r in samples]
        served = sum(r.requests_per_second for r in samples) * seconds
        if pids and served:
            out[label]["cpu_ms_per_request"] = {
                name: round(used / served * 1000, 3)
                for name, used in spent[label].items()
                if used / (seconds * repeats) > 0.02  # ignore processes that sat idle
            }
    return out


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time one process has used so far (from /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def resident_identity(env: Mapping[str, str], resident_id: str) -> str:
    """The signed identity header the gateway adds for this resident, valid for an hour."""
    return sign_identity(
        Identity(subject=resident_id, kind=PrincipalKind.resident),
        env.get("INTERNAL_AUTH_SECRET", DEV_INTERNAL_SECRET).encode(),
        now=time.time() + 3600 - 60,
    )


def submit_script(token: str) -> str:
    """The create-then-submit Lua script for one resident's token."""
    return SUBMIT_SCRIPT % {"body": json.dumps(DRAFT), "auth": f"Bearer {token}"}


async def seed_resident(gateway: str, env: Mapping[str, str], sink: SmsSink) -> Resident:
    """A resident (made verified in the database) with one draft, signed in through the API.

    The sign-in code is read where a resident reads it: from the SMS the provider received."""
    body = "1" + "".join(str(secrets.randbelow(10)) for _ in range(8))
    nid = body + luhn_check_digit(body)
    phone = "+9665" + "".join(str(secrets.randbelow(10)) for _ in range(8))
    engine = create_async_engine(env["DATABASE_URL"])
    try:
        async with httpx.AsyncClient(base_url=gateway, timeout=30) as client:
            registered = await client.post(
                "/v1/auth/register",
                json={"national_id": nid, "phone": phone, "password": "bench-password-1"},
            )
            registered.raise_for_status()
            code = await _code_from_sms(sink, phone, after=0)
            (
                await client.post(
                    "/v1/auth/register/verify",
                    json={"national_id": nid, "code": code},
                )
            ).raise_for_status()
            login = await client.post(
                "/v1/auth/login", json={"national_id": nid, "password": "bench-password-1"}
            )
            login.raise_for_status()
            challenge = login.json()["challenge_id"]
            code = await _code_from_sms(sink, phone, after=1)
            verified = await client.post(
                "/v1/auth/login/verify", json={"challenge_id": challenge, "code": code}
            )
            verified.raise_for_status()
            token = verified.json()["access_token"]
            draft = await client.post(
                "/v1/requests", headers={"Authorization": f"Bearer {token}"}, json=DRAFT
            )
            draft.raise_for_status()
            async with engine.connect() as conn:
                resident_id = str(
                    await conn.scalar(
                        text("SELECT id FROM residents WHERE national_id = :n"), {"n": nid}
                    )
                )
    finally:
        await engine.dispose()
    return Resident(token, resident_id, draft.json()["id"], phone)


async def _code_from_sms(sink: SmsSink, phone: str, *, after: int) -> str:
    """The six-digit code in the first message to `phone` after its first `after` ones."""
    for _ in range(200):
        received = [arrival for arrival in sink.snapshot() if arrival.to == phone]
        for arrival in received[after:]:
            match = re.search(r"\b(\d{6})\b", arrival.body)
            if match:
                return match.group(1)
        await asyncio.sleep(0.05)
    raise RuntimeError(f"no code reached {phone}")
