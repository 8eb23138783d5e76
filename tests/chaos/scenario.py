"""A load of submissions under a schedule of faults, and the figures it must end with.

Clients (threads, one signed-in resident each) submit at a steady pace and retry a call that
got no answer or a 5xx with the same Idempotency-Key, as the mobile app does. A nemesis thread
breaks one thing at a time on schedule: it SIGKILLs a worker, kills Redis (which keeps nothing,
so every queued job is lost), crashes Postgres with `pg_ctl stop -m immediate`, or makes the
SMS provider answer 500. When the load is over the scenario waits for the system to settle and
then checks the invariants (tests/chaos/history.py) and each fault's recovery time.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx

from tests.chaos import baselines
from tests.chaos.cluster import Cluster
from tests.chaos.history import Call, History, Invariants, check
from tests.chaos.monitor import Figures, Monitor
from tests.support import files
from tests.support.live import SignedIn, sign_in
from tests.support.sync import run_sync

WORKERS = ("routing-worker", "notify-worker", "otp-worker", "webhook-worker")
DRAFT = {"department_code": "residency", "service_code": "renew_iqama"}
UPLOAD_EVERY = 10
"""One submission in ten attaches a document first (checklist #40's mix has 10% uploads)."""


@dataclass(frozen=True)
class Fault:
    """One thing to break for `hold` seconds: kill:<process> (SIGKILL), redis (killed, so
    its queues are lost), redis-freeze (SIGSTOP: connections open, nothing answers),
    postgres (crash), postgres-restart (`pg_ctl restart -m fast`) or sms (provider 500)."""

    kind: str
    hold: float

    def begin(self, cluster: Cluster) -> None:
        """Break it."""
        if self.kind.startswith("kill:"):
            cluster.kill(self.kind.removeprefix("kill:"))
        elif self.kind == "redis":
            cluster.kill_redis()
        elif self.kind == "redis-freeze":
            cluster.redis.pause()
        elif self.kind == "postgres":
            cluster.crash_postgres()
        elif self.kind == "postgres-restart":
            cluster.postgres.stop_fast()
        elif self.kind == "sms":
            cluster.sms.ledger.mode = "error500"
        else:
            raise ValueError(f"unknown fault {self.kind}")

    def end(self, cluster: Cluster) -> None:
        """Mend it (a killed process is started again, as its supervisor would)."""
        if self.kind.startswith("kill:"):
            cluster.restart(self.kind.removeprefix("kill:"))
        elif self.kind == "redis":
            cluster.start_redis()
        elif self.kind == "redis-freeze":
            cluster.redis.resume()
        elif self.kind in ("postgres", "postgres-restart"):
            cluster.start_postgres()
        elif self.kind == "sms":
            cluster.sms.ledger.mode = "ok"


@dataclass(frozen=True)
class Plan:
    """How many submissions over how long, by how many clients, under which faults."""

    submissions: int
    seconds: float
    faults: tuple[Fault, ...]
    clients: int = 6
    settle_seconds: float = 180.0
    give_up_seconds: float = 120.0


def plan(submissions: int, seconds: float, *, long_holds: bool) -> Plan:
    """Every worker type killed, Redis killed three times and frozen once, Postgres crashed
    and restarted once each, the SMS provider down once.

    The soak holds a fault as the issue asks (SMS provider down a minute, Postgres 15 s);
    the small run in `make test` holds each for a few seconds."""
    scale = 1.0 if long_holds else 0.1
    faults = (
        Fault("kill:routing-worker", 3 * scale + 1),
        Fault("redis", 5 * scale + 1),
        Fault("kill:notify-worker", 3 * scale + 1),
        Fault("postgres", 15 * scale + 1),
        Fault("kill:otp-worker", 3 * scale + 1),
        Fault("redis", 5 * scale + 1),
        Fault("sms", 60 * scale),
        Fault("kill:webhook-worker", 3 * scale + 1),
        Fault("redis-freeze", 10 * scale + 1),
        Fault("postgres-restart", 1),
        Fault("redis", 5 * scale + 1),
    )
    return Plan(submissions, seconds, faults)


@dataclass
class FaultRecord:
    """When a fault began and ended, and how long until the system worked again."""

    kind: str
    began: float
    ended: float
    api_recovery: float | None = None
    sms_recovery: float | None = None


@dataclass
class Report:
    """The invariants and each fault's recovery."""

    invariants: Invariants
    faults: list[FaultRecord] = field(default_factory=list)
    sms_repeats: int = 0
    monitor: Figures | None = None
    seconds: float = 0.0
    settle_seconds: float = 0.0
    latency: list[str] = field(default_factory=list)
    baselines: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """What `make soak` prints."""
        inv = self.invariants
        out = [
            f"acknowledged {inv.acknowledged}, abandoned by clients {inv.abandoned}",
            f"lost {inv.lost}, not routed {inv.unrouted}, without department "
            f"{inv.without_department}",
            f"uploads acknowledged {inv.uploads}: documents lost {inv.documents_lost}, "
            f"duplicated {inv.documents_duplicated}",
            f"SMS missing {inv.sms_missing}, duplicated {inv.sms_duplicated}, failed "
            f"{inv.sms_failed}; repeats the provider de-duplicated {self.sms_repeats}",
            f"status regressions {inv.status_regressions}; outbox pending {inv.outbox_pending}, "
            f"dead {inv.outbox_dead}; jobs left on queues {inv.queued_jobs}",
            f"5xx: {inv.server_errors}, of which documented 503 {inv.documented_503}, "
            f"other {inv.undocumented_5xx}",
            f"load {self.seconds:.0f} s, settled {self.settle_seconds:.0f} s after it",
        ]
        for fault in self.faults:
            api = "-" if fault.api_recovery is None else f"{fault.api_recovery:.1f} s"
            sms = "-" if fault.sms_recovery is None else f"{fault.sms_recovery:.1f} s"
            out.append(
                f"  {fault.kind:<22} held {fault.ended - fault.began:5.1f} s; API back after "
                f"{api}, SMS backlog cleared after {sms}"
            )
        out.extend(self.latency)
        out.extend(self.monitor.lines() if self.monitor else [])
        out.extend(self.baselines)
        violations = inv.violations()
        out.append("invariants: " + ("all hold" if not violations else ", ".join(violations)))
        return out


class _Client:
    """One resident's app: retries what got no answer, with the same Idempotency-Key."""

    def __init__(self, cluster: Cluster, history: History, give_up: float) -> None:
        self.http = cluster.stack.client()
        self.history = history
        self.give_up = give_up
        self.resident: SignedIn = self._sign_in(cluster)

    def _sign_in(self, cluster: Cluster) -> SignedIn:
        return sign_in(self.http, cluster.sms.ledger)

    def _call(
        self, op: str, key: str, method: str, url: str, **kwargs: Any
    ) -> httpx.Response | None:
        started = time.monotonic()
        try:
            response = self.http.request(method, url, headers=self._headers(key), **kwargs)
        except httpx.HTTPError:
            self.history.record(Call(op, key, started, time.monotonic(), None))
            return None
        problem = None
        if response.headers.get("content-type", "").startswith("application/problem+json"):
            problem = str(response.json().get("type", "about:blank"))
        self.history.record(
            Call(
                op, key, started, time.monotonic(), response.status_code,
                problem=problem, retry_after="retry-after" in response.headers,
            )
        )  # fmt: skip
        return response

    def _headers(self, key: str) -> dict[str, str]:
        return {**self.resident.headers, "Idempotency-Key": key}

    def submit(self, number: int) -> None:
        """Draft then submit, retrying each step until answered or given up."""
        key = str(uuid.uuid4())
        deadline = time.monotonic() + self.give_up
        body = {**DRAFT, "description": f"soak {number}"}
        draft_id = None
        while draft_id is None and time.monotonic() < deadline:
            response = self._call("draft", key, "POST", "/v1/requests", json=body)
            if response is not None and response.status_code in (200, 201):
                draft_id = response.json()["id"]
            elif response is not None and response.status_code < 500:
                raise AssertionError(f"draft refused: {response.status_code} {response.text}")
            else:
                time.sleep(0.5)
        if (
            draft_id is not None
            and number % UPLOAD_EVERY == 0
            and not self._upload(draft_id, deadline)
        ):
            self.history.abandon()
            return
        while draft_id is not None and time.monotonic() < deadline:
            response = self._call("submit", key, "POST", f"/v1/requests/{draft_id}/submit")
            if response is not None and response.status_code in (200, 409):
                # 409: an earlier try committed and its answer was lost; submitted all the same.
                self.history.acknowledge(draft_id, time.monotonic())
                self._follow(draft_id)
                return
            if response is not None and response.status_code < 500:
                raise AssertionError(f"submit refused: {response.status_code} {response.text}")
            time.sleep(0.5)
        self.history.abandon()

    def _upload(self, request_id: str, deadline: float) -> bool:
        """Attach one document, sending the same file again until answered (a repeat is the
        same document); whether it was acknowledged before the deadline."""
        while time.monotonic() < deadline:
            response = self._call(
                "upload",
                request_id,
                "POST",
                f"/v1/requests/{request_id}/documents",
                files={"file": ("passport.pdf", files.PDF, "application/pdf")},
            )
            if response is not None and response.status_code == 201:
                self.history.attach(request_id)
                return True
            if response is not None and response.status_code < 500:
                raise AssertionError(f"upload refused: {response.status_code} {response.text}")
            time.sleep(0.5)
        return False

    def _follow(self, request_id: str) -> None:
        """What the app does next: shows the request and the list (most calls are reads). A
        404 here would be a loss the resident sees; the checker counts them."""
        self._call("read", request_id, "GET", f"/v1/requests/{request_id}")
        self._call("read", request_id, "GET", "/v1/requests?limit=20")


def _percentiles(history: History) -> list[str]:
    """p50 and p95 of each kind of call that succeeded, faults included."""
    lines = []
    for op in ("draft", "upload", "submit", "read"):
        times = sorted(
            c.ended - c.started
            for c in history.calls
            if c.op == op and c.status is not None and 200 <= c.status < 300
        )
        if times:
            p50, p95 = times[len(times) // 2], times[min(len(times) - 1, len(times) * 95 // 100)]
            lines.append(
                f"{op}: {len(times)} answered, p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms"
            )
    return ["latency of successful calls: " + "; ".join(lines)] if lines else []


def _load(clients: list[_Client], plan_: Plan, errors: list[BaseException]) -> None:
    tickets = itertools.count()
    lock = threading.Lock()
    start = time.monotonic()
    interval = plan_.seconds / plan_.submissions

    def work(client: _Client) -> None:
        while True:
            with lock:
                number = next(tickets)
            if number >= plan_.submissions:
                return
            time.sleep(max(0.0, start + number * interval - time.monotonic()))
            try:
                client.submit(number)
            except BaseException as exc:
                errors.append(exc)
                return

    threads = [threading.Thread(target=work, args=(c,), daemon=True) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _nemesis(cluster: Cluster, plan_: Plan, records: list[FaultRecord], start: float) -> None:
    """Faults one after another, evenly spaced so that the last one ends inside the load."""
    held = sum(fault.hold for fault in plan_.faults)
    gap = max(1.0, (plan_.seconds - held) / (len(plan_.faults) + 1))
    due = start
    for fault in plan_.faults:
        due += gap
        time.sleep(max(0.0, due - time.monotonic()))
        due += fault.hold
        began = time.monotonic()
        fault.begin(cluster)
        time.sleep(fault.hold)
        fault.end(cluster)
        records.append(FaultRecord(fault.kind, began, time.monotonic()))


def _settled(cluster: Cluster, history: History) -> bool:
    """Whether everything owed has been done (the other figures do not change by waiting)."""
    figures = _check(cluster, history)
    owed = (figures.unrouted, figures.sms_missing, figures.outbox_pending, figures.queued_jobs)
    return not any(owed)


def _check(cluster: Cluster, history: History) -> Invariants:
    return run_sync(
        check(
            history,
            database_url=cluster.database_url,
            redis_url=cluster.redis.url,
            prefix=cluster.prefix,
            sms_counts=cluster.sms.ledger.count_by_id(),
        )
    )


def run(cluster: Cluster, plan_: Plan, history: History) -> Report:
    """Load and faults together, then settle and check."""
    clients = [_Client(cluster, history, plan_.give_up_seconds) for _ in range(plan_.clients)]
    records: list[FaultRecord] = []
    errors: list[BaseException] = []
    start = time.monotonic()
    monitor = Monitor(cluster)
    monitor.start()
    nemesis = threading.Thread(target=_nemesis, args=(cluster, plan_, records, start))
    nemesis.start()
    _load(clients, plan_, errors)
    nemesis.join()
    loaded = time.monotonic()
    if errors:
        raise errors[0]
    while time.monotonic() - loaded < plan_.settle_seconds and not _settled(cluster, history):
        time.sleep(1.0)
    settled = time.monotonic()
    report = Report(
        _check(cluster, history),
        records,
        cluster.sms.ledger.repeats,
        monitor.stop(),
        loaded - start,
        settled - loaded,
    )
    report.latency = _percentiles(history)
    _recovery(report, history, cluster)
    report.baselines = _baselines(report, history, cluster)
    for client in clients:
        client.http.close()
    return report


def _recovery(report: Report, history: History, cluster: Cluster) -> None:
    """API: the first success answered after the fault ended. SMS: when the last message
    owed for a request acknowledged before the fault ended reached the provider."""
    successes = sorted(c.ended for c in history.calls if c.status in (200, 201))
    first_sms = dict(cluster.sms.ledger.first_seen)
    owed = run_sync(_owed_notifications(cluster, list(history.acknowledged)))
    for record in report.faults:
        after = [t for t in successes if t > record.ended]
        record.api_recovery = after[0] - record.ended if after else None
        before = [
            first_sms[nid]
            for nid, request_id in owed
            if history.acknowledged[request_id] < record.ended and nid in first_sms
        ]
        record.sms_recovery = max(0.0, max(before) - record.ended) if before else None


def _baselines(report: Report, history: History, cluster: Cluster) -> list[str]:
    """Checklist #40's baselines for this run (tests/chaos/baselines.py)."""
    monitor = report.monitor or Figures()

    def spans(*ops: str) -> list[tuple[float, float]]:
        return [
            (c.started, c.ended)
            for c in history.calls
            if c.op in ops and c.status is not None and 200 <= c.status < 300
        ]

    found = baselines.verdicts(
        reads=spans("read"),
        submissions=spans("submit"),
        lags=run_sync(_outbox_lags(cluster)),
        samples=monitor.samples,
        faults=[baselines.Window(f.kind, f.began, f.ended) for f in report.faults],
        rss_start=monitor.rss_start,
        rss_end=monitor.rss_end,
    )
    return baselines.lines(found)


_LAGS = """
SELECT extract(epoch FROM created_at)::float8, extract(epoch FROM done_at)::float8
FROM outbox WHERE status = 'done' AND done_at IS NOT NULL
"""


async def _outbox_lags(cluster: Cluster) -> list[tuple[float, float]]:
    """Each settled outbox row's (owed, done), moved onto time.monotonic()'s clock."""
    connection = await asyncpg.connect(cluster.database_url.replace("+asyncpg", ""))
    try:
        rows = await connection.fetch(_LAGS)
    finally:
        await connection.close()
    shift = time.time() - time.monotonic()
    return [(row[0] - shift, row[1] - shift) for row in rows]


_OWED = "SELECT id::text, request_id::text FROM notifications WHERE request_id = ANY($1::uuid[])"


async def _owed_notifications(cluster: Cluster, ids: list[str]) -> list[tuple[str, str]]:
    connection = await asyncpg.connect(cluster.database_url.replace("+asyncpg", ""))
    try:
        rows = await connection.fetch(_OWED, ids)
    finally:
        await connection.close()
    return [(row[0], row[1]) for row in rows]
