"""Progressive sign-in delays per login ID, the same for IDs that exist and IDs that do not.

The delay used to live on the account row, so only existing accounts were ever locked: after
five wrong passwords a known ID answered 429 `account_temporarily_locked` and an unknown one
kept answering 401, which told an attacker which IDs exist (checklist #26). The count is now
kept in Redis under a keyed hash of the login ID, whether or not an account has that ID:
from the fifth failure in a row the ID waits 30 s, doubling each time, at most an hour; a
right password clears it. Redis down: sign-in fails closed (503), like its rate limits.
"""

from __future__ import annotations

import hashlib
import hmac

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.auth.errors import AccountLocked
from shared.errors import ServiceUnavailable

log = structlog.get_logger()

LOCK_AFTER_FAILURES = 5
FIRST_DELAY = 30
MAX_DELAY = 3600
FORGET_AFTER = 24 * 3600  # a failure streak older than a day no longer counts
_LIMITS = (FORGET_AFTER, LOCK_AFTER_FAILURES, FIRST_DELAY, MAX_DELAY)

# Count one failure (the streak forgotten a day after its last failure) and, from the fifth,
# lock for 30 s doubling per failure, at most an hour. Returns the count.
_FAILED = """
local count = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
local after = tonumber(ARGV[2])
if count >= after then
  local delay = math.min(tonumber(ARGV[4]), tonumber(ARGV[3]) * 2 ^ (count - after))
  redis.call('SET', KEYS[2], '1', 'EX', math.floor(delay))
end
return count
"""


class Lockout:
    """Failure streaks and locks per (kind, login ID), shared by every gateway replica."""

    def __init__(self, redis: Redis, prefix: str, key: bytes) -> None:
        self._redis = redis
        self._prefix = prefix
        self._key = key
        self._failed = redis.register_script(_FAILED)

    def _keys(self, kind: str, login: str) -> tuple[str, str]:
        """Redis keys of one login ID; the ID itself is never stored."""
        digest = hmac.new(self._key, f"{kind}:{login}".encode(), hashlib.sha256).hexdigest()[:32]
        return f"{self._prefix}:login-fail:{digest}", f"{self._prefix}:login-lock:{digest}"

    async def check(self, kind: str, login: str) -> None:
        """429 with Retry-After while the ID is locked."""
        _, lock = self._keys(kind, login)
        try:
            seconds = int(await self._redis.ttl(lock))
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc
        if seconds > 0:
            raise AccountLocked(
                headers={"Retry-After": str(seconds)}, extra={"retry_after": seconds}
            )

    async def failed(self, kind: str, login: str) -> int:
        """One more wrong password for this ID; returns the streak's length."""
        streak, lock = self._keys(kind, login)
        try:
            count = await self._failed(
                keys=[streak, lock],
                args=[FORGET_AFTER, LOCK_AFTER_FAILURES, FIRST_DELAY, MAX_DELAY],
            )
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc
        return int(count)

    async def succeeded(self, kind: str, login: str) -> None:
        """A right password ends the streak."""
        try:
            await self._redis.delete(*self._keys(kind, login))
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc

    @staticmethod
    def _unavailable(exc: BaseException) -> ServiceUnavailable:
        log.warning("auth.lockout_unavailable", error=type(exc).__name__)
        return ServiceUnavailable(headers={"Retry-After": "5"})
