"""Request states, the labels residents read, and which moves are allowed."""

from __future__ import annotations

from enum import StrEnum

from shared.errors import Conflict


class Status(StrEnum):
    """States of a request (see architecture: draft → submitted → routed → …)."""

    draft = "draft"
    submitted = "submitted"
    routed = "routed"
    in_progress = "in_progress"
    awaiting_resident = "awaiting_resident"
    resolved = "resolved"
    rejected = "rejected"
    withdrawn = "withdrawn"
    closed = "closed"


# Labels close to the real service's wording; Arabic first.
LABELS: dict[Status, tuple[str, str]] = {
    Status.draft: ("مسودة", "Draft"),
    Status.submitted: ("تم الاستلام", "Received"),
    Status.routed: ("تحت المعالجة", "Under processing"),
    Status.in_progress: ("تحت المعالجة", "Under processing"),
    Status.awaiting_resident: ("معاد لمقدم الطلب", "Returned to the applicant"),
    Status.resolved: ("تمت المعالجة", "Processed"),
    Status.rejected: ("مرفوض", "Rejected"),
    Status.withdrawn: ("مسحوب", "Withdrawn"),
    Status.closed: ("مغلق", "Closed"),
}


def label(status: str) -> dict[str, str]:
    """Both labels of a status, for API responses."""
    ar, en = LABELS.get(Status(status), (status, status))
    return {"ar": ar, "en": en}


class Action(StrEnum):
    """Everything anyone can do to a request; each is one timeline event."""

    submit = "submit"
    route = "route"
    claim = "claim"
    reply = "reply"
    request_info = "request_info"
    respond = "respond"
    transfer = "transfer"
    resolve = "resolve"
    reject = "reject"
    withdraw = "withdraw"
    rate = "rate"
    note = "note"
    reassign = "reassign"


_OPEN = frozenset({Status.submitted, Status.routed, Status.in_progress, Status.awaiting_resident})
_ACTIVE = frozenset({Status.routed, Status.in_progress, Status.awaiting_resident})

# action -> (states it is allowed in, state it leads to; None keeps the state)
TRANSITIONS: dict[Action, tuple[frozenset[Status], Status | None]] = {
    Action.submit: (frozenset({Status.draft}), Status.submitted),
    Action.route: (frozenset({Status.submitted}), Status.routed),
    Action.claim: (frozenset({Status.routed}), Status.in_progress),
    Action.reply: (frozenset({Status.in_progress}), None),
    Action.request_info: (frozenset({Status.in_progress}), Status.awaiting_resident),
    Action.respond: (frozenset({Status.awaiting_resident}), Status.in_progress),
    Action.transfer: (_ACTIVE, Status.routed),
    Action.resolve: (frozenset({Status.in_progress}), Status.resolved),
    Action.reject: (_ACTIVE, Status.rejected),
    Action.withdraw: (_OPEN | {Status.draft}, Status.withdrawn),
    Action.rate: (frozenset({Status.resolved}), Status.closed),
    Action.note: (_ACTIVE | {Status.submitted, Status.resolved, Status.rejected}, None),
    Action.reassign: (_ACTIVE, None),
}

# The SMS a resident receives for an action that concerns them (template event names).
RESIDENT_SMS: dict[Action, str] = {
    Action.submit: "request_submitted",
    Action.route: "request_routed",
    Action.transfer: "request_routed",
    Action.reply: "request_replied",
    Action.request_info: "information_needed",
    Action.resolve: "request_resolved",
    Action.reject: "request_rejected",
    Action.withdraw: "request_withdrawn",
}


class InvalidTransition(Conflict):
    """The action is not allowed in the request's current state (409 naming the state)."""

    code = "invalid_state"

    def __init__(self, status: str, action: str) -> None:
        ar, en = LABELS.get(Status(status), (status, status))
        super().__init__(
            f"The request is '{status}' ({en}), so '{action}' is not possible now.",
            f"لا يمكن تنفيذ هذا الإجراء لأن حالة الطلب «{ar}».",
            extra={"current_status": status, "action": action},
        )


def next_status(action: Action, current: str) -> Status:
    """The state `action` leads to from `current`, or InvalidTransition."""
    allowed, target = TRANSITIONS[action]
    state = Status(current)
    if state not in allowed:
        raise InvalidTransition(current, action.value)
    return target or state


# The timeline name of each action, as residents' apps and staff tools read it.
EVENT_TYPES: dict[Action, str] = {
    Action.submit: "submitted",
    Action.route: "routed",
    Action.claim: "claimed",
    Action.reply: "replied",
    Action.request_info: "information_requested",
    Action.respond: "resident_responded",
    Action.transfer: "transferred",
    Action.resolve: "resolved",
    Action.reject: "rejected",
    Action.withdraw: "withdrawn",
    Action.rate: "rated",
    Action.note: "note_added",
    Action.reassign: "reassigned",
}
