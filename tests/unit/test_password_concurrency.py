"""At most N argon2 hashes run at once per pod (checklist #27), so a storm of 100 sign-ins
cannot take 100 × 19 MiB. Concurrency is observed inside the hasher, never inferred from
time; memory is the peak RSS of a child process doing 100 checks with the production
parameters."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from gateway.auth.passwords import Passwords
from gateway.settings import GatewaySettings

FIELDS = GatewaySettings.model_fields
MEMORY_KIB = FIELDS["argon2_memory_kib"].default
TIME_COST = FIELDS["argon2_time_cost"].default
HANG_GUARD = 120  # seconds: only so a broken build fails instead of hanging
ROOT = Path(__file__).resolve().parents[2]


class Watched:
    """The real hasher, counting calls inside it and held at a gate until the test opens it."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.gate = threading.Event()
        self.active = 0
        self.peak = 0
        self.calls = 0
        self.entered = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._lock = threading.Lock()

    def verify(self, stored: str, password: str) -> Any:
        with self._lock:
            self.active += 1
            self.calls += 1
            self.peak = max(self.peak, self.active)
        self._loop.call_soon_threadsafe(self.entered.set)
        try:
            self.gate.wait(HANG_GUARD)
            return self.real.verify(stored, password)
        finally:
            with self._lock:
                self.active -= 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


async def _watched(bound: int) -> tuple[Passwords, Watched, str]:
    passwords = Passwords(memory_kib=MEMORY_KIB, time_cost=TIME_COST, concurrency=bound)
    stored = await passwords.hash("the passphrase")
    watched = Watched(passwords._hasher)
    passwords._hasher = watched  # type: ignore[assignment]
    return passwords, watched, stored


async def _until_active(watched: Watched, count: int) -> None:
    """Wait until `count` checks are inside the hasher at once."""
    async with asyncio.timeout(HANG_GUARD):
        while True:
            watched.entered.clear()
            if watched.active == count:
                return
            await watched.entered.wait()


async def _let_others_start() -> None:
    """Give any thread that is not held back the chance to enter the hasher (a correct bound
    passes however short this is; it is not a timed assertion)."""
    for _ in range(40):
        await asyncio.sleep(0.005)


async def test_a_hundred_checks_run_at_most_the_bound_at_once() -> None:
    bound = 3
    passwords, watched, stored = await _watched(bound)
    checks = [
        asyncio.create_task(passwords.verify(stored, "the passphrase" if n % 2 else "wrong"))
        for n in range(100)
    ]
    try:
        await _until_active(watched, bound)
        await _let_others_start()
        assert watched.active == bound
    finally:
        watched.gate.set()
    results = await asyncio.gather(*checks)
    assert watched.peak == bound
    assert watched.calls == 100
    assert results == [bool(n % 2) for n in range(100)]


async def test_abandoned_checks_keep_their_slot_until_the_hash_ends() -> None:
    """A caller that goes away (client gone, request timed out) must not free its slot while
    its thread is still hashing with its 19 MiB, or abandoned sign-ins lift the bound; the
    ones still queued never run."""
    bound = 2
    passwords, watched, stored = await _watched(bound)
    first = [asyncio.create_task(passwords.verify(stored, "wrong")) for _ in range(10)]
    second: list[asyncio.Task[bool]] = []
    try:
        await _until_active(watched, bound)
        for check in first:
            check.cancel()
        await asyncio.gather(*first, return_exceptions=True)
        second = [asyncio.create_task(passwords.verify(stored, "right")) for _ in range(10)]
        await _let_others_start()
        assert watched.active <= bound
    finally:
        watched.gate.set()
    assert await asyncio.gather(*second) == [False] * 10
    assert watched.peak == bound
    assert watched.calls == bound + 10


_CHILD = """
import asyncio, json, sys
from gateway.auth.passwords import Passwords

def peak_kib():  # VmHWM, not ru_maxrss: that one keeps the forking parent's peak across exec
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))

async def main(bound, memory_kib, time_cost):
    before = peak_kib()
    passwords = Passwords(memory_kib=memory_kib, time_cost=time_cost, concurrency=bound)
    stored = await passwords.hash("the passphrase")
    checks = [passwords.verify(stored, f"guess {n}") for n in range(100)]
    results = await asyncio.gather(*checks)
    print(json.dumps({"growth_kib": peak_kib() - before, "refused": results.count(False)}))

asyncio.run(main(*map(int, sys.argv[1:])))
"""


def test_a_hundred_parallel_sign_ins_grow_rss_by_the_bound_not_by_a_hundred() -> None:
    bound = 4  # what the gateway picks on a 2-core pod (2 × cores)
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(bound), str(MEMORY_KIB), str(TIME_COST)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=HANG_GUARD * 5,
        check=True,
    )
    report = json.loads(done.stdout)
    assert report["refused"] == 100
    growth_mib = report["growth_kib"] / 1024
    one_hash_mib = MEMORY_KIB / 1024
    assert growth_mib >= one_hash_mib  # the measurement sees argon2's memory at all
    # `bound` threads' worth, with slack: 100 × 19 MiB unbounded, and 6 × 19 here with the
    # semaphore this replaced (the shared default pool's 6 threads each kept their arena)
    assert growth_mib <= bound * 20 + 25, report


def test_the_default_bound_is_two_per_core_and_fits_the_pod() -> None:
    """A pod without a CPU limit sees all the node's cores; the bound must not follow them
    past what its 512 Mi memory limit can hold."""
    bound = GatewaySettings().argon2_concurrency
    assert 2 <= bound <= 8
    assert bound * MEMORY_KIB / 1024 <= 512 / 3
