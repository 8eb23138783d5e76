"""bench/results/latest.json and latest.md: figures, targets met or not, machine and versions."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
PACKAGES = ("fastapi", "uvicorn", "sqlalchemy", "asyncpg", "pydantic", "arq", "httpx", "aiohttp")


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    facts: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": {name: _version(name) for name in PACKAGES},
    }
    try:
        cpu = Path("/proc/cpuinfo").read_text()
        facts["cpu_model"] = next(
            line.split(":", 1)[1].strip() for line in cpu.splitlines() if "model name" in line
        )
    except (OSError, StopIteration):
        pass
    for tool, argv in (("postgres", ["postgres", "--version"]), ("wrk", ["wrk", "-v"])):
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=5)  # noqa: S603
            facts[tool] = (done.stdout or done.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            facts[tool] = None
    return facts


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def unmet(targets: dict[str, dict[str, Any]]) -> list[str]:
    """Names of the targets missed."""
    return [name for name, target in targets.items() if not target.get("met")]


def markdown(report: dict[str, Any]) -> str:
    """The human-readable table of one run."""
    lines = [f"# make bench — {report['finished_at']}", ""]
    settings = report["settings"]
    lines.append(
        f"{report['machine']['cpus']} CPUs, {report['machine']['platform']}, Python "
        f"{report['machine']['python']}; {settings}"
    )
    lines += [
        "",
        "## Targets",
        "",
        "| target | value | rule | verdict |",
        "| --- | --- | --- | --- |",
    ]
    for name, target in report["targets"].items():
        verdict = "met" if target.get("met") else "**NOT MET**"
        value = f"{target.get('value')}"
        if "rounds" in target:
            rounds = ", ".join(f"{r}" for r in target["rounds"])
            value += f" (rounds {rounds}; ratio of medians {target['ratio_of_medians']})"
        lines.append(f"| {name} | {value} | {target.get('rule', '')} | {verdict} |")
    throughput = {k: v for k, v in report["figures"].items() if "requests_per_second" in v}
    if throughput:
        lines += [
            "",
            "## Throughput (wrk, 64 connections)",
            "",
            "| scenario | req/s served (2xx, 3xx) min / median / max | p50 ms | p99 ms "
            "| non-2xx | errors | CPU ms per request |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for label, data in throughput.items():
            rps = data["requests_per_second"]
            cpu = ", ".join(f"{k} {v}" for k, v in data.get("cpu_ms_per_request", {}).items())
            lines.append(
                f"| {label} | {rps['min']:.0f} / {rps['median']:.0f} / {rps['max']:.0f} | "
                f"{data['p50_ms']:.1f} | {data['p99_ms']:.1f} | {data['non_2xx']} | "
                f"{data['errors']} | {cpu} |"
            )
    for section in ("pipeline", "memory", "login_cost", "notify_drain", "scale"):
        if section in report["figures"]:
            lines += ["", f"## {section}", "", "```json"]
            lines.append(json.dumps(report["figures"][section], indent=2, ensure_ascii=False))
            lines.append("```")
    missed = unmet(report["targets"])
    lines += ["", f"Targets missed: {', '.join(missed)}." if missed else "Every target met."]
    return "\n".join(lines) + "\n"


def write(report: dict[str, Any]) -> None:
    """Write both files and print the markdown."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    text = markdown(report)
    (RESULTS / "latest.md").write_text(text)
    print(text)
