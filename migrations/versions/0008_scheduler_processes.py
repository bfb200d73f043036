"""One heartbeat row per scheduler process, so /api/v1/health can count the live ones.

Revision ID: 0008_scheduler_processes
Revises: 0007_reminder_attempts
Create Date: 2026-12-01 09:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

import clinic.db

# revision identifiers, used by Alembic.
revision = "0008_scheduler_processes"
down_revision = "0007_reminder_attempts"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "scheduler_processes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=120), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started_at", clinic.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_tick_at", clinic.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduler_processes")),
        sa.UniqueConstraint(
            "host", "pid", "started_at", name=op.f("uq_scheduler_processes_host_pid_started_at")
        ),
    )
    op.create_index("ix_scheduler_processes_last_tick_at", "scheduler_processes", ["last_tick_at"])


def downgrade():
    op.drop_index("ix_scheduler_processes_last_tick_at", table_name="scheduler_processes")
    op.drop_table("scheduler_processes")
