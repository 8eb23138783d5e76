"""Scan the documents nobody has scanned: uploads from before migration 0010, or taken while
intake ran without a scanner (development). Until then they are `not_scanned`, which no one
can ever download (shared/downloads.py), so a resident's evidence would stay out of the
staff's reach for good.

Run as `python -m intake_service.documents.rescan` (the `rescan` CronJob, deploy/k8s). Each
document is read from S3, checked against the SHA-256 recorded at upload, sent to clamd, and
its verdict written only if it is still `not_scanned` (two runs at once scan twice, never
record twice). While clamd cannot answer, the run stops and the documents wait for the next
one: nothing is recorded clean without clamd saying so.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime

import structlog
from sqlalchemy import func, select, tuple_, update

from intake_service.documents.errors import ScannerUnavailable
from intake_service.documents.scanner import ClamdScanner
from intake_service.settings import IntakeSettings
from shared.db.database import Database
from shared.db.requests import Document, ScanStatus
from shared.db.session import create_engine, create_sessionmaker
from shared.downloads import DocumentCorrupted, read_verified
from shared.errors import AppError
from shared.logging import configure_logging
from shared.storage import DocumentStore

log = structlog.get_logger()

BATCH = 50
"""Documents read per query: each is scanned on its own, up to 10 MiB in memory at a time."""
BUDGET_SECONDS = 240.0
"""A run takes no new document after this long: with one scan's deadline (CLAMD_TIMEOUT,
10 s by default) it ends inside the CronJob's five minutes."""


@dataclass
class Outcome:
    """What one run did."""

    clean: int = 0
    infected: int = 0
    failed: int = 0
    """Objects missing from S3 or differing from what was uploaded: nothing left to scan."""
    scanner_unavailable: bool = False
    remaining: bool = False
    """Documents were left for the next run (the budget ran out, or clamd did not answer)."""


_PENDING = (
    select(Document)
    .where(Document.scan_status == ScanStatus.not_scanned)
    .order_by(Document.created_at, Document.id)
)


async def _record(db: Database, document_id: uuid.UUID, status: ScanStatus) -> bool:
    """The verdict, only over `not_scanned` (a concurrent run may have been first)."""
    async with db.transaction() as session:
        result = await session.execute(
            update(Document)
            .where(Document.id == document_id, Document.scan_status == ScanStatus.not_scanned)
            .values(scan_status=status.value, scanned_at=func.now())
        )
    return bool(getattr(result, "rowcount", 0))


async def scan_one(
    db: Database, store: DocumentStore, scanner: ClamdScanner, document: Document
) -> ScanStatus:
    """Scan one document and record its verdict; ScannerUnavailable leaves it as it was.

    An infected object is deleted once the verdict is recorded: the row stays, so the
    request still shows that a document was refused. Should the delete fail, the object
    stays behind a row that says `infected`, which nothing ever serves."""
    try:
        data = await read_verified(store, document)
    except DocumentCorrupted:
        await _record(db, document.id, ScanStatus.failed)
        return ScanStatus.failed
    verdict = await scanner.scan(data)
    if verdict.clean:
        await _record(db, document.id, ScanStatus.clean)
        return ScanStatus.clean
    if await _record(db, document.id, ScanStatus.infected):
        await store.delete(document.storage_key)
    log.warning(
        "documents.rescan_infected",
        document_id=str(document.id),
        request=str(document.request_id),
        signature=verdict.signature,
    )
    return ScanStatus.infected


async def rescan(
    db: Database,
    store: DocumentStore,
    scanner: ClamdScanner,
    *,
    budget_seconds: float = BUDGET_SECONDS,
    batch: int = BATCH,
) -> Outcome:
    """Scan `not_scanned` documents, oldest first, until none is left, the budget is spent,
    or clamd cannot answer."""
    outcome = Outcome()
    started = time.monotonic()
    after: tuple[datetime, uuid.UUID] | None = None  # oldest first, each document once a run
    while True:
        query = _PENDING
        if after is not None:
            query = query.where(tuple_(Document.created_at, Document.id) > after)
        async with db.read() as session:
            documents = list((await session.scalars(query.limit(batch))).all())
        if not documents:
            return outcome
        for document in documents:
            if time.monotonic() - started >= budget_seconds:
                outcome.remaining = True
                return outcome
            try:
                status = await scan_one(db, store, scanner, document)
            except ScannerUnavailable:
                outcome.scanner_unavailable = outcome.remaining = True
                return outcome
            after = (document.created_at, document.id)
            setattr(outcome, status.value, getattr(outcome, status.value) + 1)


async def _main(settings: IntakeSettings, budget_seconds: float) -> Outcome:
    if not settings.clamd_address:
        raise SystemExit("CLAMD_ADDRESS is not set: there is no scanner to re-scan with")
    engine = create_engine(settings, application_name="intake-rescan")
    try:
        db = Database(create_sessionmaker(engine))
        scanner = ClamdScanner(settings.clamd_address, timeout=settings.clamd_timeout)
        return await rescan(db, DocumentStore(settings), scanner, budget_seconds=budget_seconds)
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    """CronJob entry: exit 0 when every document has a verdict or the budget ran out, 1 when
    clamd, S3 or Postgres could not answer (the Job fails visibly; the next run retries)."""
    parser = argparse.ArgumentParser(prog="python -m intake_service.documents.rescan")
    parser.add_argument("--budget-seconds", type=float, default=BUDGET_SECONDS)
    args = parser.parse_args(argv)
    settings = IntakeSettings()
    configure_logging("intake-rescan", level=settings.log_level, json=settings.log_json)
    try:
        outcome = asyncio.run(_main(settings, args.budget_seconds))
    except AppError as exc:  # S3 or Postgres down: the next run tries again
        log.error("documents.rescan_failed", error=type(exc).__name__)
        return 1
    log.info("documents.rescanned", **asdict(outcome))
    return 1 if outcome.scanner_unavailable else 0


if __name__ == "__main__":
    sys.exit(main())
