"""Chooses the provider for each send and fails over when one's recent failure rate is high."""

from __future__ import annotations

import time
from collections.abc import Sequence

import structlog
from redis.asyncio import Redis
from redis.exceptions import RedisError

from notify_service.sms.providers.base import SmsProvider

log = structlog.get_logger()
BUCKET_SECONDS = 10


class ProviderPool:
    """Providers in order of preference; health kept in Redis so every worker agrees.

    A provider whose failures over the last `window` seconds reach `threshold` (with at least
    `min_volume` attempts) is skipped for `cooldown` seconds; then it gets traffic again and
    stays if it has recovered, or trips again on its next failures.
    """

    def __init__(
        self,
        providers: Sequence[SmsProvider],
        redis: Redis | None,
        *,
        prefix: str,
        window: int = 60,
        threshold: float = 0.5,
        min_volume: int = 10,
        cooldown: int = 60,
    ) -> None:
        if not providers:
            raise ValueError("at least one SMS provider is required")
        self.providers = list(providers)
        self._by_name = {p.name: p for p in self.providers}
        self._redis = redis
        self._prefix = prefix
        self._window = window
        self._threshold = threshold
        self._min_volume = min_volume
        self._cooldown = cooldown

    def get(self, name: str | None) -> SmsProvider | None:
        """A configured provider by name."""
        return self._by_name.get(name or "")

    def _breaker(self, name: str) -> str:
        return f"{self._prefix}:sms:breaker:{name}"

    def _bucket(self, name: str, bucket: int) -> str:
        return f"{self._prefix}:sms:health:{name}:{bucket}"

    async def choose(self) -> SmsProvider:
        """The first provider whose breaker is closed; the first of all if every one is open."""
        if self._redis is None or len(self.providers) == 1:
            return self.providers[0]
        try:
            open_flags = await self._redis.mget([self._breaker(p.name) for p in self.providers])
        except (RedisError, OSError):
            return self.providers[0]
        for provider, flag in zip(self.providers, open_flags, strict=True):
            if flag is None:
                return provider
        return self.providers[0]

    async def record(self, provider: SmsProvider, ok: bool) -> None:
        """Count one attempt; trip the breaker when the recent failure rate is too high."""
        if self._redis is None or len(self.providers) == 1:
            return
        now = int(time.time()) // BUCKET_SECONDS
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                key = self._bucket(provider.name, now)
                pipe.hincrby(key, "ok" if ok else "fail", 1)
                pipe.expire(key, self._window + BUCKET_SECONDS)
                await pipe.execute()
            if ok:
                return
            buckets = range(now - self._window // BUCKET_SECONDS + 1, now + 1)
            async with self._redis.pipeline(transaction=False) as pipe:
                for bucket in buckets:
                    pipe.hmget(self._bucket(provider.name, bucket), ["ok", "fail"])
                counts = await pipe.execute()
            good = sum(int(c[0] or 0) for c in counts)
            bad = sum(int(c[1] or 0) for c in counts)
            if good + bad >= self._min_volume and bad / (good + bad) >= self._threshold:
                tripped = await self._redis.set(
                    self._breaker(provider.name), "1", ex=self._cooldown, nx=True
                )
                if tripped:
                    log.warning(
                        "sms.provider_failed_over",
                        provider=provider.name,
                        failures=bad,
                        attempts=good + bad,
                    )
        except (RedisError, OSError) as exc:
            log.warning("sms.health_unavailable", error=type(exc).__name__)

    async def aclose(self) -> None:
        """Close every provider's connections."""
        for provider in self.providers:
            await provider.aclose()
