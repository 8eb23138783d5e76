"""When the SMS provider answers again after failing, send what waited for it at once.

A message refused by a failing provider waits base·2ⁿ seconds before its next try, so that a
long outage costs a few tries per message over the ten-attempt budget (~30 min) rather than
a storm. Those waits do not end with the outage: after one minute of HTTP 500s the soak
measured messages still waiting 95 s after the provider was back, and the oldest pending
outbox row at 149 s (checklist #40 wants under 2 min after each fault). Shortening the
backoff would spend the retry budget inside one outage. Instead the backoff stays, and the
first accepted send after failures is the probe: it releases every message that is waiting
only because a provider refused it (its notification `created`, tried at least once, never
in doubt), so the backlog drains as fast as the worker's in-flight cap allows.

Messages in doubt (`sending` past their claim) are not released: they wait for their lease,
then the provider is asked before anything is sent again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable

import structlog
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notify_service.sms.providers.base import Outcome
from shared.queue.contract import Queue

log = structlog.get_logger()

RELEASE_INTERVAL = 10.0
"""Seconds between two releases by one worker: a provider that fails again under the
released backlog is probed again, not flooded in a loop."""
SMS_QUEUES = (Queue.notify.value, Queue.otp.value)

_RELEASE = text(
    """
    UPDATE outbox o SET available_at = now()
    FROM notifications n
    WHERE o.status = 'pending' AND o.queue = ANY(:queues) AND o.available_at > now()
      AND n.idempotency_key = o.id::text AND n.status = 'created' AND n.attempts > 0
    """
)


class Recovery:
    """One worker's view: have its sends been refused since it last released the backlog?"""

    def __init__(self) -> None:
        self.refused = False
        self.released_at = -math.inf

    def due(self, outcomes: Iterable[Outcome]) -> bool:
        """Note a batch's answers; True when they show the provider back after refusals."""
        seen = set(outcomes)
        if Outcome.retry in seen:
            self.refused = True
            return False
        return (
            self.refused
            and Outcome.accepted in seen
            and time.monotonic() - self.released_at >= RELEASE_INTERVAL
        )

    async def release(self, sessions: async_sessionmaker[AsyncSession]) -> int | None:
        """Make every message waiting on a refusal due now; how many were released, or None
        when Postgres could not be reached (their backoff still brings them, and the next
        accepted send tries again)."""
        try:
            async with sessions() as session, session.begin():
                result = await session.execute(_RELEASE, {"queues": list(SMS_QUEUES)})
        except (SQLAlchemyError, OSError) as exc:
            log.warning("notify.sms_backlog_release_failed", error=type(exc).__name__)
            return None
        self.refused = False
        self.released_at = time.monotonic()
        released = int(getattr(result, "rowcount", 0) or 0)
        log.info("notify.sms_backlog_released", released=released)
        return released
