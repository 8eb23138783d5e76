"""The shape of the generated data: who files how many requests, and where they go.

Pure functions, so the distributions can be tested without a database; generate.py turns
them into SQL.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

SLOTS = 10_000
"""Resolution of the lookup tables that pick a service: one slot is 0.01% of requests."""

# Residents fall into tiers; within a tier each request picks a resident uniformly, so counts
# are Poisson around the tier's mean: most residents file a handful, a few file hundreds.
HEAVY_SHARE = 0.0001  # of residents (at least one): agents, family heads, ~300 requests each
HEAVY_MEAN = 300.0
FREQUENT_SHARE = 0.02  # ~25 requests each
FREQUENT_MEAN = 25.0
REGULAR_SHARE = 0.63  # the rest of the requests; the remaining ~35% never file one


@dataclass(frozen=True)
class Tier:
    """Residents numbered [first, first + size) share `requests` requests uniformly."""

    name: str
    first: int
    size: int
    requests: int

    @property
    def mean(self) -> float:
        """Expected requests per resident of this tier."""
        return self.requests / self.size if self.size else 0.0


def resident_tiers(residents: int, requests: int) -> list[Tier]:
    """Heavy, frequent and regular filers (in that order of resident numbers), then idle ones."""
    if residents < 3:
        raise ValueError("need at least three residents")
    heavy = max(1, round(residents * HEAVY_SHARE))
    frequent = max(1, round(residents * FREQUENT_SHARE))
    regular = max(1, min(residents - heavy - frequent, round(residents * REGULAR_SHARE)))
    heavy_requests = min(round(heavy * HEAVY_MEAN), requests // 20)
    frequent_requests = min(round(frequent * FREQUENT_MEAN), requests // 4)
    regular_requests = requests - heavy_requests - frequent_requests
    tiers = [
        Tier("heavy", 0, heavy, heavy_requests),
        Tier("frequent", heavy, frequent, frequent_requests),
        Tier("regular", heavy + frequent, regular, regular_requests),
    ]
    idle = residents - heavy - frequent - regular
    tiers.append(Tier("idle", heavy + frequent + regular, idle, 0))
    return tiers


def zipf_weights(count: int, exponent: float = 1.0) -> list[float]:
    """Weights 1/k^s for ranks 1..count, normalised to sum to 1."""
    raw = [1.0 / (rank**exponent) for rank in range(1, count + 1)]
    total = sum(raw)
    return [w / total for w in raw]


@dataclass(frozen=True)
class Service:
    """One e-service as the generator needs it (hours are working hours, as in the catalog)."""

    department: str
    code: str
    response_hours: int
    resolution_hours: int


def service_mix(
    departments: Sequence[tuple[str, Sequence[Service]]], exponent: float = 1.0
) -> list[tuple[Service, float]]:
    """Each service with its share of requests: departments Zipf-skewed in the order given,
    and services Zipf-skewed within their department."""
    mix: list[tuple[Service, float]] = []
    for (_, services), dept_weight in zip(
        departments, zipf_weights(len(departments), exponent), strict=True
    ):
        if not services:
            continue
        for service, weight in zip(services, zipf_weights(len(services), exponent), strict=True):
            mix.append((service, dept_weight * weight))
    total = sum(weight for _, weight in mix)
    return [(service, weight / total) for service, weight in mix]


def slots(weights: Sequence[float], size: int = SLOTS) -> list[int]:
    """A lookup table of `size` 1-based indexes, each index taking a share of slots close to
    its weight (largest remainder); a uniform slot then picks an index by weight."""
    total = sum(weights)
    exact = [w / total * size for w in weights]
    counts = [math.floor(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: exact[i] - counts[i], reverse=True)
    for i in order[: size - sum(counts)]:
        counts[i] += 1
    table: list[int] = []
    for index, count in enumerate(counts, start=1):
        table.extend([index] * count)
    return table


@dataclass(frozen=True)
class StaffPlan:
    """Officers and supervisors of one department, numbered [first, first + count)."""

    department: str
    officers_first: int
    officers: int
    supervisors_first: int
    supervisors: int


RESIDENTS_PER_OFFICER = 8_000


def staff_plan(
    departments: Sequence[str], weights: Sequence[float], residents: int
) -> list[StaffPlan]:
    """Officers in proportion to each department's share (at least two), a supervisor per
    twelve officers (at least one); officers first, then supervisors, in department order."""
    officer_counts = [
        max(2, round(weight * residents / RESIDENTS_PER_OFFICER)) for weight in weights
    ]
    supervisor_counts = [max(1, math.ceil(n / 12)) for n in officer_counts]
    plans: list[StaffPlan] = []
    officer_next = 0
    supervisor_next = sum(officer_counts)
    for code, officers, supervisors in zip(
        departments, officer_counts, supervisor_counts, strict=True
    ):
        plans.append(StaffPlan(code, officer_next, officers, supervisor_next, supervisors))
        officer_next += officers
        supervisor_next += supervisors
    return plans


def national_id_digits(first: int, serial: int) -> str:
    """The ID the generator's SQL builds for a resident: first digit, eight serial digits,
    Luhn check (mirrors generate.NATIONAL_ID_SQL, so tests can check the SQL)."""
    body = f"{first}{serial % 100_000_000:08d}"
    total = 0
    for index, char in enumerate(body):
        digit = int(char)
        if index % 2 == 0:
            digit = digit * 2 - 9 * (digit // 5)
        total += digit
    return body + str((10 - total % 10) % 10)
