"""Attach a document to a request: check, sniff, apply the content rules, scan, hash, store in
S3, then record it. Nothing is stored before every check has passed."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from intake_service.documents import deadline, rules
from intake_service.documents.errors import (
    DocumentInfected,
    DocumentNotFound,
    DocumentTooLarge,
    EmptyDocument,
    TooManyDocuments,
    UnsupportedDocumentType,
)
from intake_service.documents.scanner import ClamdScanner
from intake_service.documents.sniff import FileKind, sniff
from intake_service.requests import repository
from intake_service.requests.service import owned_or_404
from shared.db.database import Database
from shared.db.requests import Document, Request, ScanStatus
from shared.downloads import require_clean
from shared.filenames import display_name
from shared.request_status import InvalidTransition, Status
from shared.storage import DocumentStore

log = structlog.get_logger()

# States in which a resident may add documents.
OPEN_FOR_DOCUMENTS = {Status.draft.value, Status.awaiting_resident.value}


async def check_can_attach(
    session: AsyncSession,
    resident_id: uuid.UUID,
    request_id: uuid.UUID,
    limit: int,
    upload: tuple[str, str | None],
    *,
    lock: bool = False,
) -> tuple[Request, Document | None]:
    """The request, if the resident may attach this upload to it: theirs, open for documents,
    and either already holding it (that document is returned too: an upload retried after
    its answer was lost must not attach a second copy) or with room for it.

    `upload` is (SHA-256, name as it would be shown): the same bytes under another name are
    another document, as a resident may send one scan for two required papers."""
    request = await owned_or_404(session, resident_id, request_id, lock=lock)
    if request.status not in OPEN_FOR_DOCUMENTS:
        raise InvalidTransition(request.status, "add_document")
    sha256, name = upload
    same = (
        await session.scalar(
            select(Document)
            .where(
                Document.request_id == request.id,
                Document.sha256 == sha256,
                Document.filename == name,
            )
            .limit(1)
        )
        if name is not None
        else None
    )
    if same is None and await repository.count_documents(session, request.id) >= limit:
        raise TooManyDocuments(limit)
    return request, same


def accepted_kind(
    data: bytes, *, filename: str | None, declared_type: str | None, max_bytes: int
) -> FileKind:
    """The document's type, once size, magic bytes, name, declared type and content agree."""
    if not data:
        raise EmptyDocument()
    if len(data) > max_bytes:
        raise DocumentTooLarge(max_bytes)
    kind = sniff(data[:16])
    if kind is None:
        raise UnsupportedDocumentType()
    rules.check_name_and_type(filename, declared_type, kind)
    rules.check_content(data, kind)
    return kind


async def scan(scanner: ClamdScanner | None, data: bytes, request_id: uuid.UUID) -> ScanStatus:
    """`clean` when clamd says so, `not_scanned` without a scanner (development only, the
    settings refuse that in production); infected bytes are refused before they are stored."""
    if scanner is None:
        return ScanStatus.not_scanned
    verdict = await scanner.scan(data)
    if not verdict.clean:
        log.warning("documents.infected", request=str(request_id), signature=verdict.signature)
        raise DocumentInfected()
    return ScanStatus.clean


@dataclass(frozen=True)
class _Stored:
    """An upload checked, scanned and in S3, not yet recorded."""

    document_id: uuid.UUID
    key: str
    kind: FileKind
    scan_status: ScanStatus
    scanned_at: datetime | None


async def attach(
    db: Database,
    store: DocumentStore,
    scanner: ClamdScanner | None,
    *,
    resident_id: uuid.UUID,
    request_id: uuid.UUID,
    filename: str | None,
    declared_type: str | None,
    data: bytes,
    max_bytes: int,
    max_documents: int,
    within: float,
    hung_up: Callable[[], Awaitable[None]] | None = None,
) -> Document:
    """Check and scan, store the bytes in S3, then record them; an unrecorded upload is
    deleted again, so a refused or failed upload leaves nothing behind. The same bytes sent
    again to the same request answer with the document already attached.

    Everything before the record ends within `within` seconds, or once `hung_up` returns
    (the caller left), and the record up to its commit within RECORD_BOUND; cut short, the
    upload keeps nothing (deadline.py). The commit itself is never cut: a commit cut halfway
    cannot be told from one that happened."""
    digest = hashlib.sha256(data)
    claimed = sniff(data[:16])  # proved or refused below; here only to name a repeat
    upload = (digest.hexdigest(), display_name(filename, claimed.extension) if claimed else None)
    stored = await deadline.bounded(
        _check_scan_and_store(
            db,
            store,
            scanner,
            resident_id=resident_id,
            request_id=request_id,
            filename=filename,
            declared_type=declared_type,
            data=data,
            digest=digest.digest(),
            upload=upload,
            max_bytes=max_bytes,
            max_documents=max_documents,
        ),
        within=within,
        hung_up=hung_up,
    )
    if isinstance(stored, Document):
        return stored
    try:
        # recording() ends before the transaction commits: only the commit is not cut.
        async with db.transaction() as session, deadline.recording():
            # Again under the request's lock: two tries of one upload racing each other.
            request, same = await check_can_attach(
                session, resident_id, request_id, max_documents, upload, lock=True
            )
            if same is None:
                document = _record(
                    session,
                    request,
                    resident_id,
                    stored.document_id,
                    stored.key,
                    filename,
                    stored.kind,
                    data,
                    digest.hexdigest(),
                    stored.scan_status,
                    stored.scanned_at,
                )
                await session.flush()
    except BaseException:
        await _forget(store, stored.key)
        raise
    if same is not None:
        await _forget(store, stored.key)  # the first try's copy is the one recorded
        return same
    log.info(
        "documents.attached",
        request=str(request_id),
        document_id=str(stored.document_id),
        size=len(data),
        content_type=stored.kind.content_type,
        scan_status=stored.scan_status.value,
    )
    return document


async def _check_scan_and_store(
    db: Database,
    store: DocumentStore,
    scanner: ClamdScanner | None,
    *,
    resident_id: uuid.UUID,
    request_id: uuid.UUID,
    filename: str | None,
    declared_type: str | None,
    data: bytes,
    digest: bytes,
    upload: tuple[str, str | None],
    max_bytes: int,
    max_documents: int,
) -> Document | _Stored:
    """The document already attached for this upload, or the upload checked, scanned and put
    in S3; cancelled, it leaves nothing in S3."""
    async with db.read() as session:
        _, same = await check_can_attach(session, resident_id, request_id, max_documents, upload)
    if same is not None:
        return same
    # Up to ~0.3 s of parsing for a hostile 10 MiB file: in a thread, off the event loop.
    kind = await asyncio.to_thread(
        accepted_kind, data, filename=filename, declared_type=declared_type, max_bytes=max_bytes
    )
    scan_status = await scan(scanner, data, request_id)
    scanned_at = datetime.now(UTC) if scan_status is ScanStatus.clean else None
    document_id = uuid.uuid4()
    key = f"requests/{request_id}/{document_id}.{kind.extension}"
    writing = asyncio.ensure_future(
        store.put(
            key,
            data,
            content_type=kind.content_type,
            sha256_b64=base64.b64encode(digest).decode(),
        )
    )
    try:
        await asyncio.shield(writing)
    except asyncio.CancelledError:
        deadline.clean_up_after(writing, lambda: _forget(store, key))
        raise
    return _Stored(document_id, key, kind, scan_status, scanned_at)


def _record(
    session: AsyncSession,
    request: Request,
    resident_id: uuid.UUID,
    document_id: uuid.UUID,
    key: str,
    filename: str | None,
    kind: FileKind,
    data: bytes,
    sha256: str,
    scan_status: ScanStatus,
    scanned_at: datetime | None,
) -> Document:
    """The document's row and its timeline event, in the caller's transaction."""
    document = Document(
        id=document_id,
        request_id=request.id,
        filename=display_name(filename, kind.extension),
        content_type=kind.content_type,
        size_bytes=len(data),
        sha256=sha256,
        storage_key=key,
        scan_status=scan_status.value,
        scanned_at=scanned_at,
    )
    session.add(document)
    repository.add_event(
        session,
        request,
        "document_added",
        from_status=None,
        to_status=None,
        actor_type="resident",
        actor_id=str(resident_id),
        data={"document_id": str(document_id), "filename": document.filename},
    )
    return document


async def _forget(store: DocumentStore, key: str) -> None:
    """Delete stored bytes no row points to; a failure only leaves an orphan to log."""
    try:
        await store.delete(key)
    except Exception:  # the original failure, if any, matters more than the clean-up's
        log.warning("documents.orphan_left", key=key)


async def own_clean_document(
    session: AsyncSession, resident_id: uuid.UUID, request_id: uuid.UUID, document_id: uuid.UUID
) -> Document:
    """A document of the resident's own request, once clamd called it clean; anyone else's
    request answers 404 exactly like a missing one."""
    await owned_or_404(session, resident_id, request_id)
    document = await session.scalar(
        select(Document).where(Document.id == document_id, Document.request_id == request_id)
    )
    if document is None:
        raise DocumentNotFound()
    require_clean(document)
    return document
