"""Reminder attempts: when the current send of an outbox row began, so a row left
`sending` by a crash or a restore can be told from one that was only claimed; and which
dispatcher (host:pid) holds the claim.

Revision ID: 0007_reminder_attempts
Revises: 0006_totp_replay
Create Date: 2026-11-29 09:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

import clinic.db

# revision identifiers, used by Alembic.
revision = "0007_reminder_attempts"
down_revision = "0006_totp_replay"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("attempted_at", clinic.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("claimed_by", sa.String(length=80), nullable=True))


def downgrade():
    with op.batch_alter_table("reminders", schema=None) as batch_op:
        batch_op.drop_column("claimed_by")
        batch_op.drop_column("attempted_at")
