"""`console` (development: prints) and `webhook` (POSTs JSON) providers."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import datetime

import aiohttp

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
    """POSTs JSON {to, body, id}; any 2xx is accepted. The `id` lets the receiver drop repeats.

    It posts on an aiohttp session directly: per message that costs a fraction of the CPU of
    httpx's API (measured in bench/notify_drain.py), and a burst of status SMS is all POSTs."""

    name = "webhook"
    has_receipts = False

    def __init__(self, url: str, *, timeout: float, connections: int = 200) -> None:
        self._url = url
        self._timeout = timeout
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        """The pooled session, made on first use (it must belong to the running loop)."""
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._connections),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=3.0),
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding"),
            )
        return self._session

    async def send(self, message_id: str, to: str, body: str) -> SendResult:
        """One POST under an overall deadline (a dribbling server cannot hold us)."""
        payload = json.dumps({"to": to, "body": body, "id": message_id}).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": message_id}
        try:
            async with (
                asyncio.timeout(self._timeout + 2),
                self._client().post(self._url, data=payload, headers=headers) as response,
            ):
                status = response.status
                await response.read()
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            return SendResult(Outcome.retry, error=f"network: {type(exc).__name__}")
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return SendResult(Outcome.unknown, error=f"no answer: {type(exc).__name__}")
        if 200 <= status < 300:
            return SendResult(Outcome.accepted, reference=message_id)
        return SendResult(classify_status(status), error=f"http {status}")

    async def lookup(
        self, message_id: str, to: str, body: str, since: datetime
    ) -> SendResult | None:
        """A plain webhook cannot be asked; the repeat carries the same id instead."""
        return None

    async def aclose(self) -> None:
        """Close the connection pool."""
        if self._session is not None:
            await self._session.close()
