"""Course kinds and per-course patterns (CONTRACT 7), technicians' working hours, and a
technician never on two live appointments at once (CONTRACT 6).

The technician exclusion constraint is hand-written like the chairs' in 0001: on
PostgreSQL an EXCLUDE over live appointments; on SQLite writes are serialised (BEGIN
IMMEDIATE) and the booking service checks before it writes.

Revision ID: 0012_course_kinds_technicians
Revises: 0011_calendar_feeds
Create Date: 2026-12-01 13:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0012_course_kinds_technicians"
down_revision = "0011_calendar_feeds"
branch_labels = None
depends_on = None

LIVE = "status IN ('scheduled', 'checked_in', 'completed', 'incomplete')"
KINDS = "kind IN ('acute', 'extension', 'retreatment', 'maintenance')"


def upgrade():
    with op.batch_alter_table("courses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("previous_course_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("pattern", sa.JSON(), nullable=True))
    op.execute("UPDATE courses SET kind = 'acute'")
    with op.batch_alter_table("courses", schema=None) as batch_op:
        batch_op.alter_column("kind", existing_type=sa.String(length=20), nullable=False)
        batch_op.create_check_constraint(batch_op.f("ck_courses_kind"), KINDS)
        batch_op.create_foreign_key(
            batch_op.f("fk_courses_previous_course_id_courses"),
            "courses",
            ["previous_course_id"],
            ["id"],
        )
    op.create_table(
        "technician_hours",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("starts_at", sa.Time(), nullable=False),
        sa.Column("ends_at", sa.Time(), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_technician_hours_ordered")),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name=op.f("ck_technician_hours_weekday")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_technician_hours_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", "weekday", name=op.f("pk_technician_hours")),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE appointments ADD CONSTRAINT ex_appointments_technician_id_overlap "
            "EXCLUDE USING gist (technician_id WITH =, "
            f"tstzrange(starts_at, ends_at, '[)') WITH &&) WHERE ({LIVE})"
        )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE appointments DROP CONSTRAINT ex_appointments_technician_id_overlap")
    op.drop_table("technician_hours")
    with op.batch_alter_table("courses", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_courses_previous_course_id_courses"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("ck_courses_kind"), type_="check")
        batch_op.drop_column("pattern")
        batch_op.drop_column("previous_course_id")
        batch_op.drop_column("kind")
