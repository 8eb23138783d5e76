"""Redis connections for arq with JSON payloads (never pickle) and socket timeouts."""

from __future__ import annotations

import json
from typing import Any

from arq.connections import ArqRedis, RedisSettings
from redis.asyncio import ConnectionPool


def serialize(obj: dict[str, Any]) -> bytes:
    """JSON job payloads: jobs carry IDs only, and Redis must never hold code to unpickle."""
    return json.dumps(obj, default=str, separators=(",", ":")).encode()


def deserialize(data: bytes) -> dict[str, Any]:
    """Inverse of `serialize`."""
    result: dict[str, Any] = json.loads(data)
    return result


def create_arq_redis(url: str, *, default_queue_name: str) -> ArqRedis:
    """A pool that fails fast when Redis stalls instead of hanging a request or the relay."""
    pool = ConnectionPool.from_url(
        url,
        socket_connect_timeout=1,
        socket_timeout=2,
        health_check_interval=30,
        max_connections=50,
    )
    return ArqRedis(
        connection_pool=pool,
        job_serializer=serialize,
        job_deserializer=deserialize,
        default_queue_name=default_queue_name,
    )


def redis_settings(url: str) -> RedisSettings:
    """arq's own settings for the worker's polling connection."""
    settings = RedisSettings.from_dsn(url)
    settings.conn_timeout = 2
    settings.conn_retries = 3
    settings.conn_retry_delay = 1
    return settings
