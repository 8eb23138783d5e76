"""Checklist #40's baselines as the soak reports them (tests/chaos/baselines.py)."""

from __future__ import annotations

from tests.chaos import baselines
from tests.chaos.baselines import RECOVERY_GRACE, Sample, Window

FAULT = Window("redis", began=100.0, ended=110.0)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert baselines.percentile(values, 0.95) == 95.0
    assert baselines.percentile(list(reversed(values)), 0.5) == 50.0
    assert baselines.percentile([7.0], 0.95) == 7.0


def test_a_call_during_a_fault_or_its_grace_is_not_quiet() -> None:
    assert baselines.quiet(90.0, 99.0, [FAULT])
    assert not baselines.quiet(99.0, 101.0, [FAULT])
    assert not baselines.quiet(110.0 + RECOVERY_GRACE - 1, 130.0, [FAULT])
    assert baselines.quiet(110.0 + RECOVERY_GRACE + 1, 130.0, [FAULT])


def test_latency_leaves_out_the_calls_a_fault_slowed() -> None:
    quick = [(float(t), t + 0.1) for t in range(0, 90)]
    stalled = [(100.0, 104.0)] * 50  # waited for Redis: would make p95 4 s
    verdict = baselines.latency("reads", quick + stalled, [FAULT], 300)
    assert verdict.within is True
    assert "p95 100 ms of 90 calls" in verdict.measured
    slow = baselines.latency("reads", [(0.0, 0.5)] * 20, [FAULT], 300)
    assert slow.within is False
    assert "OVER" in slow.line()
    assert baselines.latency("reads", stalled, [FAULT], 300).within is None


def test_queue_lag_over_ten_seconds_outside_faults_is_over() -> None:
    assert baselines.queue_lag([(0.0, 0.5)] * 19 + [(0.0, 30.0)], [FAULT]).within is True
    assert baselines.queue_lag([(0.0, 12.0)] * 20, [FAULT]).within is False
    during = baselines.queue_lag([(105.0, 140.0)], [FAULT])
    assert during.within is None


def test_outbox_age_is_judged_from_each_faults_end_to_the_next() -> None:
    second = Window("sms", began=200.0, ended=260.0)
    samples = [
        Sample(105.0, oldest_pending=300.0),  # during the first fault: not judged
        Sample(112.0, oldest_pending=40.0),
        Sample(150.0, oldest_pending=0.0),
        Sample(230.0, oldest_pending=None),  # Postgres unreachable
        Sample(270.0, oldest_pending=150.0),
    ]
    first, after_second = baselines.outbox_after_faults(samples, [FAULT, second])
    assert first.within is True
    assert "40.0 s" in first.measured
    assert after_second.within is False
    none = baselines.outbox_after_faults([], [FAULT])
    assert [v.within for v in none] == [None]


def test_steady_tells_a_leak_from_a_pool_that_filled() -> None:
    filled = [12.0, 20.0, 26.0, 33.0, 34.0, 35.0, 34.0, 35.0, 35.0]  # warm-up, then level
    verdict = baselines.steady("connections", filled, 0.1, "", slack=1)
    assert verdict.within is True
    assert verdict.measured == "median 20 → 34 → 35 by thirds"
    leak = [20.0, 21.0, 22.0, 30.0, 33.0, 36.0, 45.0, 50.0, 55.0]
    assert baselines.steady("connections", leak, 0.1, "", slack=1).within is False
    assert baselines.steady("connections", [1.0, 2.0], 0.1, "").within is None


def _memory_samples(curve: dict[str, list[float]]) -> list[Sample]:
    length = len(next(iter(curve.values())))
    return [
        Sample(200.0 + t, rss={name: values[t] for name, values in curve.items()})
        for t in range(length)
    ]


def test_memory_is_judged_after_warm_up_with_the_growth_from_the_start_beside() -> None:
    warm = [100.0, 110.0, 116.0, 118.0, 119.0, 119.0, 119.0, 120.0, 119.0]  # +19 %, then level
    steady_worker = [90.0] * 9
    samples = _memory_samples({"notify-worker": warm, "gateway": steady_worker})
    verdict = baselines.memory(samples, [FAULT], {"notify-worker": 100.0}, {"notify-worker": 119.0})
    assert verdict.within is True
    assert "notify-worker 100→119 MiB (+19%)" in verdict.measured
    leaking = [100.0, 104.0, 108.0, 112.0, 116.0, 120.0, 124.0, 128.0, 132.0]
    samples = _memory_samples({"notify-worker": leaking, "gateway": steady_worker})
    verdict = baselines.memory(samples, [FAULT], {}, {})
    assert verdict.within is False
    assert "most growth after warm-up notify-worker +" in verdict.measured
    assert baselines.memory([], [FAULT], {}, {}).within is None


def test_the_section_names_every_baseline_over() -> None:
    found = baselines.verdicts(
        reads=[(0.0, 0.5)] * 10,
        submissions=[(0.0, 0.1)] * 10,
        lags=[(0.0, 1.0)] * 10,
        samples=[Sample(float(t), 0.0, 10, 2**20, {"gateway": 100.0}) for t in range(200, 230)],
        faults=[FAULT],
        rss_start={"gateway": 100.0},
        rss_end={"gateway": 101.0},
    )
    text = baselines.lines(found)
    assert text[0] == "checklist #40 baselines (tracked, not pass/fail): over in reads"
    assert len(text) == 1 + len(found) == 8
