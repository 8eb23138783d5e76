"""Crash points kill only a process started to die there, and never in production."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from shared.faults import KILLED_EXIT_CODE, POINTS

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("gateway", "intake_service", "routing_service", "notify_service", "shared")


def _run_point(env: dict[str, str]) -> int:
    code = "from shared import faults; faults.point('relay.after_enqueue'); print('alive')"
    return subprocess.run(
        [sys.executable, "-c", code], env={"PYTHONPATH": str(ROOT), **env}, check=False
    ).returncode


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"FAULT_POINT": "relay.after_enqueue"}, KILLED_EXIT_CODE),
        ({"FAULT_POINT": "notify.after_send"}, 0),
        ({}, 0),
        ({"FAULT_POINT": "relay.after_enqueue", "ENVIRONMENT": "production"}, 0),
    ],
)
def test_a_point_kills_only_when_armed_outside_production(
    env: dict[str, str], expected: int
) -> None:
    assert _run_point(env) == expected


def test_every_point_in_the_code_is_declared_and_every_declared_point_is_used() -> None:
    used: set[str] = set()
    for package in PRODUCT:
        for path in (ROOT / package).rglob("*.py"):
            used |= set(re.findall(r"faults\.point\(\"([^\"]+)\"\)", path.read_text()))
    assert used == POINTS
