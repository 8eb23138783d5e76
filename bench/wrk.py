"""Runs wrk and reads its throughput and latency percentiles."""

from __future__ import annotations

import re
import shutil
import statistics
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class Sample:
    """One wrk run. `requests_per_second` counts the answers that succeeded (2xx and 3xx): a
    503 from a server shedding load is not a request served."""

    requests_per_second: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    errors: int


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if not match:
        raise ValueError(f"unreadable latency {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def run(
    url: str,
    *,
    seconds: int,
    connections: int = 64,
    headers: dict[str, str] | None = None,
    method: str = "GET",
    body: str | None = None,
    script: str | None = None,
) -> Sample:
    """One run of `wrk -t1 -c<connections> -d<seconds>s --latency`.

    `script` is a whole Lua script (wrk's request/response hooks) used instead of
    the one made from `method` and `body`."""
    binary = shutil.which("wrk")
    if binary is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    argv = [binary, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s"]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    with tempfile.TemporaryDirectory() as tmp:
        if script is not None:
            script_path = Path(tmp) / "script.lua"
            script_path.write_text(script)
            argv += ["-s", str(script_path)]
        elif method != "GET" or body is not None:
            request_path = Path(tmp) / "request.lua"
            payload = (body or "").replace("\\", "\\\\").replace('"', '\\"')
            request_path.write_text(
                f'wrk.method = "{method}"\nwrk.body = "{payload}"\n'
                'wrk.headers["Content-Type"] = "application/json"\n'
            )
            argv += ["-s", str(request_path)]
        output = subprocess.run(  # noqa: S603 - our own fixed command line
            [*argv, url], capture_output=True, text=True, check=True, timeout=seconds + 30
        ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    answered = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s*50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s*99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    refused = int(non_2xx.group(1)) if non_2xx else 0
    return Sample(
        requests_per_second=rps * (answered - refused) / answered if answered else 0.0,
        p50_ms=p50,
        p99_ms=p99,
        non_2xx=refused,
        errors=sum(int(g) for g in errors.groups()) if errors else 0,
    )


def spread(values: Sequence[float]) -> dict[str, float]:
    """min / median / max of repeated measurements."""
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def summary(runs: Sequence[Sample]) -> dict[str, Any]:
    """Throughput spread and median latencies over repeated runs, as every report shows them."""
    return {
        "requests_per_second": spread([r.requests_per_second for r in runs]),
        "p50_ms": statistics.median(r.p50_ms for r in runs),
        "p99_ms": statistics.median(r.p99_ms for r in runs),
        "non_2xx": sum(r.non_2xx for r in runs),
        "errors": sum(r.errors for r in runs),
    }
