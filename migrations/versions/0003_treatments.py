"""Treatment sessions: motor thresholds, re-check requests, treatment logs, amendments.

One log per appointment is a unique key (two technicians submitting at once cannot both
succeed); an incomplete log without a stop reason and a reviewed-but-unsigned log are
refused by check constraints.

Revision ID: 0003_treatments
Revises: 0002_courses
Create Date: 2026-11-22 03:06:58.745903

"""

import sqlalchemy as sa
from alembic import op

import clinic.db

# revision identifiers, used by Alembic.
revision = "0003_treatments"
down_revision = "0002_courses"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "motor_threshold_rechecks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("requested_at", clinic.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_motor_threshold_rechecks_course_id_courses"),
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["users.id"],
            name=op.f("fk_motor_threshold_rechecks_requested_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_motor_threshold_rechecks")),
    )
    with op.batch_alter_table("motor_threshold_rechecks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_motor_threshold_rechecks_course_id"), ["course_id"], unique=False
        )

    op.create_table(
        "motor_thresholds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("value_pct", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("coil_location", sa.String(length=200), nullable=True),
        sa.Column("measured_at", clinic.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("measured_by_id", sa.Integer(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("created_at", clinic.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("method IN ('visual', 'emg')", name=op.f("ck_motor_thresholds_method")),
        sa.CheckConstraint(
            "value_pct BETWEEN 1 AND 100", name=op.f("ck_motor_thresholds_value_range")
        ),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name=op.f("fk_motor_thresholds_course_id_courses")
        ),
        sa.ForeignKeyConstraint(
            ["measured_by_id"], ["users.id"], name=op.f("fk_motor_thresholds_measured_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_motor_thresholds_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_motor_thresholds")),
    )
    with op.batch_alter_table("motor_thresholds", schema=None) as batch_op:
        batch_op.create_index(
            "ix_motor_thresholds_course_measured", ["course_id", "measured_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_motor_thresholds_patient_id"), ["patient_id"], unique=False
        )

    op.create_table(
        "treatment_logs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("appointment_id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("motor_threshold_id", sa.Integer(), nullable=True),
        sa.Column("motor_threshold_pct", sa.Integer(), nullable=True),
        sa.Column("intensity_pct_mt", sa.Integer(), nullable=False),
        sa.Column("dose_pct_output", sa.Float(), nullable=True),
        sa.Column("pulses_delivered", sa.Integer(), nullable=False),
        sa.Column("completed", sa.Boolean(), nullable=False),
        sa.Column("stop_reason", sa.Text(), nullable=True),
        sa.Column("coil_location", sa.String(length=200), nullable=True),
        sa.Column("side_effects", sa.JSON(), nullable=False),
        sa.Column("comfort_score", sa.Integer(), nullable=True),
        sa.Column("adverse_event_type", sa.String(length=20), nullable=True),
        sa.Column("adverse_event_severity", sa.String(length=20), nullable=True),
        sa.Column("adverse_event_description", sa.Text(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("logged_at", clinic.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("logged_by_id", sa.Integer(), nullable=True),
        sa.Column("signed_at", clinic.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("signed_by_id", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", clinic.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "comfort_score IS NULL OR comfort_score BETWEEN 0 AND 10",
            name=op.f("ck_treatment_logs_comfort_range"),
        ),
        sa.CheckConstraint(
            "completed OR stop_reason IS NOT NULL",
            name=op.f("ck_treatment_logs_incomplete_has_reason"),
        ),
        sa.CheckConstraint(
            "intensity_pct_mt > 0", name=op.f("ck_treatment_logs_intensity_positive")
        ),
        sa.CheckConstraint(
            "pulses_delivered >= 0", name=op.f("ck_treatment_logs_pulses_nonnegative")
        ),
        sa.CheckConstraint(
            "reviewed_at IS NULL OR signed_at IS NOT NULL",
            name=op.f("ck_treatment_logs_reviewed_after_signed"),
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_treatment_logs_appointment_id_appointments"),
        ),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name=op.f("fk_treatment_logs_course_id_courses")
        ),
        sa.ForeignKeyConstraint(
            ["logged_by_id"], ["users.id"], name=op.f("fk_treatment_logs_logged_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["motor_threshold_id"],
            ["motor_thresholds.id"],
            name=op.f("fk_treatment_logs_motor_threshold_id_motor_thresholds"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_treatment_logs_patient_id_patients")
        ),
        sa.ForeignKeyConstraint(
            ["reviewed_by_id"], ["users.id"], name=op.f("fk_treatment_logs_reviewed_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["signed_by_id"], ["users.id"], name=op.f("fk_treatment_logs_signed_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_treatment_logs")),
        sa.UniqueConstraint("appointment_id", name=op.f("uq_treatment_logs_appointment_id")),
    )
    with op.batch_alter_table("treatment_logs", schema=None) as batch_op:
        batch_op.create_index("ix_treatment_logs_course_id", ["course_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_treatment_logs_patient_id"), ["patient_id"], unique=False
        )
        batch_op.create_index(
            "ix_treatment_logs_review", ["reviewed_at", "signed_at"], unique=False
        )

    op.create_table(
        "treatment_amendments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("treatment_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=False),
        sa.Column("old_value", sa.JSON(), nullable=True),
        sa.Column("new_value", sa.JSON(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", clinic.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_treatment_amendments_actor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["treatment_id"],
            ["treatment_logs.id"],
            name=op.f("fk_treatment_amendments_treatment_id_treatment_logs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_treatment_amendments")),
    )
    with op.batch_alter_table("treatment_amendments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_treatment_amendments_treatment_id"), ["treatment_id"], unique=False
        )


def downgrade():
    with op.batch_alter_table("treatment_amendments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_treatment_amendments_treatment_id"))

    op.drop_table("treatment_amendments")
    with op.batch_alter_table("treatment_logs", schema=None) as batch_op:
        batch_op.drop_index("ix_treatment_logs_review")
        batch_op.drop_index(batch_op.f("ix_treatment_logs_patient_id"))
        batch_op.drop_index("ix_treatment_logs_course_id")

    op.drop_table("treatment_logs")
    with op.batch_alter_table("motor_thresholds", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_motor_thresholds_patient_id"))
        batch_op.drop_index("ix_motor_thresholds_course_measured")

    op.drop_table("motor_thresholds")
    with op.batch_alter_table("motor_threshold_rechecks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_motor_threshold_rechecks_course_id"))

    op.drop_table("motor_threshold_rechecks")
