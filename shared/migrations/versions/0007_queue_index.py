"""queue index: each department's open requests, oldest submission first

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 03:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_index(
        "ix_requests_queue",
        "requests",
        ["department_code", "submitted_at", "id"],
        unique=False,
        postgresql_where=sa.text("status IN ('routed', 'in_progress', 'awaiting_resident')"),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(
        "ix_requests_queue",
        table_name="requests",
        postgresql_where=sa.text("status IN ('routed', 'in_progress', 'awaiting_resident')"),
    )
