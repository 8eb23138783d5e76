"""argon2id password hashing, off the event loop and bounded so a login storm cannot starve it.

Each hash holds 19 MiB for its whole run, so the number running at once is what a pod's
memory must cover (checklist #27). They run on a pool of exactly `concurrency` threads. A
semaphore around `asyncio.to_thread` was not a bound: a caller that went away (client gone,
request timed out) freed its slot while its thread went on hashing, so abandoned sign-ins let
more run, up to the shared default pool's size. A pool's threads are the bound itself, work
still queued for a caller that left is dropped, and since each thread that ever hashed keeps
its memory arena, the thread count is also what bounds the memory kept afterwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

T = TypeVar("T")


class Passwords:
    """Hashes and checks passwords in worker threads, at most `concurrency` at a time."""

    def __init__(self, *, memory_kib: int, time_cost: int, concurrency: int = 4) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="argon2")
        self._dummy = self._hasher.hash("not-a-real-password")

    async def hash(self, password: str) -> str:
        """An argon2id hash with a random salt."""
        return await self._run(self._hasher.hash, password)

    async def verify(self, stored: str | None, password: str) -> bool:
        """True if it matches; with no stored hash, spend the same time and say no."""
        return await self._run(self._verify, stored, password)

    def needs_rehash(self, stored: str) -> bool:
        """Whether a stored hash was made with weaker (or other) parameters than today's."""
        try:
            return bool(self._hasher.check_needs_rehash(stored))
        except InvalidHashError:
            return True

    def close(self) -> None:
        """Stop the threads once the app stops (hashes still queued are dropped)."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _run(self, work: Callable[..., T], *args: object) -> T:
        """Run on the pool; cancelling the caller drops queued work, never a running hash's
        slot (its thread finishes first)."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, work, *args)

    def _verify(self, stored: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False
