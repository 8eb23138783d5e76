"""The four reads measured at scale: who to read as, the signed headers, and their query plans.

The plans come from the services' own code: each read's service functions run in-process
against the database while a listener records every statement and its parameters, which are
then explained as they were sent (custom plan) and as a cached prepared statement may run
them after a few calls (generic plan).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from shared.db.requests import IN_QUEUE
from shared.identity import IDENTITY_HEADER, Identity, PrincipalKind, sign_identity
from shared.settings import DEV_INTERNAL_SECRET

LARGE = 10_000
"""A table with more rows than this must never be read by a sequential scan on these paths."""
SAMPLE_ROWS = 20_000
PER_TARGET = 500
QUEUE_PAGE = 20
"""Officer's queue page size measured: one that both database sizes fill."""
"""How many residents, requests or staff each read rotates through."""
STATISTICS_DAYS = 30


@dataclass(frozen=True)
class StaffTarget:
    """A staff member as their signed identity describes them."""

    id: uuid.UUID
    role: str
    departments: tuple[str, ...]


@dataclass
class Targets:
    """Who each read is made as, drawn from the generated data."""

    typical_residents: list[uuid.UUID]
    heavy_residents: list[tuple[uuid.UUID, int]]
    requests: list[tuple[uuid.UUID, uuid.UUID]]  # (request, its resident)
    officers: list[StaffTarget]
    supervisors: list[StaffTarget]
    largest_department: str
    today: date = field(default_factory=lambda: datetime.now(UTC).date())

    def officer(self) -> StaffTarget:
        """The officer whose queue is the largest: in the largest department, and in two."""
        covering = [o for o in self.officers if self.largest_department in o.departments]
        return max(covering, key=lambda o: (len(o.departments), str(o.id)))

    def supervisor(self) -> StaffTarget:
        """A supervisor of the largest department."""
        return next(s for s in self.supervisors if self.largest_department in s.departments)

    def statistics_query(self) -> str:
        """The last 30 days, today included (`to` is exclusive)."""
        start = self.today - timedelta(days=STATISTICS_DAYS)
        return f"from={start.isoformat()}&to={(self.today + timedelta(days=1)).isoformat()}"


async def pick(dsn: str, *, per_target: int = PER_TARGET) -> Targets:
    """Typical and heavy residents, requests with their owners, officers and supervisors.

    Residents come from a sample of requests (so every one has some), then are sorted by how
    many requests they have: 1-10 is typical, 100 or more is heavy."""
    conn: asyncpg.Connection = await asyncpg.connect(dsn)
    try:
        total = float(
            await conn.fetchval("SELECT reltuples FROM pg_class WHERE relname = 'requests'")
        )
        percent = min(100.0, 100.0 * SAMPLE_ROWS / max(total, 1.0))
        sample = await conn.fetch(
            f"SELECT id, resident_id FROM requests TABLESAMPLE SYSTEM ({percent:.6f})"  # noqa: S608
            " REPEATABLE (7) LIMIT $1",
            SAMPLE_ROWS,
        )
        counts = {
            r["resident_id"]: int(r["n"])
            for r in await conn.fetch(
                "SELECT resident_id, count(*) AS n FROM requests"
                " WHERE resident_id = ANY($1::uuid[]) GROUP BY 1",
                list({r["resident_id"] for r in sample}),
            )
        }
        heavy = sorted(((rid, n) for rid, n in counts.items() if n >= 100), key=lambda x: -x[1])
        if not heavy:  # a tiny database: the busiest residents there are
            heavy = sorted(counts.items(), key=lambda x: -x[1])[:5]
        staff = [
            StaffTarget(r["id"], r["role"], tuple(r["departments"]))
            for r in await conn.fetch(
                "SELECT s.id, s.role, array_agg(d.department_code ORDER BY d.department_code)"
                " AS departments FROM staff s JOIN staff_departments d ON d.staff_id = s.id"
                " WHERE s.active GROUP BY s.id, s.role ORDER BY s.username"
            )
        ]
        backlog = {
            str(row["department_code"]): int(row["open"])
            for row in await conn.fetch(
                f"SELECT department_code, count(*) AS open FROM requests WHERE {IN_QUEUE}"  # noqa: S608 - a constant
                " GROUP BY 1"
            )
        }
        largest = await conn.fetchval(
            "SELECT department_code FROM requests TABLESAMPLE SYSTEM (1) REPEATABLE (7)"
            " GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
        ) or await conn.fetchval("SELECT department_code FROM requests LIMIT 1")
    finally:
        await conn.close()
    return Targets(
        typical_residents=[rid for rid, n in counts.items() if 1 <= n <= 10][:per_target],
        heavy_residents=heavy[:per_target],
        requests=[(r["id"], r["resident_id"]) for r in sample[:per_target]],
        # Only officers whose queue fills a page: a page of 12 against one of 50 would
        # measure page size, not the cost of data (the first run did exactly that).
        officers=[
            s
            for s in staff
            if s.role == "officer" and sum(backlog.get(d, 0) for d in s.departments) > QUEUE_PAGE
        ][:per_target],
        supervisors=[s for s in staff if s.role == "supervisor"][:per_target],
        largest_department=str(largest),
    )


def identity_header(env: Mapping[str, str], identity: Identity) -> dict[str, str]:
    """The header the gateway would add, valid for an hour (one read's measurement)."""
    secret = env.get("INTERNAL_AUTH_SECRET", DEV_INTERNAL_SECRET).encode()
    return {IDENTITY_HEADER: sign_identity(identity, secret, now=time.time() + 3600 - 60)}


def resident(subject: uuid.UUID) -> Identity:
    """A resident's identity."""
    return Identity(subject=str(subject), kind=PrincipalKind.resident)


def staff_identity(member: StaffTarget) -> Identity:
    """A staff member's identity, with role and departments as the gateway signs them."""
    return Identity(
        subject=str(member.id),
        kind=PrincipalKind.staff,
        roles=(member.role,),
        departments=member.departments,
    )


Rotation = list[tuple[str, dict[str, str]]]


def rotations(env: Mapping[str, str], targets: Targets) -> dict[str, tuple[str, Rotation]]:
    """Each read: the service that answers it, and the (path, headers) it cycles through."""
    stats = targets.statistics_query()
    return {
        "resident_list": (
            "intake",
            [
                ("/v1/requests", identity_header(env, resident(r)))
                for r in targets.typical_residents
            ],
        ),
        "resident_list_heavy": (
            "intake",
            [
                ("/v1/requests", identity_header(env, resident(r)))
                for r, _ in targets.heavy_residents
            ],
        ),
        "request_page": (
            "intake",
            [
                (f"/v1/requests/{request}", identity_header(env, resident(owner)))
                for request, owner in targets.requests
            ],
        ),
        "officer_queue": (
            "routing",
            [
                (f"/v1/staff/requests?limit={QUEUE_PAGE}", identity_header(env, staff_identity(o)))
                for o in targets.officers
            ],
        ),
        # The department figures (the dashboard's headline, whose cost must not follow the
        # data) and the whole answer, which adds a row per officer: staff grow with residents.
        "supervisor_statistics": (
            "routing",
            [
                (
                    f"/v1/staff/statistics?{stats}&officers=false",
                    identity_header(env, staff_identity(s)),
                )
                for s in targets.supervisors
            ],
        ),
        "supervisor_statistics_officers": (
            "routing",
            [
                (f"/v1/staff/statistics?{stats}", identity_header(env, staff_identity(s)))
                for s in targets.supervisors
            ],
        ),
    }


# --- plans ------------------------------------------------------------------------------

Captured = list[tuple[str, tuple[Any, ...]]]


async def capture(database_url: str, read: Callable[[AsyncSession], Awaitable[object]]) -> Captured:
    """The statements (and parameters) `read` sends, run as the service runs it."""
    engine = create_async_engine(database_url)
    seen: Captured = []
    recording = False

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if recording:
            seen.append((statement, tuple(parameters or ())))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        async with engine.connect():  # the dialect's own start-up queries are not ours
            pass
        recording = True
        async with AsyncSession(engine, expire_on_commit=False) as session:
            await read(session)
    finally:
        await engine.dispose()
    return seen


def reads(targets: Targets) -> dict[str, Callable[[AsyncSession], Awaitable[object]]]:
    """Each read as its endpoint runs it, through the services' own functions."""
    from intake_service.requests import service as intake
    from routing_service.deps import StaffMember
    from routing_service.statistics import service as statistics
    from routing_service.workspace import service as workspace

    heavy = targets.heavy_residents[0][0]
    request_id, owner = targets.requests[0]
    officer = targets.officer()
    supervisor = targets.supervisor()
    start = datetime.combine(targets.today - timedelta(days=STATISTICS_DAYS), clock(), tzinfo=UTC)
    end = datetime.combine(targets.today + timedelta(days=1), clock(), tzinfo=UTC)

    async def resident_list(session: AsyncSession) -> object:
        return await intake.page(session, heavy, limit=20, cursor=None)

    async def request_page(session: AsyncSession) -> object:
        return await intake.view(session, owner, request_id)

    async def officer_queue(session: AsyncSession) -> object:
        member = StaffMember(officer.id, officer.role, frozenset(officer.departments))
        return await workspace.queue(
            session,
            member,
            status=None,
            department=None,
            assigned="any",
            limit=QUEUE_PAGE,
            cursor=None,
        )

    async def supervisor_statistics(session: AsyncSession) -> object:
        return await statistics.compute(
            session, sorted(supervisor.departments), start, end, officers=False
        )

    async def supervisor_statistics_officers(session: AsyncSession) -> object:
        return await statistics.compute(session, sorted(supervisor.departments), start, end)

    return {
        "resident_list": resident_list,
        "request_page": request_page,
        "officer_queue": officer_queue,
        "supervisor_statistics": supervisor_statistics,
        "supervisor_statistics_officers": supervisor_statistics_officers,
    }


def _walk(plan: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield plan
    for child in plan.get("Plans", ()):
        yield from _walk(child)


def summarize(
    plan: Mapping[str, Any], rows: Mapping[str, float], large: int = LARGE
) -> dict[str, Any]:
    """The nodes of one plan (type, table, index) and the sequential scans of large tables."""
    nodes = []
    seq_scans = []
    for node in _walk(plan.get("Plan", plan)):
        entry = {"node": node["Node Type"]}
        if "Relation Name" in node:
            entry["table"] = node["Relation Name"]
        if "Index Name" in node:
            entry["index"] = node["Index Name"]
        nodes.append(entry)
        table = node.get("Relation Name")
        if node["Node Type"] == "Seq Scan" and table and rows.get(table, 0) > large:
            seq_scans.append(table)
    return {"nodes": nodes, "seq_scans": seq_scans}


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        inner = ",".join('"' + str(v).replace('"', '\\"') + '"' for v in value)
        return _literal("{" + inner + "}")
    text = value.isoformat() if isinstance(value, datetime | date) else str(value)
    return "'" + text.replace("'", "''") + "'"


async def explain(dsn: str, statements: Captured) -> list[dict[str, Any]]:
    """EXPLAIN each statement with its parameters, as a custom and as a generic plan."""
    conn: asyncpg.Connection = await asyncpg.connect(dsn)
    try:
        rows = {
            r["relname"]: float(r["reltuples"])
            for r in await conn.fetch(
                "SELECT relname, reltuples FROM pg_class WHERE relkind = 'r'"
                " AND relnamespace = 'public'::regnamespace"
            )
        }
        found = []
        for number, (statement, parameters) in enumerate(statements):
            custom = await conn.fetchval(f"EXPLAIN (FORMAT JSON) {statement}", *parameters)
            await conn.execute("SET plan_cache_mode = force_generic_plan")
            await conn.execute(f"PREPARE scale_{number} AS {statement}")
            arguments = ", ".join(_literal(p) for p in parameters)
            generic = await conn.fetchval(
                f"EXPLAIN (FORMAT JSON) EXECUTE scale_{number}"
                + (f"({arguments})" if parameters else "")
            )
            await conn.execute(f"DEALLOCATE scale_{number}")
            await conn.execute("RESET plan_cache_mode")
            found.append(
                {
                    "sql": " ".join(statement.split())[:160],
                    "custom": summarize(_json(custom)[0], rows),
                    "generic": summarize(_json(generic)[0], rows),
                }
            )
        return found
    finally:
        await conn.close()


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


async def plans(database_url: str, targets: Targets) -> dict[str, Any]:
    """Every read's statements explained; `ok` is false if any plan scans a large table."""
    dsn = database_url.replace("+asyncpg", "")
    result: dict[str, Any] = {}
    for name, read in reads(targets).items():
        result[name] = await explain(dsn, await capture(database_url, read))
    scans = sorted(
        {
            f"{name}: {table}"
            for name, statements in result.items()
            for s in statements
            for table in s["custom"]["seq_scans"] + s["generic"]["seq_scans"]
        }
    )
    return {"ok": not scans, "seq_scans": scans, "reads": result}
