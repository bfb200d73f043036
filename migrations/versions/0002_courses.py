"""Courses: the reason a prescription exceeds its protocol's intensity.

Revision ID: 0002_courses
Revises: 0001_initial
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_courses"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("courses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pct_mt_reason", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("courses", schema=None) as batch_op:
        batch_op.drop_column("pct_mt_reason")
