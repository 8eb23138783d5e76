"""`POST /v1/requests` in the fast lane (shared/fast_lane.py): a resident's new draft.

The hottest write a resident makes. Its statement is one round trip (drafts.file_draft); py-spy
then put about half of intake's CPU for the call in FastAPI around it: routing, dependency
solving, request and response objects. The lane takes the calls FastAPI would accept without
a word — a JSON body that validates, sent by a resident the gateway vouched for — and answers
them with the endpoint's own function (requests/create.py), serialised as FastAPI does. It
declines everything else (another content type, a body that fails validation, a missing or
bad identity, staff or partners), and FastAPI answers that as it always has.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from pydantic import TypeAdapter, ValidationError
from starlette.types import Receive, Scope, Send

from intake_service.requests.create import create_resident_draft
from intake_service.requests.schemas import CreateRequestIn, RequestOut
from shared.db.database import Database
from shared.fast_lane import LANE_INPUT, LaneRoute, header
from shared.identity import (
    IDENTITY_HEADER,
    Identity,
    InvalidIdentity,
    PrincipalKind,
    verify_identity,
)

DRAFT_LANE_MAX_BODY = 64 * 1024
"""Longest body the lane reads (a 4,000-character description in JSON fits many times over);
a longer one goes to FastAPI, which refuses it as it always has."""

_IDENTITY = IDENTITY_HEADER.lower().encode("latin-1")
_ANSWER = TypeAdapter(RequestOut)


def _is_json(content_type: str | None) -> bool:
    """The plain `application/json` (with parameters, any case) FastAPI reads as JSON."""
    if content_type is None:
        return False
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


def draft_lane(db: Database, secret: bytes, *, max_body: int) -> LaneRoute:
    """The lane route for `POST /v1/requests`, writing through `db`."""

    def prepare(scope: Scope, body: bytes) -> tuple[Identity, CreateRequestIn] | None:
        if not body or not _is_json(header(scope, b"content-type")):
            return None
        signed = header(scope, _IDENTITY)
        if not signed:
            return None
        try:
            identity = verify_identity(signed, secret)
        except InvalidIdentity:
            return None  # FastAPI answers 401 and logs why
        if identity.kind is not PrincipalKind.resident:
            return None
        try:
            data: Any = json.loads(body)  # as Starlette's Request.json() reads it
            draft = CreateRequestIn.model_validate(data)
        except (ValueError, ValidationError):
            return None
        return identity, draft

    async def handle(scope: Scope, receive: Receive, send: Send) -> None:
        identity, draft = scope[LANE_INPUT]
        created = await create_resident_draft(
            db, uuid.UUID(identity.subject), draft, header(scope, b"idempotency-key")
        )
        content = _ANSWER.dump_json(created.answer, by_alias=True)
        headers = [
            (b"content-length", str(len(content)).encode("latin-1")),
            (b"content-type", b"application/json"),
        ]
        if created.replayed:
            headers.append((b"idempotent-replayed", b"true"))
        await send({"type": "http.response.start", "status": 201, "headers": headers})
        await send({"type": "http.response.body", "body": content})

    return LaneRoute(handle, prepare, max_body=max_body)
