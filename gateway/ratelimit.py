"""Fixed-window counters in Redis, shared by every gateway replica."""

from __future__ import annotations

import time
from dataclasses import dataclass

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from shared.errors import ServiceUnavailable, TooManyRequests

log = structlog.get_logger()

# INCR and set the expiry on first use, atomically; returns the count and the seconds left.
_HIT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('TTL', KEYS[1])
return {count, ttl}
"""


@dataclass(frozen=True)
class Limit:
    """At most `count` hits per `window` seconds."""

    count: int
    window: int


class RateLimiter:
    """Counts hits per key; sensitive limits fail closed, the rest fail open, when Redis is down."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_HIT)

    async def count(self, name: str, subject: str, window: int) -> tuple[int, int]:
        """Count one hit in the current window; (hits so far, seconds left). Fails closed."""
        key = f"{self._prefix}:rl:{name}:{subject}:{int(time.time()) // window}"
        try:
            count, ttl = await self._script(keys=[key], args=[window])
        except (RedisError, OSError) as exc:
            log.warning("ratelimit.unavailable", limit=name, error=type(exc).__name__)
            raise ServiceUnavailable(headers={"Retry-After": "5"}) from exc
        return int(count), int(ttl)

    async def hit(self, name: str, subject: str, limit: Limit, *, fail_closed: bool) -> None:
        """Count one hit; raise 429 with Retry-After past the limit."""
        window_start = int(time.time()) // limit.window
        key = f"{self._prefix}:rl:{name}:{subject}:{window_start}"
        try:
            count, ttl = await self._script(keys=[key], args=[limit.window])
        except (RedisError, OSError) as exc:
            log.warning("ratelimit.unavailable", limit=name, error=type(exc).__name__)
            if fail_closed:
                raise ServiceUnavailable(headers={"Retry-After": "5"}) from exc
            return
        if int(count) > limit.count:
            retry_after = max(int(ttl), 1)
            raise TooManyRequests(
                extra={"retry_after": retry_after}, headers={"Retry-After": str(retry_after)}
            )
