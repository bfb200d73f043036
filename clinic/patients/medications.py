"""Current medications and the medication load (opioid MME, benzodiazepine diazepam mg).

Apart from the trial history kept for payers (`records.py`): what the patient takes now
moves the seizure threshold, so any change here asks each running course for a new motor
threshold (the `medication_changed` event, answered by treatments) and flags the latest
safety screening for repetition, as DOMAIN.md asks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select

from clinic import clock, events
from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.extensions import db
from clinic.patients import validation
from clinic.patients.equivalents import (
    MME_PER_MCG_PER_HOUR,
    MME_PER_MG,
    diazepam_mg_per_mg,
    generic_name,
)
from clinic.patients.lookup import get_patient, load, view_patient
from clinic.patients.models import Medication, MedicationCategory, Patient, Screening
from clinic.patients.validation import EARLIEST_DATE, a_date, number, text

_TENTH = Decimal("0.1")
REPEAT_REASON = "A current medication changed: repeat the safety screening."

MEDICATION_CHECKS: dict[str, validation.Check] = {
    "drug": text(120, required=True),
    "category": validation.one_of(tuple(MedicationCategory)),
    "dose_mg": number(0, 100_000),
    "doses_per_day": number(0, 48),
    "dose_mcg_per_hour": number(0, 1_000),
    "started_on": a_date(earliest=EARLIEST_DATE, not_future=True),
    "stopped_on": a_date(earliest=EARLIEST_DATE),
}


def _one_decimal(value: Decimal) -> float:
    return float(value.quantize(_TENTH, rounding=ROUND_HALF_UP))


def _daily_mg(medication: Medication) -> Decimal | None:
    if medication.dose_mg is None or medication.doses_per_day is None:
        return None
    return Decimal(str(medication.dose_mg)) * Decimal(str(medication.doses_per_day))


def mme_per_day(medication: Medication) -> float | None:
    """Morphine milligram equivalents a day (CDC 2022): mg/day x factor, or for transdermal
    fentanyl mcg/h x 2.4. None for non-opioids, buprenorphine and drugs not in the table."""
    if medication.category != MedicationCategory.OPIOID:
        return None
    name = generic_name(medication.drug)
    if name in MME_PER_MCG_PER_HOUR:
        if medication.dose_mcg_per_hour is None:
            return None
        rate = Decimal(str(medication.dose_mcg_per_hour))
        return _one_decimal(rate * MME_PER_MCG_PER_HOUR[name])
    daily = _daily_mg(medication)
    factor = MME_PER_MG.get(name)
    return _one_decimal(daily * factor) if daily is not None and factor is not None else None


def diazepam_mg_per_day(medication: Medication) -> float | None:
    """Diazepam-equivalent mg a day (Ashton); None for other categories or unknown drugs."""
    if medication.category != MedicationCategory.BENZODIAZEPINE:
        return None
    daily = _daily_mg(medication)
    factor = diazepam_mg_per_mg(medication.drug)
    return _one_decimal(daily * factor) if daily is not None and factor is not None else None


def taken_on(medication: Medication, day: date) -> bool:
    """Taken that day: started by then (or no start known) and not yet stopped."""
    started = medication.started_on is None or medication.started_on <= day
    return started and (medication.stopped_on is None or medication.stopped_on > day)


@dataclass(frozen=True)
class MedicationLoad:
    day: date
    mme_per_day: float
    benzodiazepine_diazepam_mg_per_day: float
    medications: list[Medication]
    unconverted: list[str]
    """Opioids and benzodiazepines taken that day that no table converts (left out)."""

    def figures(self) -> dict[str, Any]:
        return {
            "on": self.day,
            "mme_per_day": self.mme_per_day,
            "benzodiazepine_diazepam_mg_per_day": self.benzodiazepine_diazepam_mg_per_day,
            "unconverted": self.unconverted,
        }


def load_of(medications: Iterable[Medication], day: date) -> MedicationLoad:
    taken = [m for m in medications if taken_on(m, day)]
    mme = [mme_per_day(m) for m in taken]  # None for all but converted opioids
    benzo = [diazepam_mg_per_day(m) for m in taken]
    unconverted = [
        m.drug
        for m in taken
        if (m.category == MedicationCategory.OPIOID and mme_per_day(m) is None)
        or (m.category == MedicationCategory.BENZODIAZEPINE and diazepam_mg_per_day(m) is None)
    ]
    return MedicationLoad(
        day,
        _one_decimal(sum((Decimal(str(v)) for v in mme if v is not None), Decimal(0))),
        _one_decimal(sum((Decimal(str(v)) for v in benzo if v is not None), Decimal(0))),
        taken,
        unconverted,
    )


def medications_of(patient_id: int) -> list[Medication]:
    """Every current-medication row of the patient (no audit: callers audit their read)."""
    return list(
        db.session.scalars(
            select(Medication).where(Medication.patient_id == patient_id).order_by(Medication.id)
        )
    )


def medication_load(patient_id: int, on: date | None, *, actor_id: int | None) -> MedicationLoad:
    """`/patients/{id}/medication-load`: what the patient took on a day (default today)."""
    patient = view_patient(
        patient_id, actor_id=actor_id, section="medication_load", whole_record=False
    )
    return load_of(medications_of(patient.id), on or clock.today())


def list_medications(patient_id: int, *, actor_id: int | None) -> list[Medication]:
    """The patient's current (and stopped) medications, a read of the record (audited)."""
    return list(view_patient(patient_id, actor_id=actor_id, section="medications").medications)


def get_medication(medication_id: int) -> Medication:
    return load(Medication, medication_id, "medication")


def _clean(values: Mapping[str, Any], current: Medication | None) -> dict[str, Any]:
    cleaned, errors = validation.clean(MEDICATION_CHECKS, values, partial=current is not None)
    if current is None and not cleaned.get("category") and "category" not in errors.fields:
        errors.add("category", validation.REQUIRED)
    if current is not None and "category" in cleaned and cleaned["category"] is None:
        errors.add("category", validation.REQUIRED)
    start, stop = (
        cleaned[name] if name in cleaned else getattr(current, name, None)
        for name in ("started_on", "stopped_on")
    )
    if start and stop and stop < start and "stopped_on" not in errors.fields:
        errors.add("stopped_on", "Must not be before started on.")
    errors.raise_if_any()
    return cleaned


def add_medication(
    patient: Patient | int, values: Mapping[str, Any], *, actor_id: int | None
) -> Medication:
    """A medication the patient takes: a change to current medications (new MT, rescreen)."""
    patient = get_patient(patient)
    medication = Medication(patient_id=patient.id, **_clean(values, None))
    db.session.add(medication)
    db.session.flush()
    record(actor_id, AuditAction.CREATE, "medication", medication.id, patient_id=patient.id)
    _medication_changed(patient, actor_id)
    return medication


def update_medication(
    medication_id: int, changes: Mapping[str, Any], *, actor_id: int | None
) -> Medication:
    """Change a dose, a start or a stop: a change to current medications when it changes
    anything (an edit that changes nothing writes nothing and asks for nothing)."""
    medication = get_medication(medication_id)
    cleaned = _clean(changes, medication)
    changed = [name for name, value in cleaned.items() if getattr(medication, name) != value]
    for name in changed:
        setattr(medication, name, cleaned[name])
    if changed:
        db.session.flush()
        record(
            actor_id,
            AuditAction.UPDATE,
            "medication",
            medication.id,
            patient_id=medication.patient_id,
            detail={"fields": changed},
        )
        _medication_changed(medication.patient, actor_id)
    return medication


def _medication_changed(patient: Patient, actor_id: int | None) -> None:
    """Flag the latest screening for repetition and ask running courses for a new MT."""
    screening = db.session.scalar(
        select(Screening)
        .where(Screening.patient_id == patient.id)
        .order_by(Screening.version.desc())
        .limit(1)
    )
    if screening is not None and screening.repeat_requested_at is None:
        screening.repeat_requested_at = clock.now()
        screening.repeat_reason = REPEAT_REASON
        db.session.flush()
        record(
            actor_id,
            AuditAction.UPDATE,
            "screening",
            screening.id,
            patient_id=patient.id,
            detail={"fields": ["repeat_requested_at"], "reason": REPEAT_REASON},
        )
    events.medication_changed.send(None, patient=patient, actor_id=actor_id)
