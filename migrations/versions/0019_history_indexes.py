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


def upgrade():
    op.create_index("ix_reminders_due", "reminders", ["due_at", "id"])
    op.create_index(
        "ix_appointments_technician_starts", "appointments", ["technician_id", "starts_at"]
    )
    # Led by the technician, the new index serves every look-up the old one did.
    op.drop_index("ix_appointments_technician_id", table_name="appointments")
    op.create_index("ix_treatment_logs_logged_at", "treatment_logs", ["logged_at"])
    op.create_index("ix_courses_authorization_id", "courses", ["authorization_id"])
    op.create_index(
        "ix_questionnaire_assignments_link_id", "questionnaire_assignments", ["link_id"]
    )
    op.create_index("ix_patients_phone", "patients", ["phone"])
    op.create_index("ix_courses_status", "courses", ["status"])
    op.create_index("ix_authorizations_status_created", "authorizations", ["status", "created_at"])
    op.create_index("ix_authorizations_valid_to", "authorizations", ["valid_to"])
    op.create_index(
        "ix_screenings_awaiting", "screenings", ["result", "signed_off_at", "created_at"]
    )
    op.create_index("ix_courses_previous_course_id", "courses", ["previous_course_id"])
    op.create_index(
        "ix_questionnaire_responses_answered_at", "questionnaire_responses", ["answered_at"]
    )
    op.create_index("ix_treatment_logs_signed_at", "treatment_logs", ["signed_at"])
    # The term is alerts.models.FLAGGED, written out: a migration keeps its own text.
    flagged = (
        "kind = 'suicidal_ideation' AND flag_cleared_at IS NULL"
        " AND risk_result IN ('non_acute_positive', 'acute_positive')"
    )
    op.create_index(
        "ix_alerts_flagged",
        "alerts",
        ["created_at"],
        postgresql_where=sa.text(flagged),
        sqlite_where=sa.text(flagged),
    )


def downgrade():
    op.drop_index("ix_alerts_flagged", table_name="alerts")
    op.drop_index("ix_treatment_logs_signed_at", table_name="treatment_logs")
    op.drop_index("ix_questionnaire_responses_answered_at", table_name="questionnaire_responses")
    op.drop_index("ix_courses_previous_course_id", table_name="courses")
    op.drop_index("ix_screenings_awaiting", table_name="screenings")
    op.drop_index("ix_authorizations_valid_to", table_name="authorizations")
    op.drop_index("ix_authorizations_status_created", table_name="authorizations")
    op.drop_index("ix_courses_status", table_name="courses")
    op.drop_index("ix_patients_phone", table_name="patients")
    op.drop_index("ix_questionnaire_assignments_link_id", table_name="questionnaire_assignments")
    op.drop_index("ix_courses_authorization_id", table_name="courses")
    op.drop_index("ix_treatment_logs_logged_at", table_name="treatment_logs")
    op.create_index("ix_appointments_technician_id", "appointments", ["technician_id"])
    op.drop_index("ix_appointments_technician_starts", table_name="appointments")
    op.drop_index("ix_reminders_due", table_name="reminders")
