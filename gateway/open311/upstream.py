"""Intake's partner API as Open311 needs it, with intake's problems turned into `errors[]`."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator, Iterable, Mapping
from typing import Any

import httpx
import structlog

from gateway.open311.mapping import NATIONAL_ID
from gateway.open311.render import Open311Error, Problem
from gateway.proxy import Forwarder
from shared.identity import Identity

log = structlog.get_logger()

PAGE = 100  # intake's largest page
DETAIL_CONCURRENCY = 8

# Where intake's validation errors point, in the names the Open311 caller used.
_PARAMETERS = {
    ("body", "resident", "national_id"): f"attribute[{NATIONAL_ID}]",
    ("body", "resident", "phone"): "phone",
    ("body", "description"): "description",
    ("body", "service_code"): "service_code",
    ("body", "department_code"): "service_code",
}


def _validation(body: Mapping[str, Any]) -> Open311Error:
    problems = []
    for entry in body.get("errors") or []:
        loc = tuple(str(part) for part in entry.get("loc", ()))
        name = _PARAMETERS.get(loc, ".".join(loc[1:]) or "request")
        text = f"{name}: {entry.get('msg', 'invalid')}"
        problems.append(Problem("validation_error", text, text))
    if not problems:
        problems.append(Problem("validation_error", "Some fields are invalid.", "حقول غير صحيحة."))
    return Open311Error(400, problems)


def _status_for(status: int, code: str) -> int:
    """Open311 speaks 400/403/404: a missing resident is bad input, an unknown service 404."""
    if code == "unknown_service":
        return 404
    if status in (403, 429) or status >= 500:
        return status
    if status == 404 and code != "resident_not_found":
        return 404
    return 400


def upstream_error(response: httpx.Response) -> Open311Error:
    """Intake's problem+json as Open311 errors, keeping intake's `code`."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    code = str(body.get("code") or "upstream_error")
    if code == "validation_error":
        return _validation(body)
    messages = body.get("messages") or {}
    en = str(messages.get("en") or body.get("detail") or "The request could not be processed.")
    ar = str(messages.get("ar") or body.get("detail_ar") or "تعذر تنفيذ الطلب.")
    error = Open311Error(_status_for(response.status_code, code), [Problem(code, en, ar)])
    if "retry-after" in response.headers:
        error.headers["Retry-After"] = response.headers["retry-after"]
    return error


class Intake:
    """Calls to /v1/partner as one partner."""

    def __init__(self, forwarder: Forwarder, identity: Identity) -> None:
        self._forwarder = forwarder
        self._identity = identity

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: object | None = None,
        params: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        try:
            response = await self._forwarder.call(
                method, path, self._identity, json=json, params=params
            )
        except (TimeoutError, httpx.TimeoutException) as exc:
            log.warning("open311.upstream_timeout", path=path)
            raise Open311Error.one(
                504,
                "upstream_timeout",
                "The service took too long to answer. Please try again.",
                "استغرقت الخدمة وقتاً طويلاً للرد. يرجى المحاولة مرة أخرى.",
            ) from exc
        except httpx.TransportError as exc:
            log.warning("open311.upstream_unavailable", error=type(exc).__name__)
            error = Open311Error.one(
                503,
                "service_unavailable",
                "The service is temporarily unavailable. Please try again shortly.",
                "الخدمة غير متاحة مؤقتاً. يرجى المحاولة بعد قليل.",
            )
            error.headers["Retry-After"] = "5"
            raise error from exc
        if response.status_code >= 400:
            raise upstream_error(response)
        body: dict[str, Any] = response.json()
        return body

    async def create(
        self, department: str, service: str, description: str, national_id: str, phone: str
    ) -> dict[str, Any]:
        """A draft for the resident with this national ID and the phone registered with it."""
        return await self._call(
            "POST",
            "/v1/partner/requests",
            json={
                "department_code": department,
                "service_code": service,
                "description": description,
                "resident": {"national_id": national_id, "phone": phone},
            },
        )

    async def submit(self, request_id: uuid.UUID) -> dict[str, Any]:
        """Submit the draft: the RequestOut with its reference (the resident gets the SMS)."""
        return await self._call("POST", f"/v1/partner/requests/{request_id}/submit")

    async def detail(self, request_id: uuid.UUID) -> dict[str, Any]:
        """RequestOut of a request the partner may read, or a 404 error."""
        return await self._call("GET", f"/v1/partner/requests/{request_id}")

    async def details(self, request_ids: Iterable[uuid.UUID]) -> list[dict[str, Any]]:
        """RequestOut of each, in order; one that vanished meanwhile is left out."""
        gate = asyncio.Semaphore(DETAIL_CONCURRENCY)

        async def one(request_id: uuid.UUID) -> dict[str, Any] | None:
            async with gate:
                try:
                    return await self.detail(request_id)
                except Open311Error as exc:
                    if exc.status == 404:
                        return None
                    raise

        found = await asyncio.gather(*(one(request_id) for request_id in request_ids))
        return [item for item in found if item is not None]

    async def summaries(self, max_rows: int) -> AsyncGenerator[dict[str, Any], None]:
        """The partner's readable requests, newest first, at most `max_rows` of them."""
        cursor: str | None = None
        seen = 0
        while seen < max_rows:
            params = {"limit": str(min(PAGE, max_rows - seen))}
            if cursor:
                params["cursor"] = cursor
            page = await self._call("GET", "/v1/partner/requests", params=params)
            for item in page["items"]:
                seen += 1
                yield item
            cursor = page.get("next_cursor")
            if not cursor:
                return
