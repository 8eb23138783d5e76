"""statistics blocks: each histogram also in a dense form that reads add up in C

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 23:00:00.000000

A department block's histograms fill up with data: a few dozen buckets on a small database,
up to ~740 (a minute to a year at 1%) on a national one. Reads added a period's blocks
bucket by bucket in Python, so the department statistics answered 0.77 × as fast at 4 M
requests as at 40 k (bench/README.md, 2026-12-06). The dense form (a first bucket, then one
uint32 count per bucket to the last) adds up as whole integers instead
(routing_service/statistics/sketch.py, Histogram).

The fold writes the dense form beside the [bucket, count, ...] pairs, which stay the
figures of record. NULL means "not derived yet: read the pairs", so this upgrade (two
catalog-only column additions and a partial index of the rows still to derive) returns at
once, and the fold derives the forms of the rows that lack them a batch per tick
(rollup.densify). A writer that does not keep the dense form (the previous release's fold,
through a rollout or after a rollback; expand/contract, deploy/README.md) cannot leave a
stale one: unless its transaction declares `tawasul.fold_dense`, a trigger sets the dense
forms of the rows it writes to NULL.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DENSE = ("first_response_dense", "resolution_dense")


def upgrade() -> None:
    """Apply this revision."""
    op.execute(
        "ALTER TABLE statistics_blocks " + ", ".join(f"ADD COLUMN {name} bytea" for name in _DENSE)
    )
    # What the fold's tick has left to derive; empty in steady state, so checking it costs a
    # probe rather than a scan (35 ms at 15 k blocks, every 10 s).
    op.create_index(
        "ix_statistics_blocks_underived",
        "statistics_blocks",
        ["level"],
        postgresql_where=sa.text("first_response_dense IS NULL OR resolution_dense IS NULL"),
    )
    op.execute(
        """
        CREATE FUNCTION statistics_blocks_forget_dense() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.first_response_dense := NULL;
            NEW.resolution_dense := NULL;
            RETURN NEW;
        END $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER statistics_blocks_forget_dense
        BEFORE INSERT OR UPDATE ON statistics_blocks
        FOR EACH ROW
        WHEN (coalesce(current_setting('tawasul.fold_dense', true), '') <> 'on')
        EXECUTE FUNCTION statistics_blocks_forget_dense()
        """
    )


def downgrade() -> None:
    """Revert this revision."""
    op.execute("DROP TRIGGER statistics_blocks_forget_dense ON statistics_blocks")
    op.execute("DROP FUNCTION statistics_blocks_forget_dense()")
    op.drop_index("ix_statistics_blocks_underived", table_name="statistics_blocks")
    op.execute(
        "ALTER TABLE statistics_blocks " + ", ".join(f"DROP COLUMN {name}" for name in _DENSE)
    )
