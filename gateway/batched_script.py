"""One Lua script called by many concurrent requests, sent to Redis in one pipeline a turn.

Every authenticated call runs the guard's script (is the session revoked, how many calls this
minute). Alone, each is a round trip: a write and a read system call, which py-spy put at a
fifth of the gateway's CPU per call under load. The calls that arrive in one turn of the
event loop are sent together, in one write, and read back together; each still gets its own
answer or its own error, and nothing waits longer than one turn plus the round trip.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import NoScriptError

Call = tuple[Sequence[str], Sequence[Any], "asyncio.Future[Any]"]


class BatchedScript:
    """`await script(keys, args)`: EVALSHA, batched with the other calls of the same turn."""

    def __init__(self, redis: Redis, source: str) -> None:
        self._redis = redis
        self._source = source
        self._sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()
        self._pending: list[Call] = []
        self._running: set[asyncio.Task[None]] = set()

    async def __call__(self, keys: Sequence[str], args: Sequence[Any]) -> Any:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Any] = loop.create_future()
        self._pending.append((keys, args, answer))
        if len(self._pending) == 1:
            loop.call_soon(self._send)
        return await answer

    def _send(self) -> None:
        batch, self._pending = self._pending, []
        task = asyncio.get_running_loop().create_task(self._run(batch))
        self._running.add(task)  # a task nobody holds may be collected before it ends
        task.add_done_callback(self._running.discard)

    async def _run(self, batch: list[Call]) -> None:
        try:
            results = await self._evalsha(batch)
            if any(isinstance(result, NoScriptError) for result in results):
                # Redis restarted empty (or is another server): load the script, then again.
                await self._redis.script_load(self._source)
                results = await self._evalsha(batch)
        except Exception as exc:  # each caller decides what an outage means for it
            for _, _, answer in batch:
                if not answer.done():
                    answer.set_exception(exc)
            return
        for (_, _, answer), result in zip(batch, results, strict=True):
            if answer.done():  # its caller gave up (cancelled)
                continue
            if isinstance(result, Exception):
                answer.set_exception(result)
            else:
                answer.set_result(result)

    async def _evalsha(self, batch: list[Call]) -> list[Any]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for keys, args, _ in batch:
                pipe.evalsha(self._sha, len(keys), *keys, *args)
            return list(await pipe.execute(raise_on_error=False))
