"""Notification throughput: a burst of status SMS drained by one notify worker, against arq.

Part 6 of issue 7's benchmark. The burst is owed exactly as the product owes it (`owe()` with
the payload `shared.workflow.transition` writes) while no worker runs; then ONE notify worker
starts with the webhook provider pointed at a local receiver, and the clock runs from the
first SMS received until the receiver has every message and the database shows each one
delivered and its outbox row done. The reference is arq itself: as many no-op jobs, drained
in a process of its own by an arq Worker built with the notify worker's own settings.
The relay puts up to `BATCHES[send_sms]` SMS in one arq job (reported as sms_per_notify_job),
so the SMS drain needs far fewer jobs than the reference runs.

`python -m bench.notify_drain [--count N] [--repeats R]` prints the figures as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import uvicorn
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import create_async_engine

from bench.stack import ROOT, asyncpg_dsn, base_env, fresh_database, running, stack
from bench.wrk import spread
from shared.db.session import create_sessionmaker
from shared.queue.connections import create_arq_redis
from shared.queue.contract import Job, arq_job_id, arq_queue_name, batch_size
from shared.queue.outbox import owe
from shared.request_status import RESIDENT_SMS, Action

TARGET_RATIO = 0.5
NOOP_QUEUE = "bench-noop"
# Status changes whose SMS needs nothing but the reference (routing also names a department).
ACTIONS = (Action.submit, Action.reply, Action.request_info, Action.resolve, Action.reject)

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass
class Ledger:
    """What the receiver got: each message id with how often, and when the first and last came."""

    ids: Counter[str] = field(default_factory=Counter)
    first: float | None = None
    last: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, message_id: str) -> None:
        """Count one POST."""
        now = time.perf_counter()
        with self.lock:
            self.ids[message_id] += 1
            self.first = self.first if self.first is not None else now
            self.last = now

    def unique(self) -> int:
        """Distinct messages received."""
        with self.lock:
            return len(self.ids)


def tally(received: Mapping[str, int], expected: int) -> tuple[int, int]:
    """(missing, duplicates): messages owed but never received, and extra copies received."""
    duplicates = sum(times - 1 for times in received.values() if times > 1)
    return max(expected - len(received), 0), duplicates


def ratio_target(sms_per_second: float, noop_per_second: float, *, clean: bool) -> dict[str, Any]:
    """The issue's target: SMS/s at least half arq's no-op rate, with nothing lost or repeated."""
    value = sms_per_second / noop_per_second if noop_per_second > 0 else 0.0
    return {"value": round(value, 3), "target": TARGET_RATIO, "met": clean and value >= 0.5}


class Receiver:
    """The SMS provider's endpoint: uvicorn (httptools) with a bare ASGI app, in a thread."""

    def __init__(self) -> None:
        self.ledger = Ledger()
        config = uvicorn.Config(
            self._app,
            host="127.0.0.1",
            port=0,
            interface="asgi3",
            http="httptools",
            lifespan="off",
            proxy_headers=False,
            log_level="warning",
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    async def _app(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        self.ledger.add(str(json.loads(body)["id"]))
        await send({"type": "http.response.start", "status": 202, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    @property
    def url(self) -> str:
        """What SMS_WEBHOOK_URL should be."""
        port = self._server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/sms"

    def __enter__(self) -> Receiver:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise TimeoutError("SMS receiver did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


async def owe_burst(database_url: str, count: int) -> None:
    """`count` residents and one status SMS owed to each, as a status change owes it."""
    dsn = database_url.replace("+asyncpg", "")
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            """
            INSERT INTO residents (id, national_id, phone, password_hash, preferred_language)
            SELECT gen_random_uuid(), lpad((1000000000 + n)::text, 10, '0'),
                   '+9665' || lpad(n::text, 8, '0'), 'bench-not-a-hash',
                   CASE WHEN n % 4 = 0 THEN 'en' ELSE 'ar' END
            FROM generate_series(1, $1) AS n
            """,
            count,
        )
        residents = [row[0] for row in await conn.fetch("SELECT id FROM residents ORDER BY 1")]
    finally:
        await conn.close()
    engine = create_async_engine(database_url)
    sessions = create_sessionmaker(engine)
    try:
        for start in range(0, count, 5000):
            async with sessions() as session, session.begin():
                for n in range(start, min(start + 5000, count)):
                    owe(
                        session,
                        Job.send_sms,
                        {
                            "event": RESIDENT_SMS[ACTIONS[n % len(ACTIONS)]],
                            "resident_id": str(residents[n]),
                            "request_id": str(uuid.uuid4()),
                            "values": {"reference": f"TW-2026-{n + 1:08d}"},
                        },
                        producer="routing",
                    )
    finally:
        await engine.dispose()


async def _settled(dsn: str) -> tuple[int, int]:
    """(notifications delivered, notify outbox rows done)."""
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM notifications WHERE status = 'delivered'),"
            " (SELECT count(*) FROM outbox WHERE queue = 'notify' AND status = 'done')"
        )
        assert row is not None
        return int(row[0]), int(row[1])
    finally:
        await conn.close()


def drain_sms(env: Mapping[str, str], count: int, *, timeout: float) -> dict[str, Any]:
    """Owe the burst, start one notify worker, and time the drain into the receiver."""
    asyncio.run(owe_burst(env["DATABASE_URL"], count))
    dsn = asyncpg_dsn(env)
    with Receiver() as receiver:
        worker_env = {**env, "SMS_PROVIDER": "webhook", "SMS_WEBHOOK_URL": receiver.url}
        with running(stack(worker_env, only=["notify-worker"])):
            deadline = time.monotonic() + timeout
            delivered = done = 0
            while time.monotonic() < deadline:
                if receiver.ledger.unique() >= count:
                    delivered, done = asyncio.run(_settled(dsn))
                    if delivered >= count and done >= count:
                        break
                time.sleep(0.05)
            end = time.perf_counter()
        ledger = receiver.ledger
        with ledger.lock:
            received = dict(ledger.ids)
            first = ledger.first
    missing, duplicates = tally(received, count)
    seconds = end - first if first is not None else float("inf")
    return {
        "seconds": seconds,
        "per_second": count / seconds if missing == 0 else 0.0,
        "missing": max(missing, count - delivered),
        "duplicates": duplicates,
        "outbox_done": done,
    }


async def _enqueue_noops(env: Mapping[str, str], queue_name: str, count: int) -> None:
    """`count` jobs shaped like the relay's (one id argument, a per-attempt job id)."""
    redis = create_arq_redis(env["REDIS_URL"], default_queue_name=queue_name)
    prefix = env["QUEUE_PREFIX"]
    try:
        for start in range(0, count, 40):  # within the pool's 50 connections
            await asyncio.gather(
                *(
                    redis.enqueue_job("noop", str(n), _job_id=arq_job_id(prefix, f"noop-{n}", 1))
                    for n in range(start, min(start + 40, count))
                )
            )
    finally:
        await redis.aclose(close_connection_pool=True)


def drain_noop(env: Mapping[str, str], count: int, *, timeout: float) -> dict[str, Any]:
    """Enqueue no-op jobs, then let an arq Worker in its own process drain them."""
    queue_name = arq_queue_name(env["QUEUE_PREFIX"], NOOP_QUEUE)
    asyncio.run(_enqueue_noops(env, queue_name, count))
    completed = subprocess.run(  # noqa: S603 - our own fixed command line
        [sys.executable, "-m", "bench.notify_drain", "noop-worker", "--count", str(count)],
        env={**env, "NOOP_QUEUE_NAME": queue_name},
        cwd=ROOT,
        capture_output=True,
        timeout=timeout,
        check=True,
    )
    figures: dict[str, Any] = json.loads(completed.stdout.decode().strip().splitlines()[-1])
    return figures


async def _noop_worker(count: int, queue_name: str) -> dict[str, Any]:
    """Run arq with the notify worker's settings on no-op jobs; time first start to last done."""
    from arq.worker import Worker, func

    from notify_service.worker import spec
    from shared.queue.connections import redis_settings
    from shared.queue.runner import worker_options

    notify = spec("sms")
    template = notify.functions[0]
    seen = 0
    first: float | None = None
    all_ran = asyncio.Event()

    async def noop(ctx: dict[str, Any], outbox_id: str) -> None:
        nonlocal seen, first
        first = first if first is not None else time.perf_counter()
        seen += 1
        if seen >= count:
            all_ran.set()

    worker = Worker(
        functions=[
            func(noop, name="noop", timeout=template.timeout_s, max_tries=template.max_tries)
        ],
        queue_name=queue_name,
        redis_settings=redis_settings(notify.settings.redis_url),
        ctx={},
        **worker_options(notify),
    )
    main = asyncio.create_task(worker.main())
    try:
        await asyncio.wait_for(all_ran.wait(), timeout=600)
        redis = Redis.from_url(notify.settings.redis_url)
        while await redis.zcard(queue_name):  # noqa: ASYNC110 - arq signals no completion
            await asyncio.sleep(0.005)
        end = time.perf_counter()
        await redis.aclose()
    finally:
        main.cancel()
        await worker.close()
    assert first is not None
    options = {k: v for k, v in worker_options(notify).items() if not callable(v)}
    settings = {
        **options,
        "job_timeout": template.timeout_s,
        "job_max_tries": template.max_tries,
        "sms_per_notify_job": batch_size(Job.send_sms.value),
    }
    return {"seconds": end - first, "per_second": count / (end - first), "settings": settings}


async def _forget_keys(redis_url: str, prefix: str) -> None:
    """Remove this run's Redis keys (queues, jobs, results, health), all named by its prefix."""
    redis = Redis.from_url(redis_url)
    try:
        for pattern in (f"{prefix}:*", f"arq:*:{prefix}:*"):
            batch = [key async for key in redis.scan_iter(match=pattern, count=1000)]
            for start in range(0, len(batch), 1000):
                await redis.delete(*batch[start : start + 1000])
    finally:
        await redis.aclose()


def measure_drain(
    base: Mapping[str, str], *, count: int = 20000, repeats: int = 1
) -> dict[str, Any]:
    """Drain `count` status SMS and `count` arq no-ops `repeats` times; figures and the target."""
    timeout = max(300.0, count / 20)
    sms_runs: list[dict[str, Any]] = []
    noop_runs: list[dict[str, Any]] = []
    for _ in range(repeats):
        with fresh_database(base, label="notifydrain") as env:
            try:
                sms_runs.append(drain_sms(env, count, timeout=timeout))
                print(f"sms drain: {sms_runs[-1]}", file=sys.stderr)
                noop_runs.append(drain_noop(env, count, timeout=timeout))
                print(f"arq no-op drain: {noop_runs[-1]}", file=sys.stderr)
            finally:
                asyncio.run(_forget_keys(env["REDIS_URL"], env["QUEUE_PREFIX"]))
    sms_rate = spread([run["per_second"] for run in sms_runs])
    noop_rate = spread([run["per_second"] for run in noop_runs])
    missing = sum(run["missing"] for run in sms_runs)
    duplicates = sum(run["duplicates"] for run in sms_runs)
    return {
        "count": count,
        "repeats": repeats,
        "worker_settings": noop_runs[0]["settings"],
        "sms_drain": {
            "per_second": sms_rate,
            "seconds": spread([run["seconds"] for run in sms_runs]),
            "missing": missing,
            "duplicates": duplicates,
        },
        "arq_noop_drain": {
            "per_second": noop_rate,
            "seconds": spread([run["seconds"] for run in noop_runs]),
        },
        "targets": {
            "notify_drain_ratio": ratio_target(
                sms_rate["median"], noop_rate["median"], clean=missing == 0 and duplicates == 0
            )
        },
    }


def main(argv: Iterable[str] | None = None) -> None:
    """Command-line entry."""
    parser = argparse.ArgumentParser(prog="python -m bench.notify_drain")
    parser.add_argument("mode", nargs="?", default="measure", choices=["measure", "noop-worker"])
    parser.add_argument("--count", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.mode == "noop-worker":  # the reference's own process, started by drain_noop
        print(json.dumps(asyncio.run(_noop_worker(args.count, os.environ["NOOP_QUEUE_NAME"]))))
    else:
        print(
            json.dumps(measure_drain(base_env(), count=args.count, repeats=args.repeats), indent=2)
        )


if __name__ == "__main__":
    main()
