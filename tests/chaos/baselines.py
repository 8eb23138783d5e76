"""Checklist #40's baselines, measured on a soak and set beside the figures the checklist gives.

The checklist calls them "a baseline to track, not an SLO", and our rule keeps speed out of
pass/fail tests: a soak exits 1 only when an invariant fails (tests/chaos/history.py). These
lines say, for each baseline, what the run measured and whether it stayed within, so that a
change that slows the system under faults shows up in the soak's report:

- p95 of reads < 300 ms and of submissions < 800 ms, outside faults;
- queue lag p95 < 10 s (from the outbox row a commit owed to its work done), outside faults;
- the oldest pending outbox row younger than 2 min once each fault has ended;
- memory growth < 10 %, Postgres connections stable, Redis memory back to its baseline.

"Outside faults" leaves out what overlapped a fault or the RECOVERY_GRACE after it: during a
fault the answer is a documented 503 or a wait, and the recovery times are reported apart.
Memory, connections and Redis are judged after warm-up: the median of the last third of the
quiet readings against the middle third's. Pools fill and caches warm in the first minutes
and then level off; a leak keeps growing. The growth from the start is printed beside it.
"""

from __future__ import annotations

import functools
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

READ_P95_MS = 300.0
SUBMIT_P95_MS = 800.0
QUEUE_LAG_P95_S = 10.0
OUTBOX_AGE_AFTER_FAULT_S = 120.0
MEMORY_GROWTH = 0.10
CONNECTIONS_GROWTH = 0.10
REDIS_MEMORY_GROWTH = 0.10
RECOVERY_GRACE = 10.0
"""Seconds after a fault ends still counted as its recovery, not as normal service."""


@dataclass(frozen=True)
class Window:
    """When a fault began and ended (time.monotonic())."""

    kind: str
    began: float
    ended: float


@dataclass(frozen=True)
class Sample:
    """One reading of the monitor (tests/chaos/monitor.py); None where the server was down."""

    at: float
    oldest_pending: float | None = None
    connections: int | None = None
    redis_bytes: int | None = None
    rss: dict[str, float] = field(default_factory=dict)
    """Resident memory of each process of the stack, MiB, by name."""


@dataclass(frozen=True)
class Verdict:
    """One baseline: what was measured against the checklist's figure."""

    name: str
    measured: str
    baseline: str
    within: bool | None
    """None when the run gave nothing to measure."""

    def line(self) -> str:
        """One line of the report."""
        word = {True: "within", False: "OVER", None: "not measured"}[self.within]
        return f"  {self.name}: {self.measured} (baseline {self.baseline}): {word}"


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (share in 0..1) of values that need not be sorted."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * share // 1))  # ceil, at least the first
    return ordered[min(len(ordered), int(rank)) - 1]


def quiet(began: float, ended: float, faults: Iterable[Window]) -> bool:
    """Whether [began, ended] misses every fault and its recovery grace."""
    return all(ended < f.began or began > f.ended + RECOVERY_GRACE for f in faults)


def latency(
    name: str,
    spans: Iterable[tuple[float, float]],
    faults: Sequence[Window],
    limit_ms: float,
) -> Verdict:
    """p95 of the successful calls (started, ended) that ran outside faults."""
    times = [(end - start) * 1000 for start, end in spans if quiet(start, end, faults)]
    if not times:
        return Verdict(name, "no call outside faults", f"< {limit_ms:.0f} ms", None)
    p95 = percentile(times, 0.95)
    measured = f"p95 {p95:.0f} ms of {len(times)} calls outside faults"
    return Verdict(name, measured, f"< {limit_ms:.0f} ms", p95 < limit_ms)


def queue_lag(lags: Iterable[tuple[float, float]], faults: Sequence[Window]) -> Verdict:
    """p95 of (owed, done) outbox spans outside faults, on the clock the windows use."""
    spans = list(lags)
    seconds = [done - owed for owed, done in spans if quiet(owed, done, faults)]
    name, baseline = "queue lag (outbox row to work done)", f"p95 < {QUEUE_LAG_P95_S:.0f} s"
    if not seconds:
        return Verdict(name, "no work done outside faults", baseline, None)
    p95 = percentile(seconds, 0.95)
    everything = percentile([done - owed for owed, done in spans], 0.95)
    measured = (
        f"p95 {p95:.2f} s of {len(seconds)} rows outside faults "
        f"({everything:.1f} s over all {len(spans)})"
    )
    return Verdict(name, measured, baseline, p95 < QUEUE_LAG_P95_S)


def outbox_after_faults(samples: Sequence[Sample], faults: Sequence[Window]) -> list[Verdict]:
    """For each fault, the oldest pending outbox row seen from its end to the next fault."""
    verdicts = []
    for number, fault in enumerate(faults):
        until = faults[number + 1].began if number + 1 < len(faults) else float("inf")
        ages = [
            s.oldest_pending
            for s in samples
            if fault.ended <= s.at < until and s.oldest_pending is not None
        ]
        name = f"outbox after {fault.kind}"
        baseline = f"oldest pending < {OUTBOX_AGE_AFTER_FAULT_S:.0f} s"
        if not ages:
            verdicts.append(Verdict(name, "no reading", baseline, None))
            continue
        worst = max(ages)
        measured = f"oldest pending at most {worst:.1f} s"
        verdicts.append(Verdict(name, measured, baseline, worst < OUTBOX_AGE_AFTER_FAULT_S))
    return verdicts


def _quiet_readings(
    samples: Sequence[Sample], faults: Sequence[Window], read: Callable[[Sample], float | None]
) -> list[float]:
    """What `read` takes from each sample outside faults, where it has a reading."""
    found = []
    for sample in samples:
        value = read(sample)
        if value is not None and quiet(sample.at, sample.at, faults):
            found.append(float(value))
    return found


def _thirds(readings: Sequence[float]) -> tuple[float, float, float] | None:
    """Medians of the first, middle and last third of the readings (None: under three)."""
    third = len(readings) // 3
    if third == 0:
        return None
    first, middle, last = (
        readings[:third],
        readings[third : len(readings) - third],
        readings[-third:],
    )
    return statistics.median(first), statistics.median(middle), statistics.median(last)


def steady(
    name: str, readings: Sequence[float], growth: float, unit: str, *, slack: float = 0.0
) -> Verdict:
    """Whether the median of the last third of the readings stayed within `growth` (plus
    `slack` units) of the middle third's: a warm pool levels off, a leak does not."""
    baseline = f"last third ≤ middle third + {growth:.0%}"
    thirds = _thirds(readings)
    if thirds is None:
        return Verdict(name, f"{len(readings)} readings", baseline, None)
    first, middle, last = thirds
    unit = f" {unit}" if unit else ""
    measured = f"median {first:.0f} → {middle:.0f} → {last:.0f}{unit} by thirds"
    return Verdict(name, measured, baseline, last <= middle * (1 + growth) + slack)


def _rss(process: str, sample: Sample) -> float | None:
    return sample.rss.get(process)


def memory(
    samples: Sequence[Sample],
    faults: Sequence[Window],
    start: Mapping[str, float],
    end: Mapping[str, float],
) -> Verdict:
    """Each process's resident memory after warm-up (middle to last third), with the growth
    from the start of the load to its end beside it."""
    baseline = f"growth after warm-up < {MEMORY_GROWTH:.0%}"
    later: dict[str, float] = {}
    for process in sorted({name for s in samples for name in s.rss}):
        thirds = _thirds(_quiet_readings(samples, faults, functools.partial(_rss, process)))
        if thirds is not None:
            later[process] = thirds[2] / thirds[1] - 1
    overall = {name: end[name] / start[name] - 1 for name in end if start.get(name)}
    if not later:
        return Verdict("process memory", "no reading", baseline, None)
    worst = max(later, key=lambda name: later[name])
    measured = f"most growth after warm-up {worst} {later[worst]:+.0%}"
    if overall:
        most = max(overall, key=lambda name: overall[name])
        measured += (
            f"; from start to end {most} {start[most]:.0f}→{end[most]:.0f} MiB "
            f"({overall[most]:+.0%})"
        )
    return Verdict("process memory", measured, baseline, later[worst] < MEMORY_GROWTH)


def verdicts(
    *,
    reads: Iterable[tuple[float, float]],
    submissions: Iterable[tuple[float, float]],
    lags: Iterable[tuple[float, float]],
    samples: Sequence[Sample],
    faults: Sequence[Window],
    rss_start: Mapping[str, float],
    rss_end: Mapping[str, float],
) -> list[Verdict]:
    """Every baseline of checklist #40 for one run."""
    redis_mib = [b / 2**20 for b in _quiet_readings(samples, faults, lambda s: s.redis_bytes)]
    return [
        latency("reads", reads, faults, READ_P95_MS),
        latency("submissions", submissions, faults, SUBMIT_P95_MS),
        queue_lag(lags, faults),
        *outbox_after_faults(samples, faults),
        memory(samples, faults, rss_start, rss_end),
        steady(
            "Postgres connections",
            _quiet_readings(samples, faults, lambda s: s.connections),
            CONNECTIONS_GROWTH,
            "",
            slack=1,
        ),
        steady("Redis used_memory", redis_mib, REDIS_MEMORY_GROWTH, "MiB", slack=0.5),
    ]


def lines(found: Sequence[Verdict]) -> list[str]:
    """The report's section: a heading, one line per baseline."""
    over = [v.name for v in found if v.within is False]
    head = "checklist #40 baselines (tracked, not pass/fail): " + (
        "all within" if not over else "over in " + ", ".join(over)
    )
    return [head, *(v.line() for v in found)]
