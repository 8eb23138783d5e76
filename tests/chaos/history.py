"""What clients did during a fault scenario, and the invariants checked against it afterwards.

Every call a load client makes is appended to the history (and, when a path is given, to a
JSONL file a person can read after a failed soak). After the scenario the checker compares
the history with Postgres, Redis and the SMS provider's ledger (reliability checklist INV-1…6):
every acknowledged request exists and was routed; every owed job finished; each notification
reached the provider at most once, and exactly once unless it failed; no status moved
backwards; nothing is left in the outbox or on a queue.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from redis import Redis

from shared.queue.contract import Queue, arq_queue_name

# The two SMS every submitted request owes its resident once routed.
SMS_PER_REQUEST = ("request_submitted", "request_routed")


@dataclass(frozen=True)
class Call:
    """One HTTP call: what was asked, when, and what came back (status None: no answer)."""

    op: str
    key: str
    started: float
    ended: float
    status: int | None
    request_id: str | None = None
    problem: str | None = None
    retry_after: bool = False

    @property
    def server_error(self) -> bool:
        """Any 5xx."""
        return self.status is not None and self.status >= 500

    @property
    def documented(self) -> bool:
        """A 5xx the API documents for outages: 503 with a problem body and Retry-After."""
        return self.status == 503 and self.problem is not None and self.retry_after


class History:
    """Thread-safe list of calls and acknowledged requests, optionally mirrored to JSONL."""

    def __init__(self, path: Path | None = None) -> None:
        self.calls: list[Call] = []
        self.acknowledged: dict[str, float] = {}  # request id -> when the client knew
        self.attached: set[str] = set()  # requests the client saw one document upload to
        self.abandoned = 0
        self._lock = threading.Lock()
        self._file = path.open("a", encoding="utf-8") if path else None

    def record(self, call: Call) -> None:
        """Append one call."""
        with self._lock:
            self.calls.append(call)
            if self._file:
                self._file.write(json.dumps(asdict(call)) + "\n")

    def acknowledge(self, request_id: str, at: float) -> None:
        """The client holds an answer saying this request was submitted."""
        with self._lock:
            self.acknowledged[request_id] = at

    def attach(self, request_id: str) -> None:
        """The client holds an answer saying its one document was attached to the request."""
        with self._lock:
            self.attached.add(request_id)

    def abandon(self) -> None:
        """A submission the client gave up on without an answer (not acknowledged)."""
        with self._lock:
            self.abandoned += 1

    def close(self) -> None:
        """Flush the JSONL file."""
        if self._file:
            self._file.close()
            self._file = None


@dataclass
class Invariants:
    """The figures a fault scenario must end with; `violations()` names the ones that fail."""

    acknowledged: int = 0
    abandoned: int = 0
    lost: int = 0
    unrouted: int = 0
    without_department: int = 0
    sms_missing: int = 0
    sms_duplicated: int = 0
    sms_failed: int = 0
    status_regressions: int = 0
    outbox_pending: int = 0
    outbox_dead: int = 0
    queued_jobs: int = 0
    reads_not_found: int = 0
    uploads: int = 0
    documents_lost: int = 0
    documents_duplicated: int = 0
    server_errors: int = 0
    documented_503: int = 0
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def undocumented_5xx(self) -> int:
        """5xx answers other than the documented 503."""
        return self.server_errors - self.documented_503

    def violations(self) -> list[str]:
        """Every invariant that does not hold, by name and count."""
        must_be_zero = (
            "lost", "unrouted", "without_department", "sms_missing", "sms_duplicated",
            "sms_failed", "status_regressions", "outbox_pending", "outbox_dead", "queued_jobs",
            "undocumented_5xx", "reads_not_found", "documents_lost", "documents_duplicated",
        )  # fmt: skip
        return [f"{name}={getattr(self, name)}" for name in must_be_zero if getattr(self, name)]


_REQUESTS = """
SELECT r.id::text AS id, r.status, r.department_code,
       EXISTS (SELECT 1 FROM request_assignments a WHERE a.request_id = r.id) AS assigned
FROM requests r WHERE r.id = ANY($1::uuid[])
"""
_NOTIFICATIONS = """
SELECT id::text AS id, request_id::text AS request_id, event, status
FROM notifications WHERE request_id = ANY($1::uuid[])
"""
# An event that changes status must start from the status the previous one ended in.
_REGRESSIONS = """
SELECT count(*) FROM (
    SELECT from_status, lag(to_status) OVER (PARTITION BY request_id ORDER BY id) AS before
    FROM request_events WHERE request_id = ANY($1::uuid[]) AND to_status IS NOT NULL
) e WHERE e.before IS NOT NULL AND e.from_status IS DISTINCT FROM e.before
"""
_OUTBOX = "SELECT status, count(*) AS n FROM outbox GROUP BY status"
_DOCUMENTS = """
SELECT request_id::text AS id, count(*) AS n FROM documents
WHERE request_id = ANY($1::uuid[]) GROUP BY request_id
"""


async def check(
    history: History,
    *,
    database_url: str,
    redis_url: str,
    prefix: str,
    sms_counts: dict[str, int],
) -> Invariants:
    """Compare the history with what the system holds now (call once it has settled)."""
    ids = list(history.acknowledged)
    figures = Invariants(acknowledged=len(ids), abandoned=history.abandoned)
    figures.server_errors = sum(call.server_error for call in history.calls)
    figures.documented_503 = sum(call.documented for call in history.calls)
    figures.reads_not_found = sum(c.op == "read" and c.status == 404 for c in history.calls)
    connection = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        requests = {row["id"]: row for row in await connection.fetch(_REQUESTS, ids)}
        notifications = await connection.fetch(_NOTIFICATIONS, ids)
        figures.status_regressions = await connection.fetchval(_REGRESSIONS, ids)
        outbox = {row["status"]: row["n"] for row in await connection.fetch(_OUTBOX)}
        attached = list(history.attached)
        documents = {row["id"]: row["n"] for row in await connection.fetch(_DOCUMENTS, attached)}
    finally:
        await connection.close()
    lost = [i for i in ids if i not in requests or requests[i]["status"] == "draft"]
    figures.lost = len(lost)
    figures.unrouted = sum(1 for row in requests.values() if row["status"] == "submitted")
    figures.without_department = sum(
        1 for row in requests.values() if row["status"] == "routed" and not row["assigned"]
    )
    owed = {(i, event) for i in ids for event in SMS_PER_REQUEST}
    present = {(row["request_id"], row["event"]): row for row in notifications}
    missing = [pair for pair in owed if pair not in present]
    failed = [row for row in notifications if row["status"].endswith("failure")]
    missing += [
        (row["request_id"], row["event"])
        for row in notifications
        if sms_counts.get(row["id"], 0) == 0 and not row["status"].endswith("failure")
    ]
    figures.sms_missing = len(missing)
    figures.sms_failed = len(failed)
    rows_per_event: dict[tuple[str, str], int] = {}
    for row in notifications:
        pair = (row["request_id"], row["event"])
        rows_per_event[pair] = rows_per_event.get(pair, 0) + 1
    figures.sms_duplicated = sum(count - 1 for count in sms_counts.values() if count > 1) + sum(
        count - 1 for count in rows_per_event.values() if count > 1
    )
    # Each client uploads one document to a request it attaches to, retrying the same file.
    figures.uploads = len(attached)
    figures.documents_lost = sum(1 for i in attached if documents.get(i, 0) == 0)
    figures.documents_duplicated = sum(n - 1 for n in documents.values() if n > 1)
    figures.outbox_pending = outbox.get("pending", 0)
    figures.outbox_dead = outbox.get("dead", 0)
    redis = Redis.from_url(redis_url, socket_timeout=5)
    try:
        sizes: list[Any] = [redis.zcard(arq_queue_name(prefix, queue)) for queue in Queue]
        figures.queued_jobs = sum(int(size) for size in sizes)
    finally:
        redis.close()
    figures.details = {"lost": lost[:10], "sms_missing": missing[:10]}
    return figures
