"""Part 7 of issue 7's benchmark: each process's resident memory, read from /proc."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

LIMIT_MB = 150.0


def rss_mb(pid: int) -> float | None:
    """VmRSS of one process in MB, or None when it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def snapshot(pids: Mapping[str, int]) -> dict[str, float | None]:
    """RSS of every named process now."""
    return {name: rss_mb(pid) for name, pid in pids.items()}


def verdict(idle: Mapping[str, float | None], loaded: Mapping[str, float | None]) -> dict[str, Any]:
    """Idle and after-load RSS per process, and whether every one stayed under the limit."""
    worst = max((mb for mb in loaded.values() if mb is not None), default=0.0)
    over = sorted(name for name, mb in loaded.items() if mb is None or mb >= LIMIT_MB)
    return {
        "idle_mb": dict(idle),
        "after_load_mb": dict(loaded),
        "target": {"value": worst, "target": LIMIT_MB, "met": not over, "over": over},
    }
