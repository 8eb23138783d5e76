"""A load of submissions under a schedule of faults, and the figures it must end with.

Clients (threads, one signed-in resident each) submit at a steady pace and retry a call that
got no answer or a 5xx with the same Idempotency-Key, as the mobile app does. A nemesis thread
breaks one thing at a time on schedule: it SIGKILLs a worker, kills Redis (which keeps nothing,
so every queued job is lost), crashes Postgres with `pg_ctl stop -m immediate`, or makes the
SMS provider answer 500. When the load is over the scenario waits for the system to settle and
then checks the invariants (tests/chaos/history.py) and reports (tests/chaos/report.py).
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from tests.chaos.cluster import Cluster
from tests.chaos.history import Call, History, Invariants, check
from tests.chaos.monitor import Monitor
from tests.chaos.report import FaultRecord, Report, complete
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
    complete(report, history, cluster)
    for client in clients:
        client.http.close()
    return report
