"""TOTP replay: remember the last accepted time step per user so a code works only once.

Revision ID: 0006_totp_replay
Revises: 0005_reminders
Create Date: 2026-11-22 09:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0006_totp_replay"
down_revision = "0005_reminders"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("totp_last_step", sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("totp_last_step")
