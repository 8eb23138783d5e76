"""statistics blocks: department figures over aligned blocks of 2^level days

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25 14:40:00.000000

A department's figures for a period were summed from every (day, officer) cell in it, so a
30-day answer cost about one histogram entry per request of the period. Blocks of 1, 2, 4 …
256 days per department let any period up to a year be read from ~2·log₂(days) rows
(routing_service/statistics/blocks.py). They are built here from the daily cells, so the
figures are complete through the upgrade, under the fold's lock. A routing worker of the
previous version would fold cells without their blocks: a statement trigger refuses writes to
statistics_daily from a transaction that has not declared it keeps blocks too
(`tawasul.fold_blocks`), so such a fold rolls back and its notes wait in statistics_changes
for the new version, and nothing is lost or counted apart in a rollout.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEVELS = 9  # routing_service/statistics/blocks.py LEVELS, copied: a migration is frozen
_COUNTS = (
    "submitted",
    "first_responses",
    "first_response_judged",
    "first_response_on_time",
    "resolutions",
    "resolution_judged",
    "resolution_on_time",
    "breaches",
    "rating_sum",
    "ratings",
)
_HISTOGRAMS = ("first_response_histogram", "resolution_histogram")


def _histogram_sum(name: str) -> str:
    """CTEs summing one histogram column of `src` per block, as ascending [bucket, n] pairs."""
    return f"""
    {name}_n AS (
        SELECT department_code, start_day, h[i] AS bucket, sum(h[i + 1])::int AS n
        FROM (SELECT department_code, start_day, {name} AS h FROM src) s,
             generate_series(1, cardinality(h), 2) AS i
        GROUP BY 1, 2, 3
    ),
    {name}_s AS (
        SELECT department_code, start_day, array_agg(x ORDER BY bucket, o) AS pairs
        FROM {name}_n, unnest(ARRAY[bucket, n]) WITH ORDINALITY AS u(x, o)
        WHERE n <> 0
        GROUP BY 1, 2
    )"""  # noqa: S608 (names from the tuple above)


def _backfill(level: int) -> str:
    """Blocks of one level, summed from the daily cells of every officer."""
    counts = ", ".join(f"sum({c})::int AS {c}" for c in _COUNTS)
    columns = ", ".join(_COUNTS)
    histogram_ctes = ",".join(_histogram_sum(name) for name in _HISTOGRAMS)
    return f"""
    WITH src AS (
        SELECT department_code,
               DATE '1970-01-01' + (((day - DATE '1970-01-01') >> {level}) << {level})
                   AS start_day,
               {columns}, by_status, {", ".join(_HISTOGRAMS)}
        FROM statistics_daily
    ),
    totals AS (SELECT department_code, start_day, {counts} FROM src GROUP BY 1, 2),
    statuses AS (
        SELECT department_code, start_day, jsonb_object_agg(status, n) AS by_status
        FROM (
            SELECT department_code, start_day, e.key AS status, sum(e.value::int) AS n
            FROM src, jsonb_each_text(src.by_status) AS e
            GROUP BY 1, 2, 3
        ) s
        WHERE n <> 0
        GROUP BY 1, 2
    ),{histogram_ctes}
    INSERT INTO statistics_blocks (department_code, level, start_day, {columns}, by_status,
        {", ".join(_HISTOGRAMS)})
    SELECT t.department_code, {level}, t.start_day, {", ".join("t." + c for c in _COUNTS)},
           coalesce(st.by_status, '{{}}'),
           coalesce(fr.pairs, '{{}}'), coalesce(rs.pairs, '{{}}')
    FROM totals t
    LEFT JOIN statuses st USING (department_code, start_day)
    LEFT JOIN first_response_histogram_s fr USING (department_code, start_day)
    LEFT JOIN resolution_histogram_s rs USING (department_code, start_day)
    WHERE t.submitted <> 0
    """  # noqa: S608 (names from the tuples above)


FOLD_LOCK = 0x7374617473  # routing_service/statistics/rollup.py FOLD_LOCK


def upgrade() -> None:
    """Apply this revision."""
    op.execute(f"SELECT pg_advisory_xact_lock({FOLD_LOCK})")
    op.create_table(
        "statistics_blocks",
        sa.Column("department_code", sa.String(length=64), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("start_day", sa.Date(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in _COUNTS),
        sa.Column(
            "by_status",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        *(
            sa.Column(
                name,
                postgresql.ARRAY(sa.Integer()),
                server_default=sa.text("'{}'"),
                nullable=False,
            )
            for name in _HISTOGRAMS
        ),
        sa.PrimaryKeyConstraint(
            "department_code", "level", "start_day", name=op.f("pk_statistics_blocks")
        ),
    )
    for level in range(LEVELS):
        op.execute(_backfill(level))
    op.execute(
        """
        CREATE FUNCTION statistics_daily_needs_blocks() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF coalesce(current_setting('tawasul.fold_blocks', true), '') <> 'on' THEN
                RAISE EXCEPTION 'statistics_daily is written only by a fold that keeps '
                    'statistics_blocks (migration 0011)';
            END IF;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER statistics_daily_needs_blocks
        BEFORE INSERT OR UPDATE OR DELETE ON statistics_daily
        FOR EACH STATEMENT EXECUTE FUNCTION statistics_daily_needs_blocks()
        """
    )


def downgrade() -> None:
    """Revert this revision."""
    op.execute("DROP TRIGGER statistics_daily_needs_blocks ON statistics_daily")
    op.execute("DROP FUNCTION statistics_daily_needs_blocks()")
    op.drop_table("statistics_blocks")
