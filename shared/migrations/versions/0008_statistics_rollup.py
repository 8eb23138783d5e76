"""statistics rollup: per (department, day, officer) figures, fed by change triggers

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 06:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The columns of `requests` the figures read (routing_service/statistics/rollup.py _CURRENT).
_COUNTED = (
    "department_code",
    "submitted_at",
    "status",
    "first_response_at",
    "first_response_due_at",
    "resolved_at",
    "resolution_due_at",
    "breached_at",
    "rating",
)


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "statistics_changes",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("clock_timestamp()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statistics_changes")),
    )
    op.create_table(
        "statistics_contributions",
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("department_code", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("officer_key", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("first_response_bucket", sa.SmallInteger(), nullable=True),
        sa.Column("first_response_on_time", sa.Boolean(), nullable=True),
        sa.Column("resolution_bucket", sa.SmallInteger(), nullable=True),
        sa.Column("resolution_on_time", sa.Boolean(), nullable=True),
        sa.Column("breached", sa.Boolean(), nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=True),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_statistics_contributions")),
    )
    op.create_table(
        "statistics_daily",
        sa.Column("department_code", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("officer_key", sa.Uuid(), nullable=False),
        sa.Column("submitted", sa.Integer(), nullable=False),
        sa.Column("first_responses", sa.Integer(), nullable=False),
        sa.Column("first_response_judged", sa.Integer(), nullable=False),
        sa.Column("first_response_on_time", sa.Integer(), nullable=False),
        sa.Column("resolutions", sa.Integer(), nullable=False),
        sa.Column("resolution_judged", sa.Integer(), nullable=False),
        sa.Column("resolution_on_time", sa.Integer(), nullable=False),
        sa.Column("breaches", sa.Integer(), nullable=False),
        sa.Column("rating_sum", sa.Integer(), nullable=False),
        sa.Column("ratings", sa.Integer(), nullable=False),
        sa.Column(
            "by_status",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column(
            "first_response_histogram",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column(
            "resolution_histogram",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint(
            "department_code", "day", "officer_key", name=op.f("pk_statistics_daily")
        ),
    )
    # One function per table, because the request's ID is `id` in one and `request_id` in the
    # other; both only append, so a writer pays one small insert and takes no shared lock.
    op.execute(
        """
        CREATE FUNCTION statistics_note_request() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                INSERT INTO statistics_changes (request_id) VALUES (OLD.id);
            ELSE
                INSERT INTO statistics_changes (request_id) VALUES (NEW.id);
            END IF;
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION statistics_note_assignment() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                INSERT INTO statistics_changes (request_id) VALUES (OLD.request_id);
            ELSE
                INSERT INTO statistics_changes (request_id) VALUES (NEW.request_id);
            END IF;
            RETURN NULL;
        END $$
        """
    )
    changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in _COUNTED)
    op.execute(
        "CREATE TRIGGER statistics_request_inserted AFTER INSERT ON requests FOR EACH ROW "
        "WHEN (NEW.submitted_at IS NOT NULL) EXECUTE FUNCTION statistics_note_request()"
    )
    op.execute(
        "CREATE TRIGGER statistics_request_updated AFTER UPDATE ON requests FOR EACH ROW "
        f"WHEN ({changed}) EXECUTE FUNCTION statistics_note_request()"
    )
    op.execute(
        "CREATE TRIGGER statistics_request_deleted AFTER DELETE ON requests FOR EACH ROW "
        "WHEN (OLD.submitted_at IS NOT NULL) EXECUTE FUNCTION statistics_note_request()"
    )
    op.execute(
        "CREATE TRIGGER statistics_assignment_written AFTER INSERT OR DELETE "
        "ON request_assignments FOR EACH ROW EXECUTE FUNCTION statistics_note_assignment()"
    )
    op.execute(
        "CREATE TRIGGER statistics_assignment_moved AFTER UPDATE OF officer_id "
        "ON request_assignments FOR EACH ROW "
        "WHEN (OLD.officer_id IS DISTINCT FROM NEW.officer_id) "
        "EXECUTE FUNCTION statistics_note_assignment()"
    )
    # Requests submitted before this revision: routing's fold counts them in the background.
    op.execute(
        "INSERT INTO statistics_changes (request_id) "
        "SELECT id FROM requests WHERE submitted_at IS NOT NULL ORDER BY submitted_at"
    )


def downgrade() -> None:
    """Revert this revision."""
    op.execute("DROP TRIGGER statistics_assignment_moved ON request_assignments")
    op.execute("DROP TRIGGER statistics_assignment_written ON request_assignments")
    op.execute("DROP TRIGGER statistics_request_deleted ON requests")
    op.execute("DROP TRIGGER statistics_request_updated ON requests")
    op.execute("DROP TRIGGER statistics_request_inserted ON requests")
    op.execute("DROP FUNCTION statistics_note_assignment()")
    op.execute("DROP FUNCTION statistics_note_request()")
    op.drop_table("statistics_daily")
    op.drop_table("statistics_contributions")
    op.drop_table("statistics_changes")
