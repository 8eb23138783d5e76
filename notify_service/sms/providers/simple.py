"""`console` (development: prints) and `webhook` (POSTs JSON) providers."""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime

import httpx

from notify_service.sms.providers.base import Outcome, SendResult, classify_status


class ConsoleProvider:
    """Development provider: prints the message on stdout (never through the logger)."""

    name = "console"
    has_receipts = False

    async def send(self, message_id: str, to: str, body: str) -> SendResult:
        """Print and accept."""
        sys.stdout.write(f"[SMS to {to}] {body}\n")
        sys.stdout.flush()
        return SendResult(Outcome.accepted, reference=message_id)

    async def lookup(
        self, message_id: str, to: str, body: str, since: datetime
    ) -> SendResult | None:
        """Printing cannot be asked about."""
        return None

    async def aclose(self) -> None:
        """Nothing to release."""


class WebhookProvider:
    """POSTs JSON {to, body, id}; any 2xx is accepted. The `id` lets the receiver drop repeats."""

    name = "webhook"
    has_receipts = False

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
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            return SendResult(Outcome.retry, error=f"network: {type(exc).__name__}")
        except (httpx.HTTPError, TimeoutError, OSError) as exc:
            return SendResult(Outcome.unknown, error=f"no answer: {type(exc).__name__}")
        if response.is_success:
            return SendResult(Outcome.accepted, reference=message_id)
        return SendResult(
            classify_status(response.status_code), error=f"http {response.status_code}"
        )

    async def lookup(
        self, message_id: str, to: str, body: str, since: datetime
    ) -> SendResult | None:
        """A plain webhook cannot be asked; the repeat carries the same id instead."""
        return None

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()
