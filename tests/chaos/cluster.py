"""The whole system on a Postgres, a Redis and an SMS provider that the scenario may break.

The stack's processes are the ones `make run` starts (devstack), on a private Postgres
cluster and a private Redis started for the scenario, so crashing them touches nothing a
test or a person shares. S3 is the run's own bucket (submissions do not touch it).
"""

from __future__ import annotations

import signal
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.chaos.postgres import PrivatePostgres
from tests.support.database import create_database, migrate_and_load
from tests.support.live import LiveStack, PrivateRedis, live_stack
from tests.support.sms_receiver import SmsReceiver
from tests.support.sync import run_sync

DATABASE = "tawasul"
# The scenario checks delivery under faults, not sessions: its residents sign in once.
LONG_SESSIONS = {"ACCESS_TOKEN_TTL": "14400"}


@dataclass
class Cluster:
    """Handles on everything a fault may touch."""

    postgres: PrivatePostgres
    redis: PrivateRedis
    sms: SmsReceiver
    stack: LiveStack
    database_url: str
    prefix: str

    def kill(self, process: str) -> None:
        """SIGKILL one of the stack's processes (no graceful shutdown)."""
        self.stack.supervisor.signal(process, signal.SIGKILL)

    def restart(self, process: str) -> None:
        """Start a killed process again, as Kubernetes would."""
        self.stack.supervisor.start(process)

    def crash_postgres(self) -> None:
        """`pg_ctl stop -m immediate`: every connection dies, WAL replay on restart."""
        self.postgres.crash()

    def start_postgres(self) -> None:
        """Start it again on the same port and data."""
        self.postgres.wait_stopped()
        self.postgres.start()

    def kill_redis(self) -> None:
        """SIGKILL Redis; it keeps nothing on disk, so every queued job is gone."""
        self.redis.stop()

    def start_redis(self) -> None:
        """Start it again, empty."""
        self.redis.start()


@contextmanager
def cluster(base_env: Mapping[str, str], work_dir: Path) -> Iterator[Cluster]:
    """Private Postgres and Redis, the SMS provider, and every process of the stack."""
    postgres = PrivatePostgres()
    redis = PrivateRedis()
    try:
        postgres.start()
        run_sync(create_database(postgres.url(), DATABASE))
        database_url = postgres.url(DATABASE)
        run_sync(migrate_and_load(database_url))
        redis.start()
        with SmsReceiver() as sms:
            env = {
                **base_env,
                **LONG_SESSIONS,
                "DATABASE_URL": database_url,
                "REDIS_URL": redis.url,
                "SMS_PROVIDER": "webhook",
                "SMS_WEBHOOK_URL": sms.url,
            }
            with live_stack(env, work_dir / "logs") as stack:
                yield Cluster(postgres, redis, sms, stack, database_url, env["QUEUE_PREFIX"])
    finally:
        redis.stop()
        postgres.destroy()
