"""What every benchmark scenario stands on: a database of its own and the stack's processes.

Each scenario owns a fresh database (migrated, catalog loaded), a Redis key prefix and a
bucket, so scenarios never see each other's rows or jobs, and everything is removed after.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from devstack.processes import ProcessSpec, current_env, stack_processes
from devstack.supervisor import Supervisor
from services.db_loader import load_into

ROOT = Path(__file__).resolve().parent.parent
LOG_DIR = ROOT / ".devdata" / "bench-logs"

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
"""Benchmark settings: rate limits out of the way, argon2 at OWASP's minimum, quiet logs."""


def base_env() -> dict[str, str]:
    """This process's environment, plus the test profile's servers when none are named."""
    env_file = ROOT / ".devdata" / "test" / "env"
    base = dict(os.environ)
    if "DATABASE_URL" not in base and env_file.exists():
        for line in env_file.read_text().splitlines():
            if line.startswith("export ") and "=" in line:
                key, value = line[7:].split("=", 1)
                base[key] = value.strip("'")
    return base


def admin_url(database_url: str, env: Mapping[str, str]) -> str:
    """Where CREATE/DROP DATABASE runs: ADMIN_DATABASE_URL, else the `postgres` database."""
    explicit = env.get("ADMIN_DATABASE_URL")
    if explicit:
        return explicit
    return make_url(database_url).set(database="postgres").render_as_string(hide_password=False)


async def _database(admin: str, name: str, *, create: bool) -> None:
    engine = create_async_engine(admin, isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        if create:
            await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        else:
            await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await engine.dispose()


def migrate(env: Mapping[str, str]) -> None:
    """alembic upgrade head against env's DATABASE_URL."""
    subprocess.run(  # noqa: S603 - our own fixed command line
        [sys.executable, "-m", "alembic", "-c", str(ROOT / "alembic.ini"), "upgrade", "head"],
        env=dict(env),
        check=True,
        cwd=ROOT,
        capture_output=True,
    )


@contextmanager
def fresh_database(base: Mapping[str, str], *, label: str = "bench") -> Iterator[dict[str, str]]:
    """A new database, migrated and with the catalog loaded; yields the env that points at it.

    The env also carries a Redis prefix and a bucket of its own. Dropped on exit."""
    url = make_url(base["DATABASE_URL"])
    name = f"tawasul_{label}_{secrets.token_hex(4)}"
    database_url = url.set(database=name).render_as_string(hide_password=False)
    admin = admin_url(base["DATABASE_URL"], base)
    asyncio.run(_database(admin, name, create=True))
    try:
        env = current_env(
            {
                **base,
                **FAST,
                "DATABASE_URL": database_url,
                "GATEWAY_PORT": "0",
                "QUEUE_PREFIX": f"{label}-{secrets.token_hex(3)}",
                "S3_CREATE_BUCKET": "true",
                "S3_BUCKET": name.replace("_", "-"),
            }
        )
        migrate(env)
        asyncio.run(load_into(database_url))
        yield env
    finally:
        asyncio.run(_database(admin, name, create=False))


def asyncpg_dsn(env: Mapping[str, str]) -> str:
    """env's DATABASE_URL as a DSN asyncpg takes directly."""
    return env["DATABASE_URL"].replace("+asyncpg", "")


@dataclass
class Running:
    """Processes that are up: their ports by name, and the supervisor that owns them."""

    supervisor: Supervisor
    specs: dict[str, ProcessSpec]

    def port(self, name: str) -> int:
        """The HTTP port of one process."""
        port = self.specs[name].port
        if port is None:
            raise KeyError(f"{name} has no port")
        return port

    def url(self, name: str) -> str:
        """http://127.0.0.1:<port> of one process."""
        return f"http://127.0.0.1:{self.port(name)}"

    def pids(self) -> dict[str, int]:
        """Each running process's pid (for memory readings)."""
        return {name: proc.pid for name, proc in self.supervisor.procs.items()}


@contextmanager
def running(specs: Iterable[ProcessSpec], *, timeout: float = 120) -> Iterator[Running]:
    """Start the given processes, wait until each answers /readyz, stop them all on exit."""
    spec_list = list(specs)
    supervisor = Supervisor(spec_list, log_dir=LOG_DIR)
    try:
        supervisor.start_all()
        supervisor.wait_ready(timeout=timeout)
        yield Running(supervisor, {spec.name: spec for spec in spec_list})
    finally:
        supervisor.stop_all(timeout=20)


def stack(env: Mapping[str, str], *, only: Iterable[str] | None = None) -> list[ProcessSpec]:
    """The system's processes for env (optionally only the named ones)."""
    specs = stack_processes(env)
    if only is None:
        return specs
    wanted = set(only)
    return [spec for spec in specs if spec.name in wanted]


def reference(name: str, factory: str, port: int, env: Mapping[str, str]) -> ProcessSpec:
    """A reference app from bench/reference_apps.py served exactly like the services."""
    argv = (sys.executable, "-m", "shared.serve", factory, "--host", "127.0.0.1")
    return ProcessSpec(name, (*argv, "--port", str(port)), port, dict(env))
