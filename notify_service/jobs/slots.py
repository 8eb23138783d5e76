"""A cap on SMS held between claim and answer in one worker process."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class Slots:
    """A cap on messages between claim and record in this process, taken before claiming.

    A message is only claimed when it can be handed over at once: a claim that waited behind
    others could outlive its lease and be sent twice. Taken whole, under one lock, so two
    batches never each hold part of what they need."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._free = asyncio.Semaphore(limit)
        self._taking = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def hold(self, count: int, *, wait: float) -> AsyncIterator[None]:
        """Hold `count` slots (at most the limit); SlotsBusy if they are not free in `wait` s."""
        count = min(count, self.limit)
        taken = 0
        try:
            try:
                async with asyncio.timeout(wait), self._taking:
                    for _ in range(count):
                        await self._free.acquire()
                        taken += 1
            except TimeoutError as exc:
                raise SlotsBusy from exc
            yield
        finally:
            for _ in range(taken):
                self._free.release()


class SlotsBusy(Exception):
    """Every slot stayed taken for as long as a batch may wait; nothing was claimed."""


@contextlib.asynccontextmanager
async def unlimited() -> AsyncIterator[None]:
    """No slots to take (a caller without a cap, such as the in-process test stack)."""
    yield
