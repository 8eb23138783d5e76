"""documents: a partial index of those not yet scanned, for the re-scan job

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 23:40:00.000000

intake_service/documents/rescan.py scans `not_scanned` documents oldest first, a batch per
query, every five minutes. Without an index each batch would scan the documents table; this
one holds only the documents still to scan (none once the job has caught up).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PREDICATE = sa.text("scan_status = 'not_scanned'")


def upgrade() -> None:
    """Apply this revision."""
    op.create_index(
        "ix_documents_not_scanned",
        "documents",
        ["created_at", "id"],
        unique=False,
        postgresql_where=_PREDICATE,
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_documents_not_scanned", table_name="documents", postgresql_where=_PREDICATE)
