"""What one sign-in costs in CPU: an argon2id check with the gateway's production settings.

Logins are the heaviest call per request the system serves, and a login storm is normal
(issue 7), so the capacity plan needs this figure next to the HTTP ones."""

from __future__ import annotations

import statistics
import time
from typing import Any

from argon2 import PasswordHasher

from gateway.settings import GatewaySettings


def measure_login_cost(samples: int = 30) -> dict[str, Any]:
    """Median milliseconds of one password check, and checks per second one core can do."""
    fields = GatewaySettings.model_fields
    memory = int(fields["argon2_memory_kib"].default)
    rounds = int(fields["argon2_time_cost"].default)
    hasher = PasswordHasher(time_cost=rounds, memory_cost=memory, parallelism=1)
    stored = hasher.hash("a benchmark password")
    spent = []
    for _ in range(samples):
        start = time.perf_counter()
        hasher.verify(stored, "a benchmark password")
        spent.append((time.perf_counter() - start) * 1000)
    median = statistics.median(spent)
    return {
        "argon2_memory_kib": memory,
        "argon2_time_cost": rounds,
        "ms_per_check": {"min": round(min(spent), 2), "median": round(median, 2)},
        "checks_per_core_per_second": round(1000 / median, 1),
    }
