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

    async def _hit(self, name: str, subject: str, window: int) -> tuple[int, int]:
        """One hit in the current window of `window` seconds: (hits so far, seconds left).
        Raises RedisError/OSError; the caller decides whether that fails open or closed."""
        key = f"{self._prefix}:rl:{name}:{subject}:{int(time.time()) // window}"
        count, ttl = await self._script(keys=[key], args=[window])
        return int(count), int(ttl)

    async def count(self, name: str, subject: str, window: int) -> tuple[int, int]:
        """Count one hit in the current window; (hits so far, seconds left). Fails closed."""
        try:
            return await self._hit(name, subject, window)
        except (RedisError, OSError) as exc:
            log.warning("ratelimit.unavailable", limit=name, error=type(exc).__name__)
            raise ServiceUnavailable(headers={"Retry-After": "5"}) from exc

    async def hit(self, name: str, subject: str, limit: Limit, *, fail_closed: bool) -> None:
        """Count one hit; raise 429 with Retry-After past the limit."""
        try:
            count, ttl = await self._hit(name, subject, limit.window)
        except (RedisError, OSError) as exc:
            log.warning("ratelimit.unavailable", limit=name, error=type(exc).__name__)
            if fail_closed:
                raise ServiceUnavailable(headers={"Retry-After": "5"}) from exc
            return
        if count > limit.count:
            retry_after = max(ttl, 1)
            raise TooManyRequests(
                extra={"retry_after": retry_after}, headers={"Retry-After": str(retry_after)}
            )
