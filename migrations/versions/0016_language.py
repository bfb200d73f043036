"""Patients have a language (en, es): links, questionnaire pages and messages use it.

Revision ID: 0016_language
Revises: 0015_sites
Create Date: 2026-12-01 13:30:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0016_language"
down_revision = "0015_sites"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("language", sa.String(length=5), server_default="en", nullable=False)
        )
        batch_op.create_check_constraint(op.f("ck_patients_language"), "language IN ('en', 'es')")


def downgrade():
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_patients_language"), type_="check")
        batch_op.drop_column("language")
