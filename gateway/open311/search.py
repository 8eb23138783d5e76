"""GET requests: the standard's filters over the partner's readable requests, via intake."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.open311.mapping import RIYADH, open_or_closed, service_code
from gateway.open311.render import Open311Error
from gateway.open311.upstream import Intake

MAX_RANGE = timedelta(days=90)  # the standard's default window and largest range
MAX_RESULTS = 1000  # the standard's default volume
MAX_SCAN = 10_000  # newest readable requests looked through for one answer
MAX_IDS = 100  # service_request_id values in one call
STATUSES = frozenset({"open", "closed"})

# A `+HH:MM` offset sent unencoded in a query string arrives as a space.
_LOST_PLUS = re.compile(r" (\d{2}:?\d{2})$")


@dataclass(frozen=True)
class Filters:
    """What GET requests asked for, with the default window filled in."""

    start: datetime
    end: datetime
    service_codes: frozenset[str] | None
    statuses: frozenset[str] | None


def _bad(code: str, en: str, ar: str) -> Open311Error:
    return Open311Error.one(400, code, en, ar)


def comma_list(params: Mapping[str, str], name: str) -> list[str]:
    """The non-empty entries of a comma list (an empty parameter counts as absent)."""
    return [part.strip() for part in params.get(name, "").split(",") if part.strip()]


def _moment(params: Mapping[str, str], name: str) -> datetime | None:
    text = _LOST_PLUS.sub(r"+\1", params.get(name, "").strip())
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise _bad(
            "invalid_date",
            f"{name} must be a W3C datetime such as 2026-01-31T00:00:00+03:00.",
            f"يجب أن يكون {name} تاريخاً ووقتاً مثل 2026-01-31T00:00:00+03:00.",
        ) from exc
    return value if value.tzinfo else value.replace(tzinfo=RIYADH)


def parse_filters(params: Mapping[str, str], now: datetime | None = None) -> Filters:
    """start_date/end_date (≤ 90 days apart; default the last 90), service_code, status."""
    now = now or datetime.now(UTC)
    start, end = _moment(params, "start_date"), _moment(params, "end_date")
    if start is not None and end is not None:
        if end < start:
            raise _bad(
                "invalid_date_range",
                "end_date is before start_date.",
                "تاريخ النهاية قبل تاريخ البداية.",
            )
        if end - start > MAX_RANGE:
            raise _bad(
                "date_range_too_long",
                "start_date and end_date may be at most 90 days apart.",
                "لا يجوز أن يتجاوز الفرق بين التاريخين 90 يوماً.",
            )
    elif start is not None:
        end = start + MAX_RANGE
    elif end is not None:
        start = end - MAX_RANGE
    else:
        start, end = now - MAX_RANGE, now
    statuses = comma_list(params, "status")
    if any(status not in STATUSES for status in statuses):
        raise _bad(
            "invalid_status",
            "status must be open, closed, or both (comma-separated).",
            "يجب أن تكون الحالة open أو closed أو كلتيهما.",
        )
    codes = comma_list(params, "service_code")
    return Filters(
        start=start,
        end=end,
        service_codes=frozenset(codes) or None,
        statuses=frozenset(statuses) or None,
    )


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def matches(summary: Mapping[str, Any], filters: Filters) -> bool:
    """A submitted request within the window, of the services and statuses asked for."""
    if not summary.get("reference"):
        return False  # a draft is no service request yet (its token is its UUID)
    requested = _when(summary["submitted_at"] or summary["created_at"])
    if not filters.start <= requested <= filters.end:
        return False
    code = service_code(summary["department_code"], summary["service_code"])
    if filters.service_codes and code not in filters.service_codes:
        return False
    return not filters.statuses or open_or_closed(summary["status"]) in filters.statuses


async def search(intake: Intake, filters: Filters) -> list[dict[str, Any]]:
    """Newest first; stops at 1,000 matches, or once requests were created before the window."""
    found: list[uuid.UUID] = []
    async with aclosing(intake.summaries(MAX_SCAN)) as rows:
        async for row in rows:
            if _when(row["created_at"]) < filters.start:
                break
            if matches(row, filters):
                found.append(uuid.UUID(row["id"]))
                if len(found) >= MAX_RESULTS:
                    break
    return await intake.details(found)


def _as_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


async def by_ids(intake: Intake, wanted: Sequence[str]) -> list[dict[str, Any]]:
    """The submitted requests with these references (or our UUIDs), in the order asked."""
    if len(wanted) > MAX_IDS:
        raise _bad(
            "too_many_ids",
            f"At most {MAX_IDS} service_request_id values per call.",
            f"الحد الأقصى {MAX_IDS} رقماً في الطلب الواحد.",
        )
    references = {text for text in wanted if _as_uuid(text) is None}
    resolved: dict[str, uuid.UUID] = {}
    if references:
        async with aclosing(intake.summaries(MAX_SCAN)) as rows:
            async for row in rows:
                if row.get("reference") in references:
                    resolved[row["reference"]] = uuid.UUID(row["id"])
                    if len(resolved) == len(references):
                        break
    ordered: list[uuid.UUID] = []
    for text in wanted:
        request_id = _as_uuid(text) or resolved.get(text)
        if request_id is not None and request_id not in ordered:
            ordered.append(request_id)
    return [detail for detail in await intake.details(ordered) if detail.get("reference")]
