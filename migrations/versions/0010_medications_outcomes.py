"""Outcomes as clinics measure them, and current medications apart from the trial history.

- questionnaire_responses.administered_at: when the patient answered (a paper form keeps
  its day); existing rows were administered when they were entered.
- appointments.delivered_at: when the treatment log said the session was delivered, so a
  questionnaire answered at check-in still precedes it; filled from the logs.
- medications: what the patient takes now, for the motor-threshold rule and the MME and
  diazepam-equivalent load. Trials still running (no stop date, or one from today on) are
  copied in as current medications; the trials themselves stay the payer's history.
- screenings.repeat_requested_at / repeat_reason: a current medication changed.

Revision ID: 0010_medications_outcomes
Revises: 0009_ops_indexes
Create Date: 2026-12-01 13:30:00.000000

"""

import re
from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

import clinic.db

# revision identifiers, used by Alembic.
revision = "0010_medications_outcomes"
down_revision = "0009_ops_indexes"
branch_labels = None
depends_on = None

CATEGORIES = ("opioid", "benzodiazepine", "antidepressant", "other")
# What a trial's free-text class or drug name says about its category (lower case).
OPIOID_WORDS = (
    "opioid", "codeine", "tapentadol", "hydrocodone", "hydromorphone", "methadone", "morphine",
    "oxycodone", "oxymorphone", "tramadol", "fentanyl", "buprenorphine",
)  # fmt: skip
BENZODIAZEPINE_WORDS = (
    "benzodiazepine", "alprazolam", "clonazepam", "diazepam", "lorazepam", "chlordiazepoxide",
    "clorazepate", "oxazepam", "temazepam", "triazolam",
)  # fmt: skip
ANTIDEPRESSANT_WORDS = (
    "antidepressant", "ssri", "snri", "tca", "maoi", "bupropion", "mirtazapine", "trazodone",
    "vortioxetine", "vilazodone",
)  # fmt: skip
DOSE_MG = re.compile(r"(\d+(?:\.\d+)?)\s*mg", re.IGNORECASE)
DOSES_PER_DAY = {"daily": 1.0, "once": 1.0, "qd": 1.0, "bid": 2.0, "twice": 2.0, "tid": 3.0}


def _category(drug: str, drug_class: str | None) -> str:
    words = f"{drug} {drug_class or ''}".lower()
    for category, names in (
        ("opioid", OPIOID_WORDS),
        ("benzodiazepine", BENZODIAZEPINE_WORDS),
        ("antidepressant", ANTIDEPRESSANT_WORDS),
    ):
        if any(name in words for name in names):
            return category
    return "other"


def _dose(dose: str | None) -> tuple[float | None, float | None]:
    """ "150 mg daily" -> (150, 1); what cannot be read stays empty for staff to complete."""
    if not dose:
        return None, None
    found = DOSE_MG.search(dose)
    per_day = next((n for word, n in DOSES_PER_DAY.items() if word in dose.lower()), None)
    return (float(found.group(1)) if found else None), per_day


def upgrade():
    with op.batch_alter_table("questionnaire_responses", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("administered_at", clinic.db.UTCDateTime(timezone=True), nullable=True)
        )
    op.execute("UPDATE questionnaire_responses SET administered_at = answered_at")
    with op.batch_alter_table("questionnaire_responses", schema=None) as batch_op:
        batch_op.alter_column(
            "administered_at", existing_type=clinic.db.UTCDateTime(timezone=True), nullable=False
        )
        batch_op.drop_index("ix_questionnaire_responses_course_instrument")
        batch_op.create_index(
            "ix_questionnaire_responses_course_instrument",
            ["course_id", "instrument", "administered_at"],
            unique=False,
        )

    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("delivered_at", clinic.db.UTCDateTime(timezone=True), nullable=True)
        )
    op.execute(
        "UPDATE appointments SET delivered_at = COALESCE("
        "(SELECT MIN(treatment_logs.logged_at) FROM treatment_logs "
        "WHERE treatment_logs.appointment_id = appointments.id), ends_at) "
        "WHERE status = 'completed'"
    )

    with op.batch_alter_table("screenings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("repeat_requested_at", clinic.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("repeat_reason", sa.String(length=200), nullable=True))

    medications = op.create_table(
        "medications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("drug", sa.String(length=120), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("dose_mg", sa.Float(), nullable=True),
        sa.Column("doses_per_day", sa.Float(), nullable=True),
        sa.Column("dose_mcg_per_hour", sa.Float(), nullable=True),
        sa.Column("started_on", sa.Date(), nullable=True),
        sa.Column("stopped_on", sa.Date(), nullable=True),
        sa.Column("created_at", clinic.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", clinic.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "category IN ('opioid', 'benzodiazepine', 'antidepressant', 'other')",
            name=op.f("ck_medications_category"),
        ),
        sa.CheckConstraint(
            "dose_mg IS NULL OR dose_mg >= 0", name=op.f("ck_medications_dose_nonnegative")
        ),
        sa.CheckConstraint(
            "doses_per_day IS NULL OR doses_per_day >= 0",
            name=op.f("ck_medications_doses_per_day_nonnegative"),
        ),
        sa.CheckConstraint(
            "stopped_on IS NULL OR started_on IS NULL OR stopped_on >= started_on",
            name=op.f("ck_medications_stopped_after_started"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"],
            ["patients.id"],
            name=op.f("fk_medications_patient_id_patients"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_medications")),
    )
    with op.batch_alter_table("medications", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_medications_patient_id"), ["patient_id"], unique=False)
    _copy_running_trials(medications)


def _copy_running_trials(medications: sa.Table) -> None:
    """Trials with no stop date (or one not yet past) are what the patient takes now."""
    connection = op.get_bind()
    trial = sa.table(
        "medication_trials",
        sa.column("id", sa.Integer()),
        sa.column("patient_id", sa.Integer()),
        sa.column("drug", sa.String()),
        sa.column("drug_class", sa.String()),
        sa.column("dose", sa.String()),
        sa.column("start_date", sa.Date()),
        sa.column("stop_date", sa.Date()),
    )
    trials = connection.execute(
        sa.select(
            trial.c.patient_id,
            trial.c.drug,
            trial.c.drug_class,
            trial.c.dose,
            trial.c.start_date,
            trial.c.stop_date,
        )
        .where(sa.or_(trial.c.stop_date.is_(None), trial.c.stop_date >= date.today()))
        .order_by(trial.c.id)
    ).all()
    now = datetime.now(UTC)
    rows = []
    for patient_id, drug, drug_class, dose, start_date, stop_date in trials:
        dose_mg, per_day = _dose(dose)
        rows.append(
            {
                "patient_id": patient_id,
                "drug": drug,
                "category": _category(drug, drug_class),
                "dose_mg": dose_mg,
                "doses_per_day": per_day,
                "started_on": start_date,
                "stopped_on": stop_date,
                "created_at": now,
                "updated_at": now,
            }
        )
    if rows:
        op.bulk_insert(medications, rows)


def downgrade():
    with op.batch_alter_table("medications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_medications_patient_id"))
    op.drop_table("medications")
    with op.batch_alter_table("screenings", schema=None) as batch_op:
        batch_op.drop_column("repeat_reason")
        batch_op.drop_column("repeat_requested_at")
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_column("delivered_at")
    with op.batch_alter_table("questionnaire_responses", schema=None) as batch_op:
        batch_op.drop_index("ix_questionnaire_responses_course_instrument")
        batch_op.create_index(
            "ix_questionnaire_responses_course_instrument",
            ["course_id", "instrument", "answered_at"],
            unique=False,
        )
        batch_op.drop_column("administered_at")
