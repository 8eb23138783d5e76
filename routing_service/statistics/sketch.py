"""Response-time histograms with logarithmic buckets: percentiles within 1% of the exact value.

Exact percentiles over an arbitrary period need every value of the period, so their cost
follows the data. Counts in buckets whose bounds grow by a fixed ratio add up over days and
officers, and any value is known to within the bucket's width relative to itself (the
scheme of DDSketch, Masson et al., VLDB 2019): with ratio γ = (1 + α) / (1 - α), reporting
the bucket's midpoint 2γ^i / (γ + 1) is within α of every value in (γ^(i-1), γ^i].
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

RELATIVE_ACCURACY = 0.01
"""α: a reported percentile is within 1% of the exact one (0.1 h on a ten-hour median)."""
GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LOG_GAMMA = math.log(GAMMA)
SMALLEST_SECONDS = 1.0
"""Durations up to a second share bucket 0, reported as 0 (far below the hours shown)."""
LARGEST_BUCKET = 32_000
"""Bucket of ~10^277 seconds: the cap keeps any duration inside a SMALLINT column."""


def bucket(seconds: float) -> int:
    """The bucket a duration falls in: ⌈log_γ(seconds)⌉, 0 for a second or less."""
    if seconds <= SMALLEST_SECONDS:
        return 0
    return min(LARGEST_BUCKET, math.ceil(math.log(seconds) / _LOG_GAMMA))


def representative(index: int) -> float:
    """The value reported for a bucket: within α of any duration in it."""
    if index <= 0:
        return 0.0
    return 2 * GAMMA**index / (GAMMA + 1)


def merge(into: dict[int, int], histogram: Mapping[int, int]) -> None:
    """Add a histogram's counts into `into`; a bucket whose count comes to zero is dropped,
    so taking a value back leaves no trace."""
    for index, count in histogram.items():
        total = into.get(index, 0) + count
        if total:
            into[index] = total
        else:
            into.pop(index, None)


def pairs(histogram: Mapping[int, int]) -> list[int]:
    """A histogram as statistics_daily stores it: [bucket, count, ...], buckets ascending."""
    return [n for index in sorted(histogram) for n in (index, histogram[index])]


def add_pairs(into: dict[int, int], stored: Sequence[int]) -> None:
    """Add a stored histogram's counts into `into` (the read path: stored counts are never
    zero, so nothing needs dropping)."""
    counts = iter(stored)
    get = into.get
    for index, count in zip(counts, counts, strict=True):
        into[index] = get(index, 0) + count


def quantiles(histogram: Mapping[int, int], qs: Iterable[float]) -> list[float | None]:
    """Percentiles interpolated like Postgres's percentile_cont (between the values at ranks
    ⌊q(n-1)⌋ and ⌈q(n-1)⌉), each value estimated by its bucket; None when empty."""
    wanted = list(qs)
    total = sum(histogram.values())
    if total <= 0:
        return [None for _ in wanted]
    ranks = sorted({r for q in wanted for r in _ranks(q, total)})
    values: dict[int, float] = {}
    seen = 0
    pending = iter(ranks)
    rank = next(pending, None)
    for index in sorted(histogram):
        seen += histogram[index]
        while rank is not None and rank < seen:
            values[rank] = representative(index)
            rank = next(pending, None)
        if rank is None:
            break
    result: list[float | None] = []
    for q in wanted:
        low, high = _ranks(q, total)
        result.append(_between(values[low], values[high], q, total))
    return result


def _between(low: float, high: float, q: float, total: int) -> float:
    position = q * (total - 1)
    return low + (position - math.floor(position)) * (high - low)


def _ranks(q: float, total: int) -> tuple[int, int]:
    position = q * (total - 1)
    return math.floor(position), math.ceil(position)
