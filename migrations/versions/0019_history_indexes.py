"""Indexes for the reads that went through a table's whole history: the front desk's
reminders of a day, a technician's overlapping session at check-in and their calendar
feed, the log form's physician on duty, an authorization's meter, a submitted
questionnaire link's assignments, an SMS opt-out's patients, the inbox's active courses
and screenings awaiting sign-off, the billing worklist, the alerts that still flag a
patient, the logs still to sign, the outcomes export's range of answers, and a course's
follow-up. Each table grows with every session the clinic gives; the pages and actions
that read them now stay flat.

Revision ID: 0019_history_indexes
Revises: 0018_course_outcomes
Create Date: 2026-12-02 14:45:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0019_history_indexes"
down_revision = "0018_course_outcomes"
branch_labels = None
depends_on = None


# Created in this order, dropped in the reverse.
INDEXES = [
    ("ix_reminders_due", "reminders", ["due_at", "id"]),
    ("ix_appointments_technician_starts", "appointments", ["technician_id", "starts_at"]),
    ("ix_treatment_logs_logged_at", "treatment_logs", ["logged_at"]),
    ("ix_courses_authorization_id", "courses", ["authorization_id"]),
    ("ix_questionnaire_assignments_link_id", "questionnaire_assignments", ["link_id"]),
    ("ix_patients_phone", "patients", ["phone"]),
    ("ix_courses_status", "courses", ["status"]),
    ("ix_authorizations_status_created", "authorizations", ["status", "created_at"]),
    ("ix_authorizations_valid_to", "authorizations", ["valid_to"]),
    ("ix_screenings_awaiting", "screenings", ["result", "signed_off_at", "created_at"]),
    ("ix_courses_previous_course_id", "courses", ["previous_course_id"]),
    ("ix_questionnaire_responses_answered_at", "questionnaire_responses", ["answered_at"]),
    ("ix_treatment_logs_signed_at", "treatment_logs", ["signed_at"]),
]
# The term is alerts.models.FLAGGED, written out: a migration keeps its own text.
FLAGGED = (
    "kind = 'suicidal_ideation' AND flag_cleared_at IS NULL"
    " AND risk_result IN ('non_acute_positive', 'acute_positive')"
)


def upgrade():
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)
    # Led by the technician, the new index serves every look-up the old one did.
    op.drop_index("ix_appointments_technician_id", table_name="appointments")
    op.create_index(
        "ix_alerts_flagged",
        "alerts",
        ["created_at"],
        postgresql_where=sa.text(FLAGGED),
        sqlite_where=sa.text(FLAGGED),
    )


def downgrade():
    op.drop_index("ix_alerts_flagged", table_name="alerts")
    op.create_index("ix_appointments_technician_id", "appointments", ["technician_id"])
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
