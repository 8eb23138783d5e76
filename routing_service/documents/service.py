"""Which document a staff member may download: the request page's access rule, then clean."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from routing_service.deps import StaffMember
from routing_service.workspace import service as workspace
from shared.db.requests import Document
from shared.downloads import require_clean
from shared.errors import NotFound


class DocumentNotFound(NotFound):
    """Not a document of this request (another request's looks the same as none)."""

    code = "document_not_found"
    message_en = "Document not found."
    message_ar = "المستند غير موجود."


async def downloadable(
    session: AsyncSession, staff: StaffMember, request_id: uuid.UUID, document_id: uuid.UUID
) -> Document:
    """The document, if the caller may open its request (as on the request page) and it is
    clean; 404 for someone else's request exactly as for a missing one."""
    await workspace.load(session, staff, request_id)
    document = await session.scalar(
        select(Document).where(Document.id == document_id, Document.request_id == request_id)
    )
    if document is None:
        raise DocumentNotFound()
    require_clean(document)
    return document
