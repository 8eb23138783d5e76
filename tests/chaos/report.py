"""What a fault scenario reports once it has settled: the invariants, each fault's recovery,
the latency of successful calls, the monitor's figures and checklist #40's baselines."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import asyncpg

from tests.chaos import baselines
from tests.chaos.cluster import Cluster
from tests.chaos.history import History, Invariants
from tests.chaos.monitor import Figures
from tests.support.sync import run_sync


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


def complete(report: Report, history: History, cluster: Cluster) -> None:
    """Add what is measured from the history and the database after the run."""
    report.latency = _percentiles(history)
    _recovery(report, history, cluster)
    report.baselines = _baselines(report, history, cluster)


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
