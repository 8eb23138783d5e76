"""Figures sampled while a fault scenario runs: how far the outbox fell behind, how many
Postgres connections the stack held, Redis's memory, and each process's (checklist #40)."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from redis.asyncio import Redis
from redis.exceptions import RedisError

from tests.chaos.baselines import Sample
from tests.chaos.cluster import Cluster

_SAMPLE = """
SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS oldest,
       (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()) AS connections
FROM outbox WHERE status = 'pending'
"""


def rss_mib(pid: int) -> float | None:
    """Resident memory of a process, from /proc (None once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


@dataclass
class Figures:
    """What the monitor saw: every reading, and each process's memory at start and end."""

    rss_start: dict[str, float] = field(default_factory=dict)
    rss_end: dict[str, float] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)

    @property
    def oldest_pending_seconds(self) -> float:
        """The oldest pending outbox row at any reading (0 when there was none)."""
        ages = [s.oldest_pending for s in self.samples if s.oldest_pending is not None]
        return max(ages, default=0.0)

    @property
    def connections(self) -> list[int]:
        """The stack's Postgres connections at each reading Postgres answered."""
        return [s.connections for s in self.samples if s.connections is not None]

    def lines(self) -> list[str]:
        """For the report."""
        out = [f"oldest pending outbox row at any time: {self.oldest_pending_seconds:.1f} s"]
        connections = self.connections
        if connections:
            out.append(
                f"Postgres connections: first {connections[0]}, "
                f"most {max(connections)}, last {connections[-1]}"
            )
        if self.rss_end:
            worst = max(self.rss_end, key=lambda name: self.rss_end[name])
            growth = [
                f"{name} {self.rss_start[name]:.0f}→{mib:.0f}"
                for name, mib in sorted(self.rss_end.items())
                if name in self.rss_start
            ]
            out.append(f"memory MiB (start→end): {', '.join(growth)}; largest {worst}")
        return out


class Monitor:
    """A thread sampling every `interval` seconds until stopped."""

    def __init__(self, cluster: Cluster, interval: float = 2.0) -> None:
        self.cluster = cluster
        self.interval = interval
        self.figures = Figures()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _rss(self) -> dict[str, float]:
        found = {}
        for name, proc in list(self.cluster.stack.supervisor.procs.items()):
            mib = rss_mib(proc.pid) if proc.poll() is None else None
            if mib is not None:
                found[name] = mib
        return found

    def start(self) -> None:
        """Take the starting memory and begin sampling."""
        self.figures.rss_start = self._rss()
        self._thread.start()

    def stop(self) -> Figures:
        """Stop sampling and take the final memory."""
        self._stop.set()
        self._thread.join()
        self.figures.rss_end = self._rss()
        return self.figures

    def _run(self) -> None:
        asyncio.run(self._loop())

    async def _loop(self) -> None:
        url = self.cluster.database_url.replace("+asyncpg", "")
        redis = Redis.from_url(self.cluster.redis.url, socket_timeout=2, socket_connect_timeout=2)
        try:
            while not self._stop.is_set():
                at = time.monotonic()
                row = await _postgres(url)
                redis_bytes = await _redis_memory(redis)
                self.figures.samples.append(
                    Sample(
                        at,
                        oldest_pending=None if row is None else float(row[0]),
                        # without this sampler's own connection
                        connections=None if row is None else int(row[1]) - 1,
                        redis_bytes=redis_bytes,
                        rss=self._rss(),
                    )
                )
                await asyncio.sleep(self.interval)
        finally:
            await redis.aclose()


async def _postgres(url: str) -> asyncpg.Record | None:
    """The outbox's oldest pending row and the connection count; None while Postgres is down
    (the fault itself, not a figure)."""
    try:
        connection = await asyncpg.connect(url, timeout=2)
        try:
            return await connection.fetchrow(_SAMPLE)
        finally:
            await connection.close()
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return None


async def _redis_memory(redis: Redis) -> int | None:
    """Redis's used_memory in bytes; None while it is down or frozen."""
    try:
        info = await redis.info("memory")
    except (OSError, RedisError, TimeoutError):
        return None
    return int(info["used_memory"])
