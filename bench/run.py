"""`python -m bench.run`: start a stack and reference apps, measure, write results.

Part of issue 7's benchmark. Measured now, side by side in one run, each repeated:
the reference ceilings (a constant FastAPI endpoint, a raw asyncpg insert) and the gateway's
overhead (the same authenticated read through the gateway and sent straight to intake with
the identity the gateway would add). Results: bench/results/latest.json and latest.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bench import wrk
from devstack.ports import free_ports
from devstack.processes import ProcessSpec, current_env, stack_processes
from devstack.supervisor import Supervisor
from services.db_loader import load_into
from shared.identity import Identity, PrincipalKind, sign_identity
from shared.settings import DEV_INTERNAL_SECRET
from shared.validation import luhn_check_digit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
FAST = {
    "ARGON2_MEMORY_KIB": "19456",
    "LOGIN_PER_IP_PER_MINUTE": "100000",
    "LOGIN_PER_ID_PER_MINUTE": "1000",
    "OTP_SENDS_PER_PHONE_PER_HOUR": "1000",
    "OTP_SENDS_PER_IP_PER_HOUR": "100000",
    "API_PER_PRINCIPAL_PER_MINUTE": "100000000",
    "SMS_PROVIDER": "console",
    "LOG_LEVEL": "WARNING",
    "SHUTDOWN_DELAY": "0",
}


async def _database(admin_url: str, name: str, *, create: bool) -> None:
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        if create:
            await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        else:
            await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await engine.dispose()


def _reference(name: str, factory: str, port: int, env: dict[str, str]) -> ProcessSpec:
    argv = (
        sys.executable,
        "-m",
        "shared.serve",
        factory,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    )
    return ProcessSpec(name, argv, port, env)


def measure(seconds: int, repeats: int) -> dict[str, Any]:
    """Run every scenario `repeats` times; return figures with min/median/max."""
    env_file = ROOT / ".devdata" / "test" / "env"
    base = dict(os.environ)
    if "DATABASE_URL" not in base and env_file.exists():
        for line in env_file.read_text().splitlines():
            if line.startswith("export ") and "=" in line:
                key, value = line[7:].split("=", 1)
                base[key] = value.strip("'")
    url = make_url(base["DATABASE_URL"])
    admin = base.get("ADMIN_DATABASE_URL") or url.set(database="postgres").render_as_string(
        hide_password=False
    )
    name = f"tawasul_bench_{secrets.token_hex(4)}"
    database_url = url.set(database=name).render_as_string(hide_password=False)
    asyncio.run(_database(admin, name, create=True))
    supervisor: Supervisor | None = None
    try:
        env = current_env(
            {
                **base,
                **FAST,
                "DATABASE_URL": database_url,
                "GATEWAY_PORT": "0",
                "QUEUE_PREFIX": f"bench-{secrets.token_hex(3)}",
                "S3_CREATE_BUCKET": "true",
                "S3_BUCKET": name.replace("_", "-"),
            }
        )
        subprocess.run(  # noqa: S603 - our own fixed command line
            [
                sys.executable,
                "-m",
                "alembic",
                "-c",
                str(ROOT / "alembic.ini"),
                "upgrade",
                "head",
            ],
            env=env,
            check=True,
            cwd=ROOT,
            capture_output=True,
        )
        asyncio.run(load_into(database_url))
        constant_port, insert_port = free_ports(2)
        specs = stack_processes(env)
        specs.append(
            _reference(
                "ref-constant", "bench.reference_apps:create_constant_app", constant_port, env
            )
        )
        dsn = database_url.replace("+asyncpg", "")
        specs.append(
            _reference(
                "ref-insert",
                "bench.reference_apps:create_insert_app",
                insert_port,
                {**env, "BENCH_DSN": dsn},
            )
        )
        supervisor = Supervisor(specs, log_dir=ROOT / ".devdata" / "bench-logs")
        supervisor.start_all()
        supervisor.wait_ready(timeout=90)
        ports = {spec.name: spec.port for spec in specs}
        return _scenarios(ports, env, seconds, repeats)
    finally:
        if supervisor is not None:
            supervisor.stop_all(timeout=20)
        asyncio.run(_database(admin, name, create=False))


def _scenarios(
    ports: dict[str, int | None], env: dict[str, str], seconds: int, repeats: int
) -> dict[str, Any]:
    gateway = f"http://127.0.0.1:{ports['gateway']}"
    intake = f"http://127.0.0.1:{ports['intake']}"
    token, request_id, resident_id = asyncio.run(_seed(gateway, env))
    identity = sign_identity(
        Identity(subject=resident_id, kind=PrincipalKind.resident),
        env.get("INTERNAL_AUTH_SECRET", DEV_INTERNAL_SECRET).encode(),
        now=time.time() + 3600 - 60,  # valid for the whole run
    )
    scenarios: dict[str, tuple[str, dict[str, str], str, str | None]] = {
        "reference_constant": (
            f"http://127.0.0.1:{ports['ref-constant']}/constant",
            {},
            "GET",
            None,
        ),
        "reference_insert": (f"http://127.0.0.1:{ports['ref-insert']}/insert", {}, "POST", "{}"),
        "read_direct": (
            f"{intake}/v1/requests/{request_id}",
            {"x-tawasul-identity": identity},
            "GET",
            None,
        ),
        "read_via_gateway": (
            f"{gateway}/v1/requests/{request_id}",
            {"Authorization": f"Bearer {token}"},
            "GET",
            None,
        ),
    }
    figures: dict[str, Any] = {}
    for label, (target, headers, method, body) in scenarios.items():
        runs = [
            wrk.run(target, seconds=seconds, headers=headers, method=method, body=body)
            for _ in range(repeats)
        ]
        rps = [r.requests_per_second for r in runs]
        figures[label] = {
            "requests_per_second": {
                "min": min(rps),
                "median": statistics.median(rps),
                "max": max(rps),
            },
            "p50_ms": statistics.median(r.p50_ms for r in runs),
            "p99_ms": statistics.median(r.p99_ms for r in runs),
            "non_2xx": sum(r.non_2xx for r in runs),
            "errors": sum(r.errors for r in runs),
        }
    direct = figures["read_direct"]["requests_per_second"]["median"]
    proxied = figures["read_via_gateway"]["requests_per_second"]["median"]
    figures["gateway_read_ratio"] = {
        "value": round(proxied / direct, 3),
        "target": 0.7,
        "met": proxied / direct >= 0.7,
    }
    return figures


async def _seed(gateway: str, env: dict[str, str]) -> tuple[str, str, str]:
    """A resident (made verified in the database) with one request, and a token for them."""
    from sqlalchemy import text

    body = "1" + "".join(str(secrets.randbelow(10)) for _ in range(8))
    nid = body + luhn_check_digit(body)
    phone = "+9665" + "".join(str(secrets.randbelow(10)) for _ in range(8))
    engine = create_async_engine(env["DATABASE_URL"])
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as client:
        (
            await client.post(
                "/v1/auth/register",
                json={"national_id": nid, "phone": phone, "password": "bench-password-1"},
            )
        ).raise_for_status()
        async with engine.begin() as conn:
            await conn.execute(
                text("UPDATE residents SET verified_at = now() WHERE national_id = :n"), {"n": nid}
            )
        login = (
            await client.post(
                "/v1/auth/login", json={"national_id": nid, "password": "bench-password-1"}
            )
        ).json()
        code = await _code_from_outbox(engine, login["challenge_id"])
        tokens = (
            await client.post(
                "/v1/auth/login/verify", json={"challenge_id": login["challenge_id"], "code": code}
            )
        ).json()
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        draft = (
            await client.post(
                "/v1/requests",
                headers=headers,
                json={
                    "department_code": "visas",
                    "service_code": "final_exit",
                    "description": "benchmark",
                },
            )
        ).json()
        async with engine.connect() as conn:
            resident_id = str(
                await conn.scalar(
                    text("SELECT id FROM residents WHERE national_id = :n"), {"n": nid}
                )
            )
    await engine.dispose()
    return tokens["access_token"], draft["id"], resident_id


async def _code_from_outbox(engine: Any, challenge_id: str) -> str:
    """The sign-in code as owed to the SMS queue (benchmark set-up only)."""
    from sqlalchemy import text

    for _ in range(50):
        async with engine.connect() as conn:
            code = await conn.scalar(
                text(
                    "SELECT payload -> 'values' ->> 'code' FROM outbox WHERE job = 'send_otp' "
                    "ORDER BY created_at DESC LIMIT 1"
                )
            )
        if code:
            return str(code)
        await asyncio.sleep(0.1)
    raise RuntimeError(f"no code was owed for challenge {challenge_id}")


def write(figures: dict[str, Any], seconds: int, repeats: int) -> None:
    """bench/results/latest.json and a markdown table beside it."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "settings": {"seconds_per_run": seconds, "repeats": repeats, "connections": 64},
        "figures": figures,
    }
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2))
    lines = [
        "| scenario | req/s min / median / max | p50 ms | p99 ms | non-2xx | errors |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for label, data in figures.items():
        if "requests_per_second" not in data:
            continue
        rps = data["requests_per_second"]
        lines.append(
            f"| {label} | {rps['min']:.0f} / {rps['median']:.0f} / {rps['max']:.0f} | "
            f"{data['p50_ms']:.1f} | {data['p99_ms']:.1f} | {data['non_2xx']} | "
            f"{data['errors']} |"
        )
    ratio = figures["gateway_read_ratio"]
    lines.append("")
    lines.append(
        f"Gateway read throughput = {ratio['value']} × direct (target ≥ "
        f"{ratio['target']}): {'met' if ratio['met'] else 'NOT MET'}."
    )
    (RESULTS / "latest.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    """Command-line entry."""
    parser = argparse.ArgumentParser(prog="python -m bench.run")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    write(measure(args.seconds, args.repeats), args.seconds, args.repeats)


if __name__ == "__main__":
    main()
