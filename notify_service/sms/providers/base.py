"""The provider interface: send one SMS, say what happened, and (where possible) ask later."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol


class Outcome(StrEnum):
    """What a send attempt means for the message."""

    accepted = "accepted"  # the provider has it
    retry = "retry"  # it surely does not (refused connection, 429, 5xx): try again, maybe elsewhere
    unknown = "unknown"  # it may (timed out after sending): ask before sending again
    rejected = "rejected"  # it never will (invalid number, content refused): do not retry


@dataclass(frozen=True)
class SendResult:
    """The provider's answer in our terms."""

    outcome: Outcome
    reference: str | None = None
    error: str | None = None


class SmsProvider(Protocol):
    """One way to send an SMS. `message_id` is our notification ID, stable across retries."""

    name: str
    has_receipts: bool  # False: acceptance is the last we will hear, so count it as delivered

    async def send(self, message_id: str, to: str, body: str) -> SendResult:
        """Send and classify the answer; never raise for network trouble."""
        ...

    async def lookup(
        self, message_id: str, to: str, body: str, since: datetime
    ) -> SendResult | None:
        """Whether the provider already holds this message (accepted + reference), is sure it
        does not (retry), or cannot be asked (None)."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


def classify_status(status: int) -> Outcome:
    """HTTP status of a refused request: 429 and 5xx are worth retrying, other 4xx are not."""
    return Outcome.retry if status == 429 or status >= 500 else Outcome.rejected
