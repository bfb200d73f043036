"""Kept course results: the outcome report adds up one row a course in SQL instead of
judging every course of its range at each request (`clinic.outcomes.results`).

Every course with a delivered session starts stale; the first report (or `flask outcomes
refresh`) judges them.

Revision ID: 0018_course_outcomes
Revises: 0017_outcome_indexes
Create Date: 2026-12-02 06:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

import clinic.db

# revision identifiers, used by Alembic.
revision = "0018_course_outcomes"
down_revision = "0017_outcome_indexes"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "course_outcomes",
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("stale", sa.Boolean(), nullable=False),
        sa.Column("basis", sa.String(length=16), nullable=True),
        sa.Column("first_delivered_at", clinic.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("quarter", sa.String(length=7), nullable=True),
        sa.Column("mood_response", sa.Boolean(), nullable=True),
        sa.Column("mood_remission", sa.Boolean(), nullable=True),
        sa.Column("pain_baseline", sa.Float(), nullable=True),
        sa.Column("pain_band", sa.String(length=20), nullable=True),
        sa.Column("pain_improvement", sa.String(length=20), nullable=True),
        sa.Column("sleep_baseline_tenths", sa.Integer(), nullable=True),
        sa.Column("sleep_end_tenths", sa.Integer(), nullable=True),
        sa.Column("opioid_start_tenths", sa.Integer(), nullable=False),
        sa.Column("opioid_end_tenths", sa.Integer(), nullable=False),
        sa.Column("benzodiazepine_start_tenths", sa.Integer(), nullable=False),
        sa.Column("benzodiazepine_end_tenths", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["courses.id"],
            name=op.f("fk_course_outcomes_course_id_courses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("course_id", name=op.f("pk_course_outcomes")),
    )
    for column in ("stale", "basis", "first_delivered_at"):
        op.create_index(op.f(f"ix_course_outcomes_{column}"), "course_outcomes", [column])
    op.create_table(
        "course_outcome_sites",
        sa.Column("course_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["course_id"],
            ["course_outcomes.course_id"],
            name=op.f("fk_course_outcome_sites_course_id_course_outcomes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["sites.id"],
            name=op.f("fk_course_outcome_sites_site_id_sites"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("course_id", "site_id", name=op.f("pk_course_outcome_sites")),
    )
    op.create_index(op.f("ix_course_outcome_sites_site_id"), "course_outcome_sites", ["site_id"])
    op.execute(
        "INSERT INTO course_outcomes (course_id, stale, opioid_start_tenths, opioid_end_tenths,"
        " benzodiazepine_start_tenths, benzodiazepine_end_tenths)"
        " SELECT DISTINCT course_id, true, 0, 0, 0, 0 FROM appointments"
        " WHERE kind = 'treatment' AND status = 'completed' AND course_id IS NOT NULL"
    )


def downgrade():
    op.drop_table("course_outcome_sites")
    op.drop_table("course_outcomes")
