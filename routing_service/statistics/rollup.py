"""Keep `statistics_daily` and `statistics_blocks` equal to the figures of the requests they
count.

Triggers note each changed request in `statistics_changes` (see shared.db.statistics). The
fold takes a batch of those notes, reads the requests as they are now, and applies to the
daily cells and the department blocks the difference between what it counts for each
request now and what it counted before (`statistics_contributions`). One fold at a time (an
advisory lock), each batch one transaction: a note is deleted in the same commit that
applies it, and a change committed after the batch was read keeps its note for the next
batch, so nothing is counted twice or missed across crashes and concurrent writers.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from routing_service.statistics import blocks, store
from routing_service.statistics.figures import (
    Cell,
    Contribution,
    Figures,
    contribution,
    differences,
)

FOLD_LOCK = 0x7374617473  # "stats": serialises folds across routing workers
BATCH = 5_000
"""Notes per transaction: large enough to amortise the round trips, small enough that a
batch's locks and memory stay modest when a backlog of millions is folded."""

_CURRENT = text(
    """
    SELECT r.id, r.department_code, r.submitted_at, r.status, r.first_response_at,
           r.first_response_due_at, r.resolved_at, r.resolution_due_at, r.breached_at,
           r.rating, a.officer_id
    FROM requests r
    LEFT JOIN request_assignments a ON a.request_id = r.id
    WHERE r.id = ANY(:ids) AND r.submitted_at IS NOT NULL
    """
)
_PREVIOUS = text(
    """
    SELECT request_id, department_code, day, officer_key, status, first_response_bucket,
           first_response_on_time, resolution_bucket, resolution_on_time, breached, rating
    FROM statistics_contributions WHERE request_id = ANY(:ids)
    """
)
_TAKE_NOTES = text(
    """
    DELETE FROM statistics_changes
    WHERE id IN (SELECT id FROM statistics_changes ORDER BY id LIMIT :limit)
    RETURNING request_id
    """
)
# Whole columns as arrays: one statement per batch (see store.py).
_UPSERT_CONTRIBUTIONS = text(
    """
    INSERT INTO statistics_contributions (request_id, department_code, day, officer_key,
        status, first_response_bucket, first_response_on_time, resolution_bucket,
        resolution_on_time, breached, rating)
    SELECT * FROM unnest(CAST(:request_id AS uuid[]), CAST(:department_code AS text[]),
        CAST(:day AS date[]), CAST(:officer_key AS uuid[]), CAST(:status AS text[]),
        CAST(:first_response_bucket AS int2[]), CAST(:first_response_on_time AS bool[]),
        CAST(:resolution_bucket AS int2[]), CAST(:resolution_on_time AS bool[]),
        CAST(:breached AS bool[]), CAST(:rating AS int2[]))
    ON CONFLICT (request_id) DO UPDATE SET
        department_code = excluded.department_code, day = excluded.day,
        officer_key = excluded.officer_key, status = excluded.status,
        first_response_bucket = excluded.first_response_bucket,
        first_response_on_time = excluded.first_response_on_time,
        resolution_bucket = excluded.resolution_bucket,
        resolution_on_time = excluded.resolution_on_time,
        breached = excluded.breached, rating = excluded.rating
    """
)
# Declares that this transaction keeps statistics_blocks with the cells (migration 0011's
# trigger refuses cell writes from a fold that does not), and the blocks' dense histograms
# with their pairs (migration 0012's trigger forgets the dense forms of rows written by a
# transaction that does not).
_LOCK_AND_DECLARE = text(
    "SELECT pg_advisory_xact_lock(:key), set_config('tawasul.fold_blocks', 'on', true),"
    " set_config('tawasul.fold_dense', 'on', true)"
)
DENSIFY_BATCH = 2_000
"""Blocks given their dense histograms per call: ~0.1 ms of Python each."""
_UNDERIVED = text(
    """
    SELECT * FROM statistics_blocks
    WHERE first_response_dense IS NULL OR resolution_dense IS NULL
    LIMIT :limit
    """
)
_DERIVE = text(
    """
    UPDATE statistics_blocks b
    SET first_response_dense = k.first_response_dense, resolution_dense = k.resolution_dense
    FROM unnest(CAST(:department_code AS text[]), CAST(:level AS int2[]),
                CAST(:start_day AS date[]), CAST(:first_response_dense AS bytea[]),
                CAST(:resolution_dense AS bytea[]))
         AS k(department_code, level, start_day, first_response_dense, resolution_dense)
    WHERE (b.department_code, b.level, b.start_day) = (k.department_code, k.level, k.start_day)
    """
)


async def fold(session: AsyncSession, limit: int = BATCH) -> int:
    """Apply up to `limit` notes in one transaction; returns how many notes were taken.

    `session` must not be in a transaction (each batch commits on its own)."""
    async with session.begin():
        await session.execute(_LOCK_AND_DECLARE, {"key": FOLD_LOCK})
        # Each statement below sees everything committed before it started (READ COMMITTED),
        # so every change whose note is taken here is in the rows read after it.
        notes = list((await session.execute(_TAKE_NOTES, {"limit": limit})).scalars())
        if not notes:
            return 0
        ids = list(set(notes))
        now_rows = (await session.execute(_CURRENT, {"ids": ids})).mappings()
        after = {row["id"]: contribution(row) for row in now_rows}
        before = {
            row["request_id"]: Contribution(**{k: v for k, v in row.items() if k != "request_id"})
            for row in (await session.execute(_PREVIOUS, {"ids": ids})).mappings()
        }
        await _apply(session, differences(before, after))
        changed = [(i, c) for i, c in after.items() if before.get(i) != c]
        if changed:
            await session.execute(
                _UPSERT_CONTRIBUTIONS,
                store.columns([{"request_id": i, **c.__dict__} for i, c in changed]),
            )
        gone = [i for i in before if i not in after]
        if gone:
            await session.execute(
                text("DELETE FROM statistics_contributions WHERE request_id = ANY(:ids)"),
                {"ids": gone},
            )
        return len(notes)


async def fold_all(session: AsyncSession, limit: int = BATCH) -> int:
    """Fold until no note is left; returns how many were taken."""
    total = 0
    while taken := await fold(session, limit):
        total += taken
    return total


async def densify(session: AsyncSession, limit: int = DENSIFY_BATCH) -> int:
    """Give up to `limit` blocks without them their dense histograms (rows from before
    migration 0012, or written by a release that does not keep them) in one transaction;
    returns how many. Reads use such a block's pairs meanwhile, so this only makes them
    faster. Under the fold's lock, so the pairs cannot change in between."""
    async with session.begin():
        await session.execute(_LOCK_AND_DECLARE, {"key": FOLD_LOCK})
        rows = (await session.execute(_UNDERIVED, {"limit": limit})).mappings().all()
        if not rows:
            return 0
        derived = [
            {
                **{name: row[name] for name in store.BLOCKS.key_names},
                **store.dense_forms(Figures.from_row(row)),
            }
            for row in rows
        ]
        await session.execute(_DERIVE, store.columns(derived))
        return len(derived)


async def _apply(session: AsyncSession, deltas: Mapping[Cell, Figures]) -> None:
    """The cells' changes, and the same changes to the department blocks that hold them."""
    await store.add(session, store.CELLS, deltas)
    await store.add(session, store.BLOCKS, blocks.block_deltas(deltas))
