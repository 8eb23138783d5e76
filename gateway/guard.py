"""Checks every authenticated call: token valid, session not ended, caller under its rate."""

from __future__ import annotations

import math
import time

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.auth.errors import InvalidAccessToken
from gateway.auth.tokens import AccessClaims, InvalidToken, TokenIssuer
from gateway.batched_script import BatchedScript
from shared.errors import ServiceUnavailable, TooManyRequests

log = structlog.get_logger()

# One round trip: is the session revoked, and how many calls has this caller made this minute.
# A revoked session's key holds the time (Unix seconds) from which it is revoked: "1" (any past
# time) means already, a future time ends the session then (a rotated secret's overlap).
_CHECK = """
local revoked = 0
local since = redis.call('GET', KEYS[1])
if since and tonumber(since) <= tonumber(ARGV[2]) then revoked = 1 end
local count = redis.call('INCR', KEYS[2])
if count == 1 then redis.call('EXPIRE', KEYS[2], ARGV[1]) end
return {revoked, count}
"""


class Guard:
    """Verifies bearer tokens and enforces session revocation and per-caller limits."""

    def __init__(self, issuer: TokenIssuer, redis: Redis, *, prefix: str, per_minute: int) -> None:
        self.issuer = issuer
        self._redis = redis
        self._prefix = prefix
        self._per_minute = per_minute
        # Calls of one event-loop turn share a round trip (gateway/batched_script.py).
        self._check = BatchedScript(redis, _CHECK)

    def _revoked_key(self, session_id: str) -> str:
        return f"{self._prefix}:revoked-session:{session_id}"

    async def authenticate(self, authorization: str | None) -> AccessClaims:
        """The caller's verified claims, or 401/429."""
        if not authorization or not authorization[:7].lower() == "bearer ":
            raise InvalidAccessToken()
        try:
            claims = self.issuer.verify(authorization[7:].strip())
        except InvalidToken as exc:
            raise InvalidAccessToken() from exc
        now = time.time()
        rate_key = f"{self._prefix}:rl:api:{claims.identity.subject}:{int(now) // 60}"
        try:
            revoked, count = await self._check(
                keys=[self._revoked_key(claims.session_id), rate_key], args=[60, repr(now)]
            )
        except (RedisError, OSError) as exc:
            # Fail open: a Redis outage must not sign every resident out. Tokens still expire.
            log.warning("guard.redis_unavailable", error=type(exc).__name__)
            return claims
        if int(revoked):
            raise InvalidAccessToken()
        if int(count) > (claims.rate_limit or self._per_minute):
            retry = 60 - int(time.time()) % 60
            raise TooManyRequests(headers={"Retry-After": str(retry)}, extra={"retry_after": retry})
        return claims

    async def revoke_session(self, session_id: str, *, at: float | None = None) -> None:
        """Make every access token of this session invalid at once, or from `at` (Unix time).

        Fails with 503 when Redis cannot record it: a sign-out that silently left the access
        token working would be worse than asking to try again."""
        # Kept until the last token the session could still mint before `at` has expired.
        later = 0 if at is None else max(0, math.ceil(at - time.time()))
        ttl = self.issuer.ttl + 60 + later
        try:
            await self._redis.set(
                self._revoked_key(session_id), "1" if at is None else repr(at), ex=ttl
            )
        except (RedisError, OSError) as exc:
            log.warning("guard.revocation_unavailable", error=type(exc).__name__)
            raise ServiceUnavailable(headers={"Retry-After": "5"}) from exc
