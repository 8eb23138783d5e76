"""Submissions under every fault of the soak, at a size that fits `make test` (issue 8).

The same scenario as `make soak` (tests/chaos/scenario.py), shorter and with faults held for
seconds instead of a minute: 120 submissions in 60 s while each worker type is killed, Redis
is killed three times (losing every queued job), Postgres crashes once and the SMS provider
fails. Nothing acknowledged may be lost, every SMS must arrive exactly once, and the only 5xx
a client may see is the documented 503.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.chaos.cluster import cluster
from tests.chaos.history import History
from tests.chaos.scenario import plan, run

pytestmark = pytest.mark.e2e

SUBMISSIONS = 120


def test_nothing_is_lost_or_sent_twice_under_every_fault(
    backing: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    work = tmp_path_factory.mktemp("chaos")
    history = History(work / "history.jsonl")
    scenario = plan(SUBMISSIONS, 60, long_holds=False)
    with cluster(backing.env(), work) as running:
        report = run(running, scenario, history)
    history.close()
    print("\n".join(report.lines()))
    figures = report.invariants
    assert figures.violations() == [], "\n".join(report.lines())
    assert figures.acknowledged == SUBMISSIONS, "\n".join(report.lines())
    assert [record.kind for record in report.faults] == [f.kind for f in scenario.faults]
    assert all(record.api_recovery is not None for record in report.faults)
