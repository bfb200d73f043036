"""Safety and supervision: the ASQ screen on a suicidal-ideation alert and the patient's
flag it raises; the supervising physician, session number and session dose on each
treatment log; a course's dose titration; the coil target as data.

Revision ID: 0013_safety_supervision
Revises: 0012_course_kinds_technicians
Create Date: 2026-12-01 13:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

import clinic.db

# revision identifiers, used by Alembic.
revision = "0013_safety_supervision"
down_revision = "0012_course_kinds_technicians"
branch_labels = None
depends_on = None

RISK_RESULTS = "'negative', 'non_acute_positive', 'acute_positive'"
COIL_METHODS = "'beam_f3', '5_5cm_rule', 'neuronavigation', 'other'"


def upgrade():
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("risk_result", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("risk_screen", sa.JSON(), nullable=True))
        batch.add_column(
            sa.Column("flag_cleared_at", clinic.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("flag_cleared_by_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("flag_clear_note", sa.Text(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_alerts_flag_cleared_by_id_users"), "users", ["flag_cleared_by_id"], ["id"]
        )
        batch.create_check_constraint(
            op.f("ck_alerts_risk_result"), f"risk_result IN ({RISK_RESULTS})"
        )
    with op.batch_alter_table("courses") as batch:
        batch.add_column(sa.Column("titration", sa.JSON(), nullable=True))
    with op.batch_alter_table("treatment_logs") as batch:
        batch.add_column(sa.Column("supervisor_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("session_number", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("prescribed_pct_mt", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_treatment_logs_supervisor_id_users"), "users", ["supervisor_id"], ["id"]
        )
    op.create_table(
        "coil_targets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("measurements", sa.JSON(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("set_at", clinic.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("set_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(f"method IN ({COIL_METHODS})", name=op.f("ck_coil_targets_method")),
        sa.ForeignKeyConstraint(
            ["course_id"], ["courses.id"], name=op.f("fk_coil_targets_course_id_courses")
        ),
        sa.ForeignKeyConstraint(
            ["set_by_id"], ["users.id"], name=op.f("fk_coil_targets_set_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_coil_targets")),
        sa.UniqueConstraint("course_id", name=op.f("uq_coil_targets_course_id")),
    )


def downgrade():
    op.drop_table("coil_targets")
    with op.batch_alter_table("treatment_logs") as batch:
        batch.drop_constraint(op.f("fk_treatment_logs_supervisor_id_users"), type_="foreignkey")
        batch.drop_column("prescribed_pct_mt")
        batch.drop_column("session_number")
        batch.drop_column("supervisor_id")
    with op.batch_alter_table("courses") as batch:
        batch.drop_column("titration")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_constraint(op.f("ck_alerts_risk_result"), type_="check")
        batch.drop_constraint(op.f("fk_alerts_flag_cleared_by_id_users"), type_="foreignkey")
        batch.drop_column("flag_clear_note")
        batch.drop_column("flag_cleared_by_id")
        batch.drop_column("flag_cleared_at")
        batch.drop_column("risk_screen")
        batch.drop_column("risk_result")
