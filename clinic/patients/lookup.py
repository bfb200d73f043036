"""How patient data is found: by id (an impossible id is simply not found) and, for
staff, as an audited read of the record. Every patient module loads through here."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import selectinload

from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.errors import NotFound
from clinic.extensions import db
from clinic.patients.models import Patient, Screening

MAX_DATABASE_ID = 2**31 - 1  # PostgreSQL INTEGER: a bigger id can only be "not found"


def load(model: type[Any], entity_id: Any, what: str, *options: Any) -> Any:
    """Load by id or raise NotFound; an id no database can hold is simply not found."""
    if isinstance(entity_id, bool) or not isinstance(entity_id, int):
        raise NotFound(f"No such {what}.")
    found = (
        db.session.get(model, entity_id, options=options)
        if 0 < entity_id <= MAX_DATABASE_ID
        else None
    )
    if found is None:
        raise NotFound(f"No {what} with id {entity_id}.")
    return found


def get_patient(patient: Patient | int) -> Patient:
    """The patient (an id is loaded; NotFound when missing). Does not audit a read."""
    return patient if isinstance(patient, Patient) else load(Patient, patient, "patient")


CHART_OPTIONS = (
    selectinload(Patient.diagnoses),
    selectinload(Patient.medication_trials),
    selectinload(Patient.medications),
    selectinload(Patient.authorizations),
    selectinload(Patient.screenings).joinedload(Screening.created_by),
    selectinload(Patient.screenings).joinedload(Screening.signed_off_by),
)


def view_patient(
    patient_id: int, *, actor_id: int | None, section: str = "record", whole_record: bool = True
) -> Patient:
    """Load a patient to show to `actor_id` and audit the read as `view` of `section`: every
    page or answer that shows a patient's record to staff reads it through here.
    `whole_record` also loads what the chart lists (diagnoses, trials, screenings...)."""
    options = CHART_OPTIONS if whole_record else ()
    patient = load(Patient, patient_id, "patient", *options)
    record(actor_id, AuditAction.VIEW, "patient", patient.id, detail={"section": section})
    return patient
