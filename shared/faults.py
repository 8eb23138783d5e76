"""Crash points: named places where a test kills the process to prove nothing is lost.

Reliability checklist #1 and #13 ask what happens when a process dies between two steps that
cannot be one transaction (a commit and its answer, an enqueue and its record). A test starts
a process with `FAULT_POINT=<name>`; the first time the code passes that point the process
exits at once with status 137, as a SIGKILL would leave it: no `finally`, no flush, no reply.
Without the variable, or in production, a point costs one dictionary lookup and does nothing.
"""

from __future__ import annotations

import os
import sys

FAULT_POINT_ENV = "FAULT_POINT"
KILLED_EXIT_CODE = 137

# Every point the code defines, so a test cannot arm one that no longer exists.
POINTS = frozenset(
    {
        "intake.draft.after_commit",
        "intake.submit.after_commit",
        "relay.after_enqueue",
        "notify.after_send",
    }
)


def point(name: str) -> None:
    """Die here if this process was started to die here (never in production)."""
    wanted = os.environ.get(FAULT_POINT_ENV)
    if not wanted or wanted != name:
        return
    if os.environ.get("ENVIRONMENT", "").lower() == "production":
        return
    sys.stderr.write(f"fault point {name}: exiting {KILLED_EXIT_CODE}\n")
    sys.stderr.flush()
    os._exit(KILLED_EXIT_CODE)
