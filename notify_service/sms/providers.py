"""SMS providers behind one interface; each says whether to retry, never raises for the network."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import httpx
import structlog

from notify_service.settings import NotifySettings

log = structlog.get_logger()


class Outcome(StrEnum):
    """What a send attempt means for the message."""

    accepted = "accepted"
    retry = "retry"
    rejected = "rejected"


@dataclass(frozen=True)
class SendResult:
    """The provider's answer in our terms."""

    outcome: Outcome
    reference: str | None = None
    error: str | None = None


class SmsProvider(Protocol):
    """Sends one SMS; `message_id` lets a provider drop a repeat of the same message."""

    name: str

    async def send(self, message_id: str, to: str, body: str) -> SendResult:
        """Send and classify the answer."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class ConsoleProvider:
    """Development provider: prints the message on stdout (never through the logger)."""

    name = "console"

    async def send(self, message_id: str, to: str, body: str) -> SendResult:
        """Print and accept."""
        sys.stdout.write(f"[SMS to {to}] {body}\n")
        sys.stdout.flush()
        return SendResult(Outcome.accepted, reference=message_id)

    async def aclose(self) -> None:
        """Nothing to release."""


class WebhookProvider:
    """POSTs JSON {to, body, id}; 2xx accepted, 429/5xx/network retried, other 4xx rejected."""

    name = "webhook"

    def __init__(self, url: str, *, timeout: float) -> None:
        self._url = url
        self._timeout = timeout
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=3.0))

    async def send(self, message_id: str, to: str, body: str) -> SendResult:
        """One POST under an overall deadline (a dribbling server cannot hold us)."""
        try:
            async with asyncio.timeout(self._timeout + 2):
                response = await self._client.post(
                    self._url,
                    json={"to": to, "body": body, "id": message_id},
                    headers={"Idempotency-Key": message_id},
                )
        except (httpx.HTTPError, TimeoutError, OSError) as exc:
            return SendResult(Outcome.retry, error=f"network: {type(exc).__name__}")
        if response.is_success:
            return SendResult(Outcome.accepted, reference=message_id)
        error = f"http {response.status_code}"
        if response.status_code == 429 or response.status_code >= 500:
            return SendResult(Outcome.retry, error=error)
        return SendResult(Outcome.rejected, error=error)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()


def build_provider(settings: NotifySettings) -> SmsProvider:
    """The provider the settings name."""
    if settings.sms_provider == "webhook":
        if not settings.sms_webhook_url:
            raise ValueError("SMS_WEBHOOK_URL is required when SMS_PROVIDER=webhook")
        return WebhookProvider(settings.sms_webhook_url, timeout=settings.sms_timeout)
    return ConsoleProvider()
