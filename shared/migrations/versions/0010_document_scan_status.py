"""documents.scan_status: what the malware scanner said; only clean documents are served

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25 12:00:00.000000

Rows uploaded before this revision were never scanned, so they get `not_scanned` and can
never be downloaded until a re-scan says otherwise: fail closed rather than trust the past.
Adding a column with a constant default is a catalog-only change in Postgres 11+, so the
upgrade takes its lock for a moment only, whatever the table's size.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.add_column(
        "documents",
        sa.Column("scan_status", sa.String(16), server_default="not_scanned", nullable=False),
    )
    op.add_column("documents", sa.Column("scanned_at", sa.DateTime(timezone=True), nullable=True))
    op.create_check_constraint(
        op.f("ck_documents_scan_status"),
        "documents",
        "scan_status IN ('not_scanned', 'clean', 'infected', 'failed')",
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_constraint(op.f("ck_documents_scan_status"), "documents", type_="check")
    op.drop_column("documents", "scanned_at")
    op.drop_column("documents", "scan_status")
