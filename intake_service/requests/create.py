"""A resident's "create a draft" call, as one plain function: the FastAPI endpoint and the
fast lane (intake_service/requests/lane.py) both answer with it, so they cannot drift apart."""

from __future__ import annotations

import uuid
from typing import NamedTuple

import asyncpg

from intake_service.requests import drafts, service
from intake_service.requests.schemas import CreateRequestIn, RequestOut
from shared import faults
from shared.db.database import Database


class Created(NamedTuple):
    """The draft's view, and whether it was made by an earlier call with the same key."""

    answer: RequestOut
    replayed: bool


async def create_resident_draft(
    db: Database, resident_id: uuid.UUID, body: CreateRequestIn, idempotency_key: str | None
) -> Created:
    """The same Idempotency-Key with the same body returns the request it created first."""
    key = drafts.check_idempotency_key(idempotency_key)
    # Only a call with a key is compared with an earlier one; without, nothing to hash.
    fingerprint = drafts.body_fingerprint(body) if key else None
    if key and fingerprint:
        async with db.read() as session:
            existing = await drafts.replay(session, resident_id, key, fingerprint)
            if existing is not None:
                return Created(await service.detail(session, existing), replayed=True)
    try:
        async with db.raw() as connection:
            created = await drafts.file_draft(
                connection, resident_id, body, idempotency_key=key, fingerprint=fingerprint
            )
        faults.point("intake.draft.after_commit")
        return Created(created, replayed=False)
    except asyncpg.UniqueViolationError:
        if not key or not fingerprint:
            raise
    # A concurrent call with the same key won the race: answer with what it created.
    async with db.read() as session:
        existing = await drafts.replay(session, resident_id, key, fingerprint)
        if existing is None:
            raise RuntimeError("idempotency record vanished")
        return Created(await service.detail(session, existing), replayed=True)
