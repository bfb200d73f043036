"""Demo patients: a varied small clinic through the intake services, or thousands by bulk
insert for benchmarks. Every created id ends up in `ctx.patient_ids` for later steps."""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, select

from clinic import clock
from clinic.extensions import db
from clinic.patients import icd10
from clinic.patients.intake import create_patient, new_mrn
from clinic.patients.medications import add_medication
from clinic.patients.models import ConsentEvent, Diagnosis, Patient, Screening
from clinic.patients.records import add_authorization, add_medication_trial
from clinic.patients.screening import SCREENING_ITEMS, record_screening, score

if TYPE_CHECKING:
    from clinic.demo.context import DemoContext

FIRST_NAMES = (
    "Jamie", "Alex", "Morgan", "Taylor", "Jordan", "Casey", "Riley", "Avery", "Quinn", "Drew",
    "Maria", "José", "Aisha", "Wei", "Priya", "Olga", "Kofi", "Zoë", "Liam", "Noor",
)  # fmt: skip
LAST_NAMES = (
    "Rivera", "Chen", "Okafor", "Novak", "Patel", "García", "Johnson", "Kim", "Müller", "Haddad",
    "O'Brien", "Nguyen", "Silva", "Kowalski", "Andersen", "Tanaka", "Mensah", "Rossi",
)  # fmt: skip
DIAGNOSIS_SETS = (
    ["F33.1"],
    ["F33.2"],
    ["F32.2"],
    ["F33.1", "G89.29"],
    ["F33.2", "M79.7"],
    ["F32.1", "M54.50"],
    ["F33.1", "G43.709"],
    ["F33.2", "G89.4", "M54.2"],
    ["G89.29", "M79.7"],
)
TRIALS = (
    ("Sertraline", "SSRI", "150 mg daily", "no response"),
    ("Escitalopram", "SSRI", "20 mg daily", "side effects"),
    ("Venlafaxine", "SNRI", "225 mg daily", "partial response"),
    ("Duloxetine", "SNRI", "60 mg daily", "no response"),
    ("Bupropion", "NDRI", "300 mg daily", "anxiety"),
    ("Aripiprazole", "augmentation", "5 mg daily", "akathisia"),
)
PAYERS = ("Blue Cross", "Aetna", "UnitedHealthcare", "Cigna", "Medicare")
PAIN_SITES = ("lower back", "neck and shoulders", "widespread", "head", "feet (neuropathy)")
BATCH = 1000


def load_patients(ctx: DemoContext) -> None:
    if ctx.large:
        ctx.patient_ids.extend(_bulk_patients(ctx))
    else:
        ctx.patient_ids.extend(_small_clinic(ctx))
    ctx.lines.append(f"Patients: {len(ctx.patient_ids)}")


def _person(ctx: DemoContext, index: int) -> dict[str, Any]:
    """One plausible patient's intake values (contact details in the fictional 555 range)."""
    rng = ctx.rng
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    diagnoses = rng.choice(DIAGNOSIS_SETS)
    has_pain = any(code[0] in "GM" for code in diagnoses)
    channel = rng.choice(("sms", "sms", "email", "none"))
    ascii_name = f"{first}.{last}".lower().encode("ascii", "ignore").decode().replace("'", "")
    return {
        "first_name": first,
        "last_name": last,
        "date_of_birth": date(1945, 1, 1) + timedelta(days=rng.randrange(0, 365 * 58)),
        "sex": rng.choice(("female", "female", "male", "male", "other", None)),
        "email": f"{ascii_name}{index}@example.org",
        "phone": f"+1{rng.choice(('212', '646', '718', '917'))}5550{rng.randrange(100, 200)}",
        "preferred_channel": channel,
        "sms_consent": channel == "sms",
        "email_consent": channel == "email" or rng.random() < 0.3,
        "timezone": rng.choice((None, None, None, "America/Chicago", "America/Los_Angeles")),
        "language": "es" if index % 8 == 3 else "en",  # one in eight speaks Spanish
        "diagnoses": diagnoses,
        "referring_provider": rng.choice(("Dr. Lee", "Dr. Osei", "Dr. Brandt", None)),
        "pain_sites": rng.choice(PAIN_SITES) if has_pain else None,
        "pain_duration_months": rng.randrange(6, 120) if has_pain else None,
    }


# What patients take when they arrive (drug, category, mg per dose, doses a day).
CURRENT_MEDICATIONS = (
    ("oxycodone", "opioid", 5.0, 3.0),
    ("tramadol", "opioid", 50.0, 2.0),
    ("hydrocodone", "opioid", 10.0, 2.0),
    ("clonazepam", "benzodiazepine", 0.5, 2.0),
    ("lorazepam", "benzodiazepine", 1.0, 1.0),
    ("sertraline", "antidepressant", 100.0, 1.0),
    ("duloxetine", "antidepressant", 60.0, 1.0),
    ("gabapentin", "other", 300.0, 3.0),
)


def _small_clinic(ctx: DemoContext) -> list[int]:
    """About 30 patients through the real services: audited, with consent history."""
    desk = ctx.users.get("front_desk")
    doctor = ctx.users.get("clinician")
    desk_id = desk.id if desk else None
    ids = []
    for index in range(ctx.patients):
        # Random names make true namesakes now and then, as in life.
        patient = create_patient(_person(ctx, index), actor_id=desk_id, allow_duplicate=True)
        for drug, drug_class, dose, reason in ctx.rng.sample(TRIALS, ctx.rng.randrange(0, 4)):
            start = clock.today() - timedelta(days=ctx.rng.randrange(120, 1500))
            weeks = ctx.rng.randrange(6, 16)
            add_medication_trial(
                patient,
                {
                    "drug": drug,
                    "drug_class": drug_class,
                    "dose": dose,
                    "start_date": start,
                    "stop_date": start + timedelta(weeks=weeks + 2),
                    "weeks_at_dose": weeks,
                    "reason_stopped": reason,
                },
                actor_id=doctor.id if doctor else None,
            )
        if ctx.rng.random() < 0.5:
            drug, category, dose_mg, per_day = ctx.rng.choice(CURRENT_MEDICATIONS)
            add_medication(
                patient,
                {
                    "drug": drug,
                    "category": category,
                    "dose_mg": dose_mg,
                    "doses_per_day": per_day,
                    "started_on": clock.today() - timedelta(days=ctx.rng.randrange(60, 900)),
                },
                actor_id=doctor.id if doctor else None,
            )
        if index % 3 == 0:
            add_authorization(
                patient,
                {
                    "payer": ctx.rng.choice(PAYERS),
                    "member_id": f"M{ctx.rng.randrange(10**6, 10**7)}",
                    "number": f"PA-{ctx.rng.randrange(10**5, 10**6)}",
                    "sessions_authorized": 36,
                    "valid_from": clock.today() - timedelta(days=10),
                    "valid_to": clock.today() + timedelta(days=120),
                },
                actor_id=desk_id,
            )
        # Mostly clear; one needing review, one contraindicated, the last few unscreened.
        yes = {1: ("seizure_history",), 2: ("cochlear_implant",)}.get(index, ())
        if index < ctx.patients - 3:
            record_screening(
                patient,
                {item.code: item.code in yes for item in SCREENING_ITEMS},
                "Demo screening.",
                actor_id=desk_id,
            )
        ids.append(patient.id)
    return ids


def _bulk_patients(ctx: DemoContext) -> list[int]:
    """Thousands of patients in a few seconds: multi-row INSERTs, no per-object ORM work."""
    taken = set(db.session.scalars(select(Patient.mrn)))
    now = clock.now()
    start = now - timedelta(days=365 * ctx.years)
    ids: list[int] = []
    for offset in range(0, ctx.patients, BATCH):
        people = [_person(ctx, index) for index in range(offset, min(offset + BATCH, ctx.patients))]
        rows = []
        for person in people:
            mrn = new_mrn()
            while mrn in taken:
                mrn = new_mrn()
            taken.add(mrn)
            created = start + timedelta(
                seconds=ctx.rng.randrange(int((now - start).total_seconds()))
            )
            row = {key: value for key, value in person.items() if key != "diagnoses"}
            row.update(
                mrn=mrn,
                created_at=created,
                updated_at=created,
                sms_consent_at=created if person["sms_consent"] else None,
                email_consent_at=created if person["email_consent"] else None,
            )
            rows.append(row)
        batch_ids = list(
            db.session.scalars(
                insert(Patient).returning(Patient.id, sort_by_parameter_order=True), rows
            )
        )
        _bulk_children(ctx, people, rows, batch_ids)
        ids.extend(batch_ids)
    return ids


def _bulk_children(
    ctx: DemoContext, people: list[dict[str, Any]], rows: list[dict[str, Any]], ids: list[int]
) -> None:
    """Diagnoses, consent history and a first screening for a batch of new patients."""
    diagnoses, consents, screenings = [], [], []
    for person, row, patient_id in zip(people, rows, ids, strict=True):
        diagnoses += [
            {"patient_id": patient_id, "code": code, "description": icd10.describe(code)}
            for code in person["diagnoses"]
        ]
        consents += [
            {"patient_id": patient_id, "channel": channel, "granted": True, "at": row["created_at"],
             "source": "import"}
            for channel in ("sms", "email")
            if person[f"{channel}_consent"]
        ]  # fmt: skip
        roll = ctx.rng.random()
        yes = ("cochlear_implant",) if roll < 0.01 else ("seizure_history",) if roll < 0.03 else ()
        answers = {item.code: item.code in yes for item in SCREENING_ITEMS}
        result, positive = score(answers)
        screened_at = row["created_at"] + timedelta(days=ctx.rng.randrange(1, 10))
        screenings.append(
            {
                "patient_id": patient_id,
                "version": 1,
                "answers": answers,
                "result": result,
                "positive_items": positive,
                "created_at": screened_at,
                "signed_off_at": screened_at if result == "review" else None,
                "sign_off_note": "Reviewed; benefits outweigh risk."
                if result == "review"
                else None,
            }
        )
    for model, values in (
        (Diagnosis, diagnoses),
        (ConsentEvent, consents),
        (Screening, screenings),
    ):
        if values:
            db.session.execute(insert(model), values)
