"""Delivered sessions found from the index alone: the outcome report's cohort (courses
first treated in a range) reads each session's status, kind, start, course and times,
and without these indexes visited every appointment row of the range and of its courses.

Revision ID: 0017_outcome_indexes
Revises: 0016_language
Create Date: 2026-12-01 23:00:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0017_outcome_indexes"
down_revision = "0016_language"
branch_labels = None
depends_on = None


def upgrade():
    # Led by the start, as the chairs' busy-time look-ups read it: led by the status,
    # SQLite took it for those too and booking a course got 2.6x slower.
    op.create_index(
        "ix_appointments_starts_status_kind_course",
        "appointments",
        ["starts_at", "status", "kind", "course_id"],
    )
    op.create_index(
        "ix_appointments_course_delivered",
        "appointments",
        ["course_id", "status", "kind", "starts_at", "delivered_at", "ends_at"],
    )


def downgrade():
    op.drop_index("ix_appointments_course_delivered", table_name="appointments")
    op.drop_index("ix_appointments_starts_status_kind_course", table_name="appointments")
