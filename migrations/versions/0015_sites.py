"""Sites: a clinic group's sites, each with its time zone, public holidays, hours,
closures and chairs; staff limited to sites; the patients' normalised-name key for the
duplicate check.

An existing single-clinic install becomes one site named by CLINIC_NAME, in
CLINIC_TIMEZONE, with public holidays CLINIC_HOLIDAYS; its chairs, hours and closures
move to that site unchanged.

Revision ID: 0015_sites
Revises: 0014_billing_documents
Create Date: 2026-12-01 13:30:00.000000

"""

import unicodedata

import sqlalchemy as sa
from alembic import op
from flask import current_app

# revision identifiers, used by Alembic.
revision = "0015_sites"
down_revision = "0014_billing_documents"
branch_labels = None
depends_on = None


def _setting(name, default):
    return current_app.config.get(name) or default


def _name_key(first, last):
    return "\x1f".join(unicodedata.normalize("NFC", n).casefold().strip() for n in (first, last))


def _hours_table(with_site):
    columns = [sa.Column("site_id", sa.Integer(), nullable=False)] if with_site else []
    constraints = (
        [
            sa.ForeignKeyConstraint(
                ["site_id"], ["sites.id"], name=op.f("fk_opening_hours_site_id_sites")
            ),
            sa.PrimaryKeyConstraint("site_id", "weekday", name=op.f("pk_opening_hours")),
        ]
        if with_site
        else [sa.PrimaryKeyConstraint("weekday", name=op.f("pk_opening_hours"))]
    )
    op.create_table(
        "opening_hours",
        *columns,
        sa.Column("weekday", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("opens_at", sa.Time(), nullable=False),
        sa.Column("closes_at", sa.Time(), nullable=False),
        sa.CheckConstraint("closes_at > opens_at", name=op.f("ck_opening_hours_ordered")),
        sa.CheckConstraint("weekday BETWEEN 0 AND 6", name=op.f("ck_opening_hours_weekday")),
        *constraints,
    )


def _closures_table(with_site):
    if with_site:
        extra = [
            sa.Column("site_id", sa.Integer(), nullable=False),
            sa.Column("opens", sa.Boolean(), nullable=False),
            sa.ForeignKeyConstraint(
                ["site_id"], ["sites.id"], name=op.f("fk_closures_site_id_sites")
            ),
            sa.UniqueConstraint("site_id", "date", name=op.f("uq_closures_site_id_date")),
        ]
    else:
        extra = [sa.UniqueConstraint("date", name=op.f("uq_closures_date"))]
    op.create_table(
        "closures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_closures")),
        *extra,
    )


def _hours(with_site):
    site = [sa.column("site_id", sa.Integer)] if with_site else []
    return sa.table(
        "opening_hours",
        *site,
        sa.column("weekday", sa.Integer),
        sa.column("opens_at", sa.Time),
        sa.column("closes_at", sa.Time),
    )


def _closures(with_site):
    site = [sa.column("site_id", sa.Integer), sa.column("opens", sa.Boolean)] if with_site else []
    return sa.table(
        "closures",
        sa.column("id", sa.Integer),
        *site,
        sa.column("date", sa.Date),
        sa.column("reason", sa.String),
    )


def _rows(table):
    """Every row, typed (dates and times as Python values on SQLite too)."""
    return [dict(row._mapping) for row in op.get_bind().execute(sa.select(table))]


def upgrade():
    sites = op.create_table(
        "sites",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("holidays", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sites")),
        sa.UniqueConstraint("name", name=op.f("uq_sites_name")),
    )
    op.bulk_insert(
        sites,
        [
            {
                "name": _setting("CLINIC_NAME", "Clinic")[:120],
                "timezone": _setting("CLINIC_TIMEZONE", "America/New_York"),
                "holidays": _setting("CLINIC_HOLIDAYS", "US"),
            }
        ],
    )
    bind = op.get_bind()
    site_id = bind.execute(sa.text("SELECT min(id) FROM sites")).scalar_one()

    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("site_id", sa.Integer(), nullable=True))
    bind.execute(sa.text("UPDATE devices SET site_id = :site"), {"site": site_id})
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.alter_column("site_id", existing_type=sa.Integer(), nullable=False)
        batch_op.create_index("ix_devices_site_id", ["site_id"], unique=False)
        batch_op.create_foreign_key(op.f("fk_devices_site_id_sites"), "sites", ["site_id"], ["id"])

    hours = _rows(_hours(with_site=False))
    op.drop_table("opening_hours")
    _hours_table(with_site=True)
    if hours:
        op.bulk_insert(_hours(with_site=True), [{**row, "site_id": site_id} for row in hours])

    closures = _rows(_closures(with_site=False))
    op.drop_table("closures")
    _closures_table(with_site=True)
    if closures:
        op.bulk_insert(
            _closures(with_site=True),
            [{**row, "site_id": site_id, "opens": False} for row in closures],
        )
        if bind.dialect.name == "postgresql":
            op.execute(
                "SELECT setval(pg_get_serial_sequence('closures', 'id'), "
                "(SELECT max(id) FROM closures))"
            )

    op.create_table(
        "user_sites",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("site_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["site_id"], ["sites.id"], name=op.f("fk_user_sites_site_id_sites")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_sites_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", "site_id", name=op.f("pk_user_sites")),
    )
    op.create_index("ix_user_sites_site_id", "user_sites", ["site_id"], unique=False)

    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_key", sa.String(length=210), nullable=True))
    patients = _rows(
        sa.table(
            "patients",
            sa.column("id", sa.Integer),
            sa.column("first_name", sa.String),
            sa.column("last_name", sa.String),
        )
    )
    if patients:
        bind.execute(
            sa.text("UPDATE patients SET name_key = :key WHERE id = :id"),
            [{"id": p["id"], "key": _name_key(p["first_name"], p["last_name"])} for p in patients],
        )
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.alter_column("name_key", existing_type=sa.String(length=210), nullable=False)
        batch_op.create_index(
            "ix_patients_dob_name_key", ["date_of_birth", "name_key"], unique=False
        )


def downgrade():
    """Back to one clinic: the first site's hours and closures survive, other sites' go."""
    bind = op.get_bind()
    site_id = bind.execute(sa.text("SELECT min(id) FROM sites")).scalar_one()
    with op.batch_alter_table("patients", schema=None) as batch_op:
        batch_op.drop_index("ix_patients_dob_name_key")
        batch_op.drop_column("name_key")
    op.drop_index("ix_user_sites_site_id", table_name="user_sites")
    op.drop_table("user_sites")

    closures = [
        {key: row[key] for key in ("id", "date", "reason")}
        for row in _rows(_closures(with_site=True))
        if row["site_id"] == site_id and not row["opens"]
    ]
    op.drop_table("closures")
    _closures_table(with_site=False)
    if closures:
        op.bulk_insert(_closures(with_site=False), closures)

    hours = [
        {key: row[key] for key in ("weekday", "opens_at", "closes_at")}
        for row in _rows(_hours(with_site=True))
        if row["site_id"] == site_id
    ]
    op.drop_table("opening_hours")
    _hours_table(with_site=False)
    if hours:
        op.bulk_insert(_hours(with_site=False), hours)

    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_devices_site_id_sites"), type_="foreignkey")
        batch_op.drop_index("ix_devices_site_id")
        batch_op.drop_column("site_id")
    op.drop_table("sites")
