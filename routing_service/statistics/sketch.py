"""Response-time histograms with logarithmic buckets: percentiles within 1% of the exact value.

Exact percentiles over an arbitrary period need every value of the period, so their cost
follows the data. Counts in buckets whose bounds grow by a fixed ratio add up over days and
officers, and any value is known to within the bucket's width relative to itself (the
scheme of DDSketch, Masson et al., VLDB 2019): with ratio γ = (1 + α) / (1 - α), reporting
the bucket's midpoint 2γ^i / (γ + 1) is within α of every value in (γ^(i-1), γ^i].
"""

from __future__ import annotations

import math
import sys
from array import array
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from itertools import accumulate

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
    buckets = sorted(histogram)
    return _quantiles(buckets, [histogram[b] for b in buckets], qs)


def _quantiles(
    buckets: Sequence[int], counts: Iterable[int], qs: Iterable[float]
) -> list[float | None]:
    """quantiles() over buckets ascending and their counts (zero counts allowed)."""
    wanted = list(qs)
    running = list(accumulate(counts))
    total = running[-1] if running else 0
    if total <= 0:
        return [None for _ in wanted]
    result: list[float | None] = []
    for q in wanted:
        low, high = (representative(buckets[bisect_right(running, r)]) for r in _ranks(q, total))
        result.append(_between(low, high, q, total))
    return result


# Dense histograms: what statistics_blocks serves to reads (migration 0012). A department
# block's histogram fills up with data (up to ~740 buckets between a minute and a year), and
# adding up a period's blocks entry by entry in Python cost more than the rest of the answer.
# Dense counts add up as whole integers instead: C does the work, whatever the bucket count.
_HEADER = 4
"""A dense histogram: its first bucket as a big-endian int4, then one big-endian uint32
count per bucket from there to its last; b"" when empty."""
_FIELD = 8
"""Bytes per bucket while adding: uint32 counts widened to 64 bits can never carry into the
next bucket, however many blocks are added."""
if array("I").itemsize != 4 or array("Q").itemsize != _FIELD:  # pragma: no cover
    raise ImportError("dense histograms need 4-byte 'I' and 8-byte 'Q' arrays")


def dense(histogram: Mapping[int, int]) -> bytes:
    """A histogram in the dense form, as the fold stores it beside the pairs (a count above
    2^32 - 1 in one block's bucket raises OverflowError rather than wrap)."""
    if not histogram:
        return b""
    low, high = min(histogram), max(histogram)
    counts = array("I", [histogram.get(b, 0) for b in range(low, high + 1)])
    if sys.byteorder == "little":
        counts.byteswap()
    return low.to_bytes(_HEADER, "big") + counts.tobytes()


class Histogram:
    """A histogram added up from stored ones, sparse pairs (daily cells) or dense forms
    (blocks), read once at the end for its percentiles."""

    __slots__ = ("_dense", "_sparse")

    def __init__(self) -> None:
        self._sparse: dict[int, int] = {}
        self._dense: list[tuple[int, int, int]] = []
        """(first bucket, last bucket, counts as one integer with the last bucket lowest)."""

    def add_pairs(self, stored: Sequence[int]) -> None:
        """A stored [bucket, count, ...] histogram."""
        add_pairs(self._sparse, stored)

    def add_dense(self, stored: bytes) -> None:
        """A stored dense histogram: its counts widened to 64 bits, as one integer."""
        if not stored:
            return
        width = (len(stored) - _HEADER) // 4
        wide = bytearray(_FIELD * width)
        for byte in range(4):
            wide[_FIELD - 4 + byte :: _FIELD] = stored[_HEADER + byte :: 4]
        low = int.from_bytes(stored[:_HEADER], "big")
        self._dense.append((low, low + width - 1, int.from_bytes(wide, "big")))

    def absorb(self, other: Histogram) -> None:
        """Another sum (a department's or an officer's total of several)."""
        sparse = self._sparse
        for index, count in other._sparse.items():
            sparse[index] = sparse.get(index, 0) + count
        self._dense.extend(other._dense)

    def quantiles(self, qs: Iterable[float]) -> list[float | None]:
        """Percentiles of everything added (see quantiles())."""
        if not self._dense:
            return quantiles(self._sparse, qs)
        low = min(first for first, _, _ in self._dense)
        high = max(last for _, last, _ in self._dense)
        total = 0
        for _, last, counts in self._dense:
            total += counts << (_FIELD * 8 * (high - last))
        wide = array("Q", total.to_bytes(_FIELD * (high - low + 1), "big"))
        if sys.byteorder == "little":
            wide.byteswap()
        if not self._sparse:
            return _quantiles(range(low, high + 1), wide, qs)
        merged = dict(self._sparse)
        merge(merged, {low + i: n for i, n in enumerate(wide) if n})
        return quantiles(merged, qs)


def _between(low: float, high: float, q: float, total: int) -> float:
    position = q * (total - 1)
    return low + (position - math.floor(position)) * (high - low)


def _ranks(q: float, total: int) -> tuple[int, int]:
    position = q * (total - 1)
    return math.floor(position), math.ceil(position)
