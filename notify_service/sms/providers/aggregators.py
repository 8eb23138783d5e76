"""Adapters for two SMS aggregators' HTTP APIs: Unifonic (Saudi Arabia) and Twilio (worldwide)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx

from notify_service.sms.providers.base import Outcome, SendResult

# Unifonic error codes that no retry can fix: bad number, empty body, filtered content.
UNIFONIC_PERMANENT = {"ER-02", "ER-03", "ER-04", "ER-05", "ER-06", "ER-07"}
UNIFONIC_DUPLICATE = "ER-09"  # the same message is already with them: count it as accepted
# Twilio error codes for a destination that can never receive this message.
LOOKUP_PAGES = 10  # a phone with over 1,000 messages in two days is not ours to reconcile
TWILIO_PERMANENT = {21211, 21214, 21217, 21219, 21401, 21407, 21408, 21610, 21612, 21614}


async def _call(
    client: httpx.AsyncClient, deadline: float, method: str, url: str, **kwargs: Any
) -> httpx.Response | SendResult:
    """One request under an overall deadline, network trouble turned into a SendResult."""
    try:
        async with asyncio.timeout(deadline + 2):
            return await client.request(method, url, **kwargs)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        return SendResult(Outcome.retry, error=f"network: {type(exc).__name__}")
    except (httpx.HTTPError, TimeoutError, OSError) as exc:
        return SendResult(Outcome.unknown, error=f"no answer: {type(exc).__name__}")


class UnifonicProvider:
    """POST /rest/SMS/messages (form); our notification ID travels as CorrelationID."""

    name = "unifonic"
    has_receipts = True

    def __init__(self, base_url: str, app_sid: str, sender_id: str, *, timeout: float) -> None:
        self._url = base_url.rstrip("/") + "/rest/SMS/messages"
        self._app_sid = app_sid
        self._sender = sender_id
        self._timeout = timeout
        self._client = httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=3.0))

    async def send(self, message_id: str, to: str, body: str) -> SendResult:
        """Send; Unifonic answers success or an ER-xx code, sometimes with HTTP 200."""
        answer = await _call(
            self._client,
            self._timeout,
            "POST",
            self._url,
            data={
                "AppSid": self._app_sid,
                "SenderID": self._sender,
                "Recipient": to.lstrip("+"),
                "Body": body,
                "responseType": "JSON",
                "CorrelationID": message_id,
            },
            headers={"Accept": "application/json"},
        )
        if isinstance(answer, SendResult):
            return answer
        if answer.status_code == 429 or answer.status_code >= 500:
            return SendResult(Outcome.retry, error=f"http {answer.status_code}")
        try:
            payload = answer.json()
        except ValueError:
            return SendResult(Outcome.retry, error=f"http {answer.status_code}: not JSON")
        if payload.get("success") in (True, "true") and answer.is_success:
            data = payload.get("data") or {}
            return SendResult(Outcome.accepted, reference=str(data.get("MessageID") or message_id))
        code = str(payload.get("errorCode") or f"http {answer.status_code}")
        if code == UNIFONIC_DUPLICATE:
            return SendResult(Outcome.accepted, reference=message_id, error=code)
        if code in UNIFONIC_PERMANENT:
            return SendResult(Outcome.rejected, error=f"{code}: {payload.get('message', '')}")
        # Funds, sender ID, credentials: this provider cannot send now; another may.
        return SendResult(Outcome.retry, error=f"{code}: {payload.get('message', '')}")

    async def lookup(
        self, message_id: str, to: str, body: str, since: datetime
    ) -> SendResult | None:
        """Unifonic documents no query by CorrelationID, so we cannot ask."""
        return None

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()


class TwilioProvider:
    """Twilio's Messages resource; our notification ID rides on the StatusCallback URL."""

    name = "twilio"
    has_receipts = True

    def __init__(
        self,
        base_url: str,
        account_sid: str,
        auth_token: str,
        sender: str,
        *,
        callback_url: str | None,
        timeout: float,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._messages = f"{self._base}/2010-04-01/Accounts/{account_sid}/Messages.json"
        self._sender = sender
        self._callback = callback_url
        self._timeout = timeout
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=3.0), auth=(account_sid, auth_token)
        )

    async def send(self, message_id: str, to: str, body: str) -> SendResult:
        """201 with the message `sid`, or an error JSON with Twilio's numeric `code`."""
        form = {"To": to, "Body": body}
        form["MessagingServiceSid" if self._sender.startswith("MG") else "From"] = self._sender
        if self._callback:
            form["StatusCallback"] = f"{self._callback}?n={message_id}"
        answer = await _call(self._client, self._timeout, "POST", self._messages, data=form)
        if isinstance(answer, SendResult):
            return answer
        if answer.is_success:
            return SendResult(Outcome.accepted, reference=str(answer.json().get("sid")))
        try:
            code = int(answer.json().get("code") or 0)
        except (ValueError, TypeError):
            code = 0
        error = f"http {answer.status_code} code {code}"
        if answer.status_code == 400 and code in TWILIO_PERMANENT:
            return SendResult(Outcome.rejected, error=error)
        return SendResult(Outcome.retry, error=error)

    async def lookup(
        self, message_id: str, to: str, body: str, since: datetime
    ) -> SendResult | None:
        """Ask Twilio for messages to `to` since the claim; the same body means it has ours."""
        day = (since - timedelta(days=1)).date().isoformat()
        url: str | None = self._messages
        params: dict[str, str] | None = {"To": to, "DateSent>": day, "PageSize": "100"}
        for _ in range(LOOKUP_PAGES):
            if url is None:
                break
            answer = await _call(self._client, self._timeout, "GET", url, params=params)
            if isinstance(answer, SendResult) or not answer.is_success:
                return None  # cannot ask now: the caller decides
            page = answer.json()
            for message in page.get("messages", []):
                if message.get("body") == body:
                    return SendResult(Outcome.accepted, reference=str(message.get("sid")))
            next_uri = page.get("next_page_uri")
            url, params = (self._base + next_uri, None) if next_uri else (None, None)
        return SendResult(Outcome.retry, error="not found at provider")

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()
