"""Applies one action to a request: state machine, timeline event, timestamps and owed SMS."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.requests import Request, RequestEvent
from shared.queue.contract import Job
from shared.queue.outbox import owe
from shared.request_status import EVENT_TYPES, RESIDENT_SMS, Action, Status, next_status
from shared.sla import targets

FIRST_RESPONSE = {Action.reply, Action.request_info, Action.resolve, Action.reject}
FINISHING = {Action.resolve, Action.reject}


def transition(
    session: AsyncSession,
    request: Request,
    action: Action,
    *,
    actor_type: str,
    actor_id: str | None,
    producer: str,
    data: dict[str, Any] | None = None,
    internal: bool = False,
    sms_values: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> RequestEvent:
    """Move `request` (locked by the caller) by `action`, or raise InvalidTransition (409)."""
    moment = now or datetime.now(UTC)
    before = request.status
    after = next_status(action, before).value
    request.status = after
    request.version += 1
    request.updated_at = moment
    if action in FIRST_RESPONSE and request.first_response_at is None:
        request.first_response_at = moment
        request.warned_at = None  # the resolution target gets its own warning
    if action in FINISHING:
        request.resolved_at = moment
    if after == Status.awaiting_resident.value and before != after:
        request.awaiting_since = moment
    elif before == Status.awaiting_resident.value and after != before:
        if request.awaiting_since is not None:  # time awaiting the resident does not count
            targets.pause(request, targets.default_calendar(), request.awaiting_since, moment)
        request.awaiting_since = None
    event = RequestEvent(
        request_id=request.id,
        type=EVENT_TYPES[action],
        from_status=before,
        to_status=after,
        actor_type=actor_type,
        actor_id=actor_id,
        internal=internal,
        data=data or {},
        created_at=moment,
    )
    session.add(event)
    template = RESIDENT_SMS.get(action)
    if template and request.reference and not internal:
        owe(
            session,
            Job.send_sms,
            {
                "event": template,
                "resident_id": str(request.resident_id),
                "request_id": str(request.id),
                "values": {"reference": request.reference, **(sms_values or {})},
            },
            producer=producer,
        )
    if request.reference and not internal:
        # Partners' webhooks: fanned out by the webhook worker, off the SMS path.
        owe(
            session,
            Job.fan_out_event,
            {
                "event_key": f"{request.id}:{request.version}",
                "request_id": str(request.id),
                "type": EVENT_TYPES[action],
                "from_status": before,
                "to_status": after,
                "occurred_at": moment.isoformat(),
            },
            producer=producer,
        )
    return event
