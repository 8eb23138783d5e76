"""The statistics rollup against the exact figures recomputed from the requests themselves.

Whatever changes a request (its status, times, rating, officer, department, even deletion),
and in whatever order writers and the fold run, the figures read from the rollup must equal
those of one exact query over the requests: counts and shares exactly, percentiles within 1%.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from routing_service.statistics import service
from routing_service.statistics.blocks import LEVELS, block_start, cover
from routing_service.statistics.rollup import densify, fold, fold_all

H = timedelta(hours=1)
_CUTS = ((3, 9), (1, 2), (5, 26), (-40, 300), (13, 27))
DEPARTMENTS = ["visas", "violations"]

_EXACT = """
SELECT {key} AS key, count(*) AS submitted,
  count(r.first_response_at) AS responded,
  percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM r.first_response_at
      - r.submitted_at)) FILTER (WHERE r.first_response_at IS NOT NULL) AS frt_p50,
  percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM r.first_response_at
      - r.submitted_at)) FILTER (WHERE r.first_response_at IS NOT NULL) AS frt_p90,
  avg((r.first_response_at <= r.first_response_due_at)::int)
      FILTER (WHERE r.first_response_at IS NOT NULL) AS frt_within,
  count(r.resolved_at) AS resolved,
  percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM r.resolved_at
      - r.submitted_at)) FILTER (WHERE r.resolved_at IS NOT NULL) AS res_p50,
  percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM r.resolved_at
      - r.submitted_at)) FILTER (WHERE r.resolved_at IS NOT NULL) AS res_p90,
  avg((r.resolved_at <= r.resolution_due_at)::int)
      FILTER (WHERE r.resolved_at IS NOT NULL) AS res_within,
  count(r.breached_at) AS breaches, avg(r.rating) AS rating_avg, count(r.rating) AS ratings,
  jsonb_object_agg(r.id, r.status) AS statuses
FROM requests r LEFT JOIN request_assignments a ON a.request_id = r.id
WHERE r.department_code = ANY(:departments)
  AND r.submitted_at >= :start AND r.submitted_at < :end AND {filter}
GROUP BY 1
"""


def _hours(seconds: Any) -> float | None:
    return None if seconds is None else float(seconds) / 3600


async def _exact(session: Any, start: datetime, end: datetime) -> dict[str, dict[str, Any]]:
    """The figures as the pre-rollup endpoint computed them, straight from the requests."""
    params = {"departments": DEPARTMENTS, "start": start, "end": end}
    figures: dict[str, dict[str, Any]] = {}
    for scope, key, where in (
        ("department", "r.department_code", "true"),
        ("officer", "a.officer_id::text", "a.officer_id IS NOT NULL"),
    ):
        sql = text(_EXACT.format(key=key, filter=where))
        for row in (await session.execute(sql, params)).mappings():
            statuses: dict[str, int] = {}
            for status in row["statuses"].values():
                statuses[status] = statuses.get(status, 0) + 1
            figures[f"{scope}:{row['key']}"] = {
                "submitted": row["submitted"],
                "by_status": statuses,
                "first_response": (
                    row["responded"],
                    _hours(row["frt_p50"]),
                    _hours(row["frt_p90"]),
                    row["frt_within"],
                ),
                "resolution": (
                    row["resolved"],
                    _hours(row["res_p50"]),
                    _hours(row["res_p90"]),
                    row["res_within"],
                ),
                "breaches": row["breaches"],
                "satisfaction_average": row["rating_avg"],
                "ratings": row["ratings"],
            }
    return figures


def _close(actual: float | None, exact: Any, rel: float, places: int) -> bool:
    if exact is None or actual is None:
        return actual is None and exact is None
    want = float(exact)
    return abs(actual - want) <= rel * abs(want) + 0.5 * 10.0**-places


async def _assert_rollup_is_exact(stack: Any, start: datetime, end: datetime) -> None:
    async with stack.sessions() as session:
        await fold_all(session)
        exact = await _exact(session, start, end)
        stats = await service.compute(session, DEPARTMENTS, start, end)
    rolled = {f"department:{m.key}": m for m in stats.departments}
    rolled.update({f"officer:{m.key}": m for m in stats.officers})
    assert rolled.keys() == exact.keys()
    for key, want in exact.items():
        got = rolled[key]
        assert got.submitted == want["submitted"], key
        assert got.by_status == want["by_status"], key
        assert got.breaches == want["breaches"], key
        assert got.ratings == want["ratings"], key
        assert _close(got.satisfaction_average, want["satisfaction_average"], 0, 3), key
        for name in ("first_response", "resolution"):
            timing = getattr(got, name)
            count, p50, p90, within = want[name]
            assert timing.count == count, (key, name)
            assert _close(timing.median_hours, p50, 0.01, 3), (key, name, timing, p50)
            assert _close(timing.p90_hours, p90, 0.01, 3), (key, name, timing, p90)
            assert _close(timing.within_target_share, within, 0, 4), (key, name)


@pytest.fixture(scope="module")
async def people(stack: Any, sms: Any) -> dict[str, Any]:
    async with stack.gateway_client() as client:
        admin = await stack.admin(client, sms.ledger)
        officers = [
            (await stack.staff(client, sms.ledger, admin, "officer", DEPARTMENTS)).id
            for _ in range(3)
        ]
        resident = await stack.sign_up(client, sms.ledger)
    async with stack.sessions() as session:
        resident_id = await session.scalar(
            text("SELECT id FROM residents WHERE national_id = :n"),
            {"n": resident.national_id},
        )
    return {"officers": officers, "resident": resident_id}


async def _insert(session: Any, people: dict[str, Any], **columns: Any) -> uuid.UUID:
    """A submitted request written straight to the table, with its queue entry."""
    request_id = uuid.uuid4()
    department = columns.pop("department_code", "visas")
    service_code = "final_exit" if department == "visas" else "fines_enquiry"
    officer = columns.pop("officer", None)
    values = {
        "id": request_id,
        "resident_id": people["resident"],
        "department_code": department,
        "service_code": service_code,
        "description": "statistics",
        "status": "routed",
        **columns,
    }
    names = ", ".join(values)
    await session.execute(
        text(f"INSERT INTO requests ({names}) VALUES ({', '.join(':' + n for n in values)})"),  # noqa: S608
        values,
    )
    await session.execute(
        text(
            "INSERT INTO request_assignments (request_id, department_code, queue_code, "
            "officer_id) VALUES (:id, :d, 'general', :o)"
        ),
        {"id": request_id, "d": department, "o": officer},
    )
    return request_id


def _random_columns(rng: random.Random, start: datetime, people: dict[str, Any]) -> dict[str, Any]:
    submitted = start + timedelta(seconds=rng.randrange(27 * 86_400))
    responded = rng.random() < 0.8
    resolved = responded and rng.random() < 0.6
    first = submitted + timedelta(seconds=rng.lognormvariate(9, 1.2)) if responded else None
    done = first + timedelta(seconds=rng.lognormvariate(11, 1)) if first and resolved else None
    return {
        "department_code": rng.choice(DEPARTMENTS),
        "officer": rng.choice([None, *people["officers"]]),
        "submitted_at": submitted,
        "status": "closed" if done else rng.choice(["routed", "in_progress", "awaiting_resident"]),
        "first_response_at": first,
        "first_response_due_at": rng.choice([None, submitted + 8 * H]),
        "resolved_at": done,
        "resolution_due_at": submitted + 40 * H,
        "breached_at": submitted + 40 * H if rng.random() < 0.2 else None,
        "rating": rng.choice([None, 1, 3, 5]) if done else None,
    }


async def _insert_random(
    stack: Any, people: dict[str, Any], rng: random.Random, start: datetime, count: int
) -> None:
    async with stack.sessions() as session, session.begin():
        for _ in range(count):
            await _insert(session, people, **_random_columns(rng, start, people))


async def test_random_requests_fold_to_the_exact_figures(
    stack: Any, people: dict[str, Any]
) -> None:
    rng = random.Random(7)
    start = datetime(2018, 1, 1, tzinfo=UTC)
    await _insert_random(stack, people, rng, start, 150)
    await _assert_rollup_is_exact(stack, start, start + timedelta(days=28))
    # Periods cut anywhere count only the days they cover, whichever day blocks add them up;
    # one period per level is exactly the block of that level holding the first request's
    # day, so every level of block is read at least once.
    periods = [(start + timedelta(days=a), start + timedelta(days=b)) for a, b in _CUTS]
    for level in range(LEVELS):
        aligned = datetime.combine(block_start(start.date(), level), time(), tzinfo=UTC)
        periods.append((aligned, aligned + timedelta(days=1 << level)))
    levels = {level for a, b in periods for level, _ in cover(a.date(), b.date())}
    assert levels == set(range(LEVELS))
    for period_start, period_end in periods:
        await _assert_rollup_is_exact(stack, period_start, period_end)


async def test_every_counted_change_reaches_the_figures(stack: Any, people: dict[str, Any]) -> None:
    start = datetime(2018, 3, 1, tzinfo=UTC)
    end = start + timedelta(days=10)
    a, b, _ = people["officers"]
    async with stack.sessions() as session, session.begin():
        request_id = await _insert(
            session,
            people,
            officer=a,
            submitted_at=start + 26 * H,
            first_response_due_at=start + 30 * H,
        )
        await _insert(session, people, officer=b, submitted_at=start + 2 * H)
    await _assert_rollup_is_exact(stack, start, end)
    steps: list[tuple[str, dict[str, Any]]] = [
        ("UPDATE requests SET status = 'in_progress' WHERE id = :id", {}),
        ("UPDATE requests SET first_response_at = :t WHERE id = :id", {"t": start + 28 * H}),
        ("UPDATE requests SET first_response_due_at = :t WHERE id = :id", {"t": start + 27 * H}),
        ("UPDATE request_assignments SET officer_id = :o WHERE request_id = :id", {"o": b}),
        ("UPDATE requests SET resolved_at = :t, status = 'closed' WHERE id = :id", {"t": end}),
        ("UPDATE requests SET resolution_due_at = :t WHERE id = :id", {"t": start + 50 * H}),
        ("UPDATE requests SET breached_at = :t WHERE id = :id", {"t": start + 29 * H}),
        ("UPDATE requests SET rating = 2 WHERE id = :id", {}),
        ("UPDATE request_assignments SET officer_id = NULL WHERE request_id = :id", {}),
        ("UPDATE requests SET department_code = 'violations' WHERE id = :id", {}),
        # to the day before: the request leaves one day's cell for another
        ("UPDATE requests SET submitted_at = :t WHERE id = :id", {"t": start + H}),
        ("DELETE FROM request_assignments WHERE request_id = :id", {}),
        ("DELETE FROM requests WHERE id = :id", {}),
    ]
    for sql, params in steps:
        async with stack.sessions() as session, session.begin():
            await session.execute(text(sql), {"id": request_id, **params})
        await _assert_rollup_is_exact(stack, start, end)


async def test_a_change_committed_after_a_fold_began_is_folded_by_the_next(
    stack: Any, people: dict[str, Any]
) -> None:
    start = datetime(2018, 4, 1, tzinfo=UTC)
    end = start + timedelta(days=2)
    async with stack.sessions() as session, session.begin():
        request_id = await _insert(session, people, submitted_at=start + H)
    await _assert_rollup_is_exact(stack, start, end)
    async with stack.sessions() as writer, stack.sessions() as folder:
        await writer.begin()
        await writer.execute(
            text("UPDATE requests SET status = 'closed', rating = 5 WHERE id = :id"),
            {"id": request_id},
        )
        await fold_all(folder)  # the writer's note is not visible yet, so it stays
        await writer.commit()
    async with stack.sessions() as session:
        stats = await service.compute(session, ["visas"], start, end)
        assert stats.as_of < datetime.now(UTC)  # a note is pending
        assert stats.departments[0].by_status == {"routed": 1}
    await _assert_rollup_is_exact(stack, start, end)


async def test_notes_taken_twice_or_for_every_request_count_each_request_once(
    stack: Any, people: dict[str, Any]
) -> None:
    """What migration 0008 does for existing requests, and what a replayed note amounts to."""
    start = datetime(2018, 5, 1, tzinfo=UTC)
    end = start + timedelta(days=28)
    rng = random.Random(11)
    await _insert_random(stack, people, rng, start, 30)
    await _assert_rollup_is_exact(stack, start, end)
    async with stack.sessions() as session, session.begin():
        await session.execute(
            text(
                "INSERT INTO statistics_changes (request_id) SELECT id FROM requests "
                "CROSS JOIN generate_series(1, 3) WHERE submitted_at >= :s AND submitted_at < :e"
            ),
            {"s": start, "e": end},
        )
    async with stack.sessions() as session:
        assert await fold(session, limit=7) == 7  # a batch may hold part of a request's notes
    await _assert_rollup_is_exact(stack, start, end)


async def test_blocks_without_dense_histograms_are_read_from_their_pairs(
    stack: Any, people: dict[str, Any]
) -> None:
    """A block whose dense forms a previous release's fold forgot (migration 0012) counts the
    same through its pairs until the fold's tick derives them again."""
    start = datetime(2018, 7, 1, tzinfo=UTC)
    end = start + timedelta(days=28)
    rng = random.Random(12)
    await _insert_random(stack, people, rng, start, 60)
    await _assert_rollup_is_exact(stack, start, end)

    async def figures() -> Any:
        async with stack.sessions() as session:
            stats = await service.compute(session, DEPARTMENTS, start, end)
        return stats.departments, stats.officers

    before = await figures()
    async with stack.sessions() as session, session.begin():
        forgotten = (
            await session.execute(
                text(
                    "UPDATE statistics_blocks SET level = level"
                    " WHERE start_day >= :s AND start_day < :e AND level % 2 = 0"
                ),
                {"s": start.date(), "e": end.date()},
            )
        ).rowcount
    assert forgotten > 0
    assert await figures() == before
    async with stack.sessions() as session:
        assert await densify(session) >= forgotten
        assert await densify(session) == 0
    assert await figures() == before
    await _assert_rollup_is_exact(stack, start, end)


async def test_drafts_are_not_counted(stack: Any, people: dict[str, Any]) -> None:
    start = datetime(2018, 6, 1, tzinfo=UTC)
    async with stack.sessions() as session, session.begin():
        draft = await _insert(session, people, status="draft")
        await session.execute(
            text("UPDATE requests SET created_at = :t WHERE id = :id"), {"t": start, "id": draft}
        )
        pending = await session.scalar(
            text("SELECT count(*) FROM statistics_changes WHERE request_id = :id"), {"id": draft}
        )
    assert pending == 1  # its queue entry was noted; the fold finds nothing to count
    await _assert_rollup_is_exact(stack, start, start + timedelta(days=1))
    async with stack.sessions() as session:
        counted = await session.scalar(
            text("SELECT count(*) FROM statistics_contributions WHERE request_id = :id"),
            {"id": draft},
        )
    assert counted == 0


async def test_the_lag_gauge_shows_the_oldest_unfolded_change(stack: Any) -> None:
    from prometheus_client import REGISTRY

    from shared.queue.gauges import statistics_lag

    def lag() -> float:
        value = REGISTRY.get_sample_value("tawasul_statistics_lag_seconds")
        assert value is not None
        return value

    async with stack.sessions() as session:
        await fold_all(session)
        async with session.begin():
            await session.execute(
                text(
                    "INSERT INTO statistics_changes (request_id, created_at) "
                    "VALUES (:id, clock_timestamp() - interval '1 hour')"
                ),
                {"id": uuid.uuid4()},  # a request that no longer exists: nothing to count
            )
    await statistics_lag(stack.sessions)
    assert 3600 <= lag() < 3700
    async with stack.sessions() as session:
        assert await fold_all(session) == 1
    await statistics_lag(stack.sessions)
    assert lag() == 0
