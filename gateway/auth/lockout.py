"""Progressive sign-in delays per login ID, the same for IDs that exist and IDs that do not.

The delay used to live on the account row, so only existing accounts were ever locked: after
five wrong passwords a known ID answered 429 `account_temporarily_locked` and an unknown one
kept answering 401, which told an attacker which IDs exist (checklist #26). The count is now
kept in Redis under a keyed hash of the login ID, whether or not an account has that ID:
from the fifth failure in a row the ID waits 30 s, doubling each time, at most an hour; a
right password clears it. Redis down: sign-in fails closed (503), like its rate limits.

Sign-in codes (checklist #24) keep a second streak per account under the same rules, so
wrong codes across successive challenges add up rather than starting afresh with each new
SMS. Only a right code ends it (not a right password: whoever guesses codes has that), and
at 100 wrong codes in a row (NIST SP 800-63B §5.2.2 asks for at most 100) the account is
locked for 30 days, then again at every further wrong code, until a right one or support
clears it (`succeeded`). Only someone who knows the password can start such a streak, so it
is no lock an outsider can put on an account (ASVS 6.1.1).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.auth.errors import AccountLocked
from shared.errors import ServiceUnavailable

log = structlog.get_logger()

DAY = 24 * 3600


@dataclass(frozen=True)
class Policy:
    """When a streak of failures starts to wait, how long, and whether it ever locks hard."""

    lock_after: int = 5
    first_delay: int = 30
    max_delay: int = 3600
    forget_after: int = DAY  # a streak this long past its last failure no longer counts
    hard_lock_after: int = 0  # 0: never; the password streak must not, or anyone could lock
    hard_lock: int = 0


PASSWORDS = Policy()
CODES = Policy(forget_after=30 * DAY, hard_lock_after=100, hard_lock=30 * DAY)

# Count one failure and lock: from `lock_after`, for `first_delay` doubling per failure, at
# most `max_delay`; from `hard_lock_after` (if set), for `hard_lock`, and the streak is then
# kept past that lock. With ARGV[7] = '1' a locked ID is refused first (nothing counted).
# Returns {count, seconds the ID is still locked for if refused, else 0}.
_FAILED = """
if ARGV[7] == '1' then
  local left = redis.call('TTL', KEYS[2])
  if left > 0 then return {0, left} end
end
local count = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1])
local after, hard = tonumber(ARGV[2]), tonumber(ARGV[5])
if hard > 0 and count >= hard then
  redis.call('SET', KEYS[2], '1', 'EX', ARGV[6])
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[6]) + tonumber(ARGV[1]))
elseif count >= after then
  local delay = math.min(tonumber(ARGV[4]), tonumber(ARGV[3]) * 2 ^ (count - after))
  redis.call('SET', KEYS[2], '1', 'EX', math.floor(delay))
end
return {count, 0}
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
            raise _locked(seconds)

    async def failed(self, kind: str, login: str, policy: Policy = PASSWORDS) -> int:
        """One more wrong password for this ID; returns the streak's length."""
        count, _ = await self._count(kind, login, policy, refuse_locked=False)
        return count

    async def attempt(self, kind: str, login: str, policy: Policy = CODES) -> int:
        """Count one try as failed before it is judged (429 instead while locked).

        Counting first, in the same step as the lock check, is what makes concurrent tries
        count exactly: the try that reaches the lock sets it, and every later one is refused
        unjudged. A right try then ends the streak with `succeeded`. Returns the length."""
        count, locked_for = await self._count(kind, login, policy, refuse_locked=True)
        if locked_for > 0:
            raise _locked(locked_for)
        if policy.hard_lock_after and count == policy.hard_lock_after:
            log.error("auth.hard_locked", kind=kind, failures=count)
        return count

    async def succeeded(self, kind: str, login: str) -> None:
        """A right password (or code, for a code streak) ends the streak."""
        try:
            await self._redis.delete(*self._keys(kind, login))
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc

    async def _count(
        self, kind: str, login: str, policy: Policy, *, refuse_locked: bool
    ) -> tuple[int, int]:
        """Run the counting script: (streak length, seconds left if refused)."""
        try:
            count, locked_for = await self._failed(
                keys=list(self._keys(kind, login)),
                args=[
                    policy.forget_after,
                    policy.lock_after,
                    policy.first_delay,
                    policy.max_delay,
                    policy.hard_lock_after,
                    policy.hard_lock,
                    "1" if refuse_locked else "0",
                ],
            )
        except (RedisError, OSError) as exc:
            raise self._unavailable(exc) from exc
        return int(count), int(locked_for)

    @staticmethod
    def _unavailable(exc: BaseException) -> ServiceUnavailable:
        log.warning("auth.lockout_unavailable", error=type(exc).__name__)
        return ServiceUnavailable(headers={"Retry-After": "5"})


def _locked(seconds: int) -> AccountLocked:
    """The lock answer, the same for every kind of streak."""
    return AccountLocked(headers={"Retry-After": str(seconds)}, extra={"retry_after": seconds})
