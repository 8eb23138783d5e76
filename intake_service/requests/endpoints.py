"""Residents' request endpoints: create a draft, submit it, read it, list them."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from intake_service.deps import DB, Resident
from intake_service.requests import service
from intake_service.requests.create import create_resident_draft
from intake_service.requests.schemas import (
    CreateRequestIn,
    EditDraftIn,
    RatingIn,
    RequestOut,
    RequestPageOut,
    RespondIn,
    WithdrawIn,
)
from shared import faults
from shared.request_status import Action

router = APIRouter(prefix="/v1/requests", tags=["requests"])


@router.post("", status_code=201, response_model=RequestOut, summary="Create a draft request")
async def create_request(
    body: CreateRequestIn,
    resident: Resident,
    db: DB,
    response: Response,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> RequestOut:
    """The same Idempotency-Key with the same body returns the request it created first.

    The fast lane serves most of these calls (intake_service/requests/lane.py) with the same
    function; this endpoint answers the rest and documents the route."""
    created = await create_resident_draft(db, uuid.UUID(resident.subject), body, idempotency_key)
    if created.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return created.answer


@router.post("/{request_id}/submit", response_model=RequestOut, summary="Submit a draft")
async def submit_request(request_id: uuid.UUID, resident: Resident, db: DB) -> RequestOut:
    """Gives the reference; routing and the resident's SMS are owed in the same commit."""
    async with db.transaction() as session:
        request = await service.submit(session, uuid.UUID(resident.subject), request_id)
        answer = await service.detail(session, request)
    faults.point("intake.submit.after_commit")
    return answer


@router.get("/{request_id}", response_model=RequestOut, summary="Read one of your requests")
async def get_request(request_id: uuid.UUID, resident: Resident, db: DB) -> RequestOut:
    """Status, documents and timeline; another resident's request answers 404."""
    async with db.read() as session:
        return await service.view(session, uuid.UUID(resident.subject), request_id)


@router.get("", response_model=RequestPageOut, summary="List your requests, newest first")
async def list_requests(
    resident: Resident,
    db: DB,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> RequestPageOut:
    """Cursor pagination: pass `next_cursor` back as `cursor` for the next page."""
    async with db.read() as session:
        return await service.page(session, uuid.UUID(resident.subject), limit=limit, cursor=cursor)


@router.post(
    "/{request_id}/respond", response_model=RequestOut, summary="Answer a request for information"
)
async def respond(request_id: uuid.UUID, body: RespondIn, resident: Resident, db: DB) -> RequestOut:
    """Send the information asked for; the request goes back to its officer."""
    async with db.transaction() as session:
        request = await service.resident_action(
            session,
            uuid.UUID(resident.subject),
            request_id,
            Action.respond,
            {"message": body.message},
        )
        return await service.detail(session, request)


@router.post("/{request_id}/withdraw", response_model=RequestOut, summary="Withdraw a request")
async def withdraw(
    request_id: uuid.UUID, resident: Resident, db: DB, body: WithdrawIn | None = None
) -> RequestOut:
    """Withdraw a request that is not yet resolved."""
    data: dict[str, object] = {"reason": body.reason} if body and body.reason else {}
    async with db.transaction() as session:
        request = await service.resident_action(
            session, uuid.UUID(resident.subject), request_id, Action.withdraw, data
        )
        return await service.detail(session, request)


@router.post("/{request_id}/rating", response_model=RequestOut, summary="Rate a resolved request")
async def rate(request_id: uuid.UUID, body: RatingIn, resident: Resident, db: DB) -> RequestOut:
    """Rate 1–5 with an optional comment; once only, and it closes the request."""
    async with db.transaction() as session:
        request = await service.rate(
            session, uuid.UUID(resident.subject), request_id, body.score, body.comment
        )
        return await service.detail(session, request)


@router.patch("/{request_id}", response_model=RequestOut, summary="Edit a draft's description")
async def edit_draft(
    request_id: uuid.UUID, body: EditDraftIn, resident: Resident, db: DB
) -> RequestOut:
    """Only drafts can be edited; a hand-off draft needs its description before submission."""
    async with db.transaction() as session:
        request = await service.edit_draft(
            session, uuid.UUID(resident.subject), request_id, body.description
        )
        return await service.detail(session, request)
