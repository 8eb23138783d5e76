"""statistics histograms as integer arrays instead of JSON objects

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 09:30:00.000000

Reading a supervisor's statistics spent ~80% of its time decoding the cells' JSON histograms
(a 30-day answer holds about one entry per request). As `int[]` pairs
([bucket, count, bucket, count, ...], buckets ascending) asyncpg decodes them in C.
The cells are converted in place, so figures stay complete through the upgrade. A routing
worker of the previous version fails its folds until it is replaced (its notes wait in
statistics_changes and are folded by the new version), so nothing is lost in a rollout.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_HISTOGRAMS = ("first_response_histogram", "resolution_histogram")


def upgrade() -> None:
    """Apply this revision."""
    for name in _HISTOGRAMS:
        op.add_column(
            "statistics_daily",
            sa.Column(
                f"{name}_pairs",
                postgresql.ARRAY(sa.Integer()),
                server_default=sa.text("'{}'"),
                nullable=False,
            ),
        )
        op.execute(
            f"""
            UPDATE statistics_daily SET {name}_pairs = ARRAY(
                SELECT x FROM jsonb_each_text({name}) AS e(bucket, n)
                CROSS JOIN LATERAL unnest(ARRAY[bucket::int, n::int]) WITH ORDINALITY AS u(x, i)
                ORDER BY bucket::int, i
            )
            WHERE {name} <> '{{}}'
            """  # noqa: S608 (names from the tuple above)
        )
        op.drop_column("statistics_daily", name)
        op.alter_column("statistics_daily", f"{name}_pairs", new_column_name=name)


def downgrade() -> None:
    """Revert this revision."""
    for name in _HISTOGRAMS:
        op.add_column(
            "statistics_daily",
            sa.Column(
                f"{name}_json",
                postgresql.JSONB(astext_type=sa.Text()),
                server_default=sa.text("'{}'"),
                nullable=False,
            ),
        )
        op.execute(
            f"""
            UPDATE statistics_daily SET {name}_json = (
                SELECT jsonb_object_agg({name}[i]::text, {name}[i + 1])
                FROM generate_series(1, cardinality({name}), 2) AS i
            )
            WHERE cardinality({name}) > 0
            """  # noqa: S608 (names from the tuple above)
        )
        op.drop_column("statistics_daily", name)
        op.alter_column("statistics_daily", f"{name}_json", new_column_name=name)
