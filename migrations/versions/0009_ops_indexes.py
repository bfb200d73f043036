"""Indexes for every filter of the audit page (action, user), for the dispatch-rate
gauge's read of recent sends, and for the board's "session n of N" count by course:
pages and lists stay flat however long the history.

Revision ID: 0009_ops_indexes
Revises: 0008_scheduler_processes
Create Date: 2026-12-01 13:30:00.000000

"""

from alembic import op

# revision identifiers, used by Alembic.
revision = "0009_ops_indexes"
down_revision = "0008_scheduler_processes"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_audit_events_action_at", "audit_events", ["action", "at"])
    op.create_index("ix_audit_events_actor_at", "audit_events", ["actor_id", "at"])
    op.drop_index("ix_audit_events_actor_id", table_name="audit_events")
    op.create_index("ix_reminders_sent_at", "reminders", ["sent_at"])
    op.create_index("ix_appointments_course_starts", "appointments", ["course_id", "starts_at"])


def downgrade():
    op.drop_index("ix_appointments_course_starts", table_name="appointments")
    op.drop_index("ix_reminders_sent_at", table_name="reminders")
    op.create_index("ix_audit_events_actor_id", "audit_events", ["actor_id"])
    op.drop_index("ix_audit_events_actor_at", table_name="audit_events")
    op.drop_index("ix_audit_events_action_at", table_name="audit_events")
