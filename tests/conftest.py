"""Fixtures: a fresh database, a private Redis key space and S3 bucket, the apps wired together."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from redis import Redis
from sqlalchemy.engine import make_url

from tests.support.buckets import remove_bucket
from tests.support.database import create_database, drop_database, migrate_and_load
from tests.support.sms_receiver import SmsReceiver
from tests.support.sync import run_sync

ROOT = Path(__file__).resolve().parent.parent


def _env_file_values() -> dict[str, str]:
    """Values from `scripts/services.sh up --profile test` when pytest runs outside make."""
    path = ROOT / ".devdata" / "test" / "env"
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.startswith("export ") and "=" in line:
                key, value = line[len("export ") :].split("=", 1)
                values[key] = value.strip("'\"")
    return values


@dataclass(frozen=True)
class Backing:
    """The real servers the tests talk to, and the names this run owns on them."""

    database_url: str
    redis_url: str
    prefix: str
    s3_endpoint_url: str
    s3_bucket: str
    aws_key: str
    aws_secret: str
    region: str

    def env(self) -> dict[str, str]:
        """Environment variables for a process of the stack."""
        return {
            "ENVIRONMENT": "test",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "QUEUE_PREFIX": self.prefix,
            "S3_ENDPOINT_URL": self.s3_endpoint_url,
            "S3_BUCKET": self.s3_bucket,
            "S3_REGION": self.region,
            "S3_ACCESS_KEY_ID": self.aws_key,
            "S3_SECRET_ACCESS_KEY": self.aws_secret,
            "AWS_ACCESS_KEY_ID": self.aws_key,
            "AWS_SECRET_ACCESS_KEY": self.aws_secret,
            "AWS_DEFAULT_REGION": self.region,
            "LOG_JSON": "true",
            "LOG_LEVEL": "INFO",
        }


@pytest.fixture(scope="session")
def backing() -> Iterator[Backing]:
    """Create this run's database (migrated, catalog loaded), Redis prefix and S3 bucket."""
    values = {**_env_file_values(), **os.environ}
    if "DATABASE_URL" not in values or "REDIS_URL" not in values:
        pytest.exit("No DATABASE_URL/REDIS_URL: run `make test` (it starts or finds them).", 2)
    base_url = make_url(values["DATABASE_URL"])
    admin_url = values.get("ADMIN_DATABASE_URL") or base_url.set(
        database="postgres"
    ).render_as_string(hide_password=False)
    token = secrets.token_hex(4)
    name = f"tawasul_test_{token}"
    database_url = base_url.set(database=name).render_as_string(hide_password=False)
    s3_url = values.get("S3_ENDPOINT_URL")
    if not s3_url:
        pytest.exit("No S3_ENDPOINT_URL: run `make test` (it starts a local S3 server).", 2)
    backing = Backing(
        database_url=database_url,
        redis_url=values["REDIS_URL"],
        prefix=f"tawasul-test-{token}",
        s3_endpoint_url=s3_url,
        s3_bucket=f"tawasul-test-{token}",
        aws_key=values.get("AWS_ACCESS_KEY_ID", "testing"),
        aws_secret=values.get("AWS_SECRET_ACCESS_KEY", "testing"),
        region=values.get("AWS_DEFAULT_REGION", "us-east-1"),
    )
    run_sync(create_database(admin_url, name))
    s3 = boto3.client(
        "s3",
        endpoint_url=s3_url,
        aws_access_key_id=backing.aws_key,
        aws_secret_access_key=backing.aws_secret,
        region_name=backing.region,
    )
    try:
        run_sync(migrate_and_load(database_url))
        s3.create_bucket(Bucket=backing.s3_bucket)
        yield backing
    finally:
        run_sync(drop_database(admin_url, name))
        _clean_redis(backing)
        remove_bucket(s3, backing.s3_bucket)


def _clean_redis(backing: Backing) -> None:
    """Delete only the keys this run created (never FLUSHALL a shared Redis)."""
    try:
        client = Redis.from_url(backing.redis_url, socket_timeout=5)
        for pattern in (f"{backing.prefix}:*", f"arq:*:{backing.prefix}:*"):
            keys = list(client.scan_iter(match=pattern, count=1000))
            for start in range(0, len(keys), 500):
                client.delete(*keys[start : start + 500])
        client.close()
    except Exception as exc:  # a Redis a test stopped must not hide the test's own result
        print(f"redis clean-up skipped: {exc!r}")


@pytest.fixture(scope="session")
def sms() -> Iterator[SmsReceiver]:
    """The local SMS provider every test stack sends to."""
    with SmsReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="session")
async def stack(backing: Backing, sms: SmsReceiver) -> AsyncIterator[Any]:
    """Gateway and intake apps in-process (gateway reaches intake over ASGI), plus workers."""
    from tests.support.inprocess import InProcessStack

    async with InProcessStack(backing, sms.url) as running:
        yield running


@pytest.fixture
async def client(stack: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the gateway."""
    async with stack.gateway_client() as gateway_client:
        yield gateway_client
