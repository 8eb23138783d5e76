"""Every action in every state: allowed moves lead where the design says, the rest are 409."""

from __future__ import annotations

import pytest

from shared.request_status import Action, InvalidTransition, Status, next_status

# Written out from the design (architecture.md and issue 3), not derived from the code.
ALLOWED: dict[tuple[Action, Status], Status] = {
    (Action.submit, Status.draft): Status.submitted,
    (Action.route, Status.submitted): Status.routed,
    (Action.claim, Status.routed): Status.in_progress,
    (Action.reply, Status.in_progress): Status.in_progress,
    (Action.request_info, Status.in_progress): Status.awaiting_resident,
    (Action.respond, Status.awaiting_resident): Status.in_progress,
    (Action.transfer, Status.routed): Status.routed,
    (Action.transfer, Status.in_progress): Status.routed,
    (Action.transfer, Status.awaiting_resident): Status.routed,
    (Action.resolve, Status.in_progress): Status.resolved,
    (Action.reject, Status.routed): Status.rejected,
    (Action.reject, Status.in_progress): Status.rejected,
    (Action.reject, Status.awaiting_resident): Status.rejected,
    (Action.withdraw, Status.draft): Status.withdrawn,
    (Action.withdraw, Status.submitted): Status.withdrawn,
    (Action.withdraw, Status.routed): Status.withdrawn,
    (Action.withdraw, Status.in_progress): Status.withdrawn,
    (Action.withdraw, Status.awaiting_resident): Status.withdrawn,
    (Action.rate, Status.resolved): Status.closed,
    (Action.note, Status.submitted): Status.submitted,
    (Action.note, Status.routed): Status.routed,
    (Action.note, Status.in_progress): Status.in_progress,
    (Action.note, Status.awaiting_resident): Status.awaiting_resident,
    (Action.note, Status.resolved): Status.resolved,
    (Action.note, Status.rejected): Status.rejected,
    (Action.reassign, Status.routed): Status.routed,
    (Action.reassign, Status.in_progress): Status.in_progress,
    (Action.reassign, Status.awaiting_resident): Status.awaiting_resident,
}
EVERY = [(action, status) for action in Action for status in Status]


@pytest.mark.parametrize(("action", "status"), [p for p in EVERY if p in ALLOWED])
def test_allowed_moves(action: Action, status: Status) -> None:
    assert next_status(action, status.value) is ALLOWED[(action, status)]


@pytest.mark.parametrize(("action", "status"), [p for p in EVERY if p not in ALLOWED])
def test_refused_moves_name_the_state(action: Action, status: Status) -> None:
    with pytest.raises(InvalidTransition) as refused:
        next_status(action, status.value)
    assert refused.value.status == 409
    assert refused.value.extra["current_status"] == status.value


def test_finished_requests_accept_nothing_that_changes_them() -> None:
    for status in (Status.withdrawn, Status.closed):
        assert not [a for a in Action if (a, status) in ALLOWED]
