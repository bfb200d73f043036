"""The chart's records beside the demographics: the diagnosis list, medication trials and
insurance authorizations. Edits audit the names of the fields they changed.

Medication trials are the history payers ask for (drug, class, dose, weeks, why stopped),
often typed in years after they ended: editing them never asks for a new motor threshold.
What the patient takes now lives in `medications.py`, and a change there does."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from clinic import clock
from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.extensions import db
from clinic.patients import icd10, validation
from clinic.patients.lookup import get_patient, load, view_patient
from clinic.patients.models import (
    Authorization,
    AuthorizationStatus,
    Diagnosis,
    MedicationTrial,
    Patient,
)
from clinic.patients.validation import EARLIEST_DATE, a_date, integer, text

MEDICATION_CHECKS: dict[str, validation.Check] = {
    "drug": text(120, required=True),
    "drug_class": text(80),
    "dose": text(80),
    "start_date": a_date(earliest=EARLIEST_DATE, not_future=True),
    "stop_date": a_date(earliest=EARLIEST_DATE, not_future=True),
    "weeks_at_dose": integer(0, 520),
    "reason_stopped": text(200),
}

AUTHORIZATION_CHECKS: dict[str, validation.Check] = {
    "payer": text(120, required=True),
    "member_id": text(60),
    "payer_id": text(80),
    "number": text(60),
    "sessions_authorized": integer(0, 1000, required=True),
    "valid_from": a_date(earliest=EARLIEST_DATE),
    "valid_to": a_date(earliest=EARLIEST_DATE),
    "status": validation.one_of(tuple(AuthorizationStatus)),
    "requested_on": a_date(earliest=EARLIEST_DATE, not_future=True),
    "decided_on": a_date(earliest=EARLIEST_DATE, not_future=True),
}
# A decision (or a request) without its date is dated today.
DATED_STATUSES = {
    AuthorizationStatus.REQUESTED: "requested_on",
    AuthorizationStatus.APPROVED: "decided_on",
    AuthorizationStatus.DENIED: "decided_on",
}


def set_diagnoses(patient: Patient, codes: Sequence[str]) -> bool:
    """Replace the problem list, keeping rows for codes that stay. True when it changed."""
    existing = {diagnosis.code: diagnosis for diagnosis in patient.diagnoses}
    if set(existing) == set(codes):
        return False
    patient.diagnoses = [
        existing.get(code) or Diagnosis(code=code, description=icd10.describe(code))
        for code in codes
    ]
    return True


# --- medication trials -------------------------------------------------------------------


def _clean_dated(
    checks: Mapping[str, validation.Check],
    values: Mapping[str, Any],
    current: Any,
    span: tuple[str, str],
) -> dict[str, Any]:
    """Clean a record with a start/end date pair; the end may not precede the start."""
    cleaned, errors = validation.clean(checks, values, partial=current is not None)
    start, end = (
        cleaned[name] if name in cleaned else getattr(current, name, None) for name in span
    )
    if start and end and end < start and span[1] not in errors.fields:
        errors.add(span[1], f"Must not be before {span[0].replace('_', ' ')}.")
    errors.raise_if_any()
    return cleaned


def _apply_chart_changes(
    row: MedicationTrial | Authorization,
    cleaned: Mapping[str, Any],
    entity_type: str,
    *,
    actor_id: int | None,
) -> list[str]:
    """Set the cleaned values that differ on a row of the chart and audit their names once;
    an edit that changes nothing writes nothing. Answers the changed names."""
    changed = [name for name, value in cleaned.items() if getattr(row, name) != value]
    for name in changed:
        setattr(row, name, cleaned[name])
    if changed:
        db.session.flush()
        record(
            actor_id,
            AuditAction.UPDATE,
            entity_type,
            row.id,
            patient_id=row.patient_id,
            detail={"fields": changed},
        )
    return changed


def add_medication_trial(
    patient: Patient | int, values: Mapping[str, Any], *, actor_id: int | None
) -> MedicationTrial:
    """Add a trial to the history (not a current medication: no new motor threshold)."""
    patient = get_patient(patient)
    cleaned = _clean_dated(MEDICATION_CHECKS, values, None, ("start_date", "stop_date"))
    trial = MedicationTrial(patient_id=patient.id, **cleaned)
    db.session.add(trial)
    db.session.flush()
    record(actor_id, AuditAction.CREATE, "medication_trial", trial.id, patient_id=patient.id)
    return trial


def get_medication_trial(trial_id: int) -> MedicationTrial:
    return load(MedicationTrial, trial_id, "medication trial")


def update_medication_trial(
    trial_id: int, changes: Mapping[str, Any], *, actor_id: int | None
) -> MedicationTrial:
    trial = get_medication_trial(trial_id)
    cleaned = _clean_dated(MEDICATION_CHECKS, changes, trial, ("start_date", "stop_date"))
    _apply_chart_changes(trial, cleaned, "medication_trial", actor_id=actor_id)
    return trial


def delete_medication_trial(trial_id: int, *, actor_id: int | None) -> int:
    """Remove a trial entered by mistake; returns the patient's id."""
    trial = get_medication_trial(trial_id)
    patient_id = trial.patient_id
    record(
        actor_id,
        AuditAction.DELETE,
        "medication_trial",
        trial.id,
        patient_id=patient_id,
        detail={"drug": trial.drug},
    )
    db.session.delete(trial)
    db.session.flush()
    return patient_id


def list_medication_trials(patient_id: int, *, actor_id: int | None) -> list[MedicationTrial]:
    """The patient's trials (a read of the record, audited)."""
    return list(
        view_patient(patient_id, actor_id=actor_id, section="medications").medication_trials
    )


# --- insurance authorizations ------------------------------------------------------------


def clean_authorization(values: Mapping[str, Any]) -> dict[str, Any]:
    """The checked fields of a new authorization; 422 naming every bad field. Courses call
    it too, so an authorization given with a prescription obeys the same rules."""
    return _clean_dated(AUTHORIZATION_CHECKS, values, None, ("valid_from", "valid_to"))


def _date_the_status(cleaned: dict[str, Any], current: Authorization | None) -> None:
    status = cleaned.get("status")
    if status is None:
        cleaned.pop("status", None)
        return
    when = DATED_STATUSES.get(AuthorizationStatus(status))
    if when and not cleaned.get(when) and (current is None or current.status != status):
        cleaned[when] = clock.today()


def add_authorization(
    patient: Patient | int,
    values: Mapping[str, Any],
    *,
    actor_id: int | None,
    default_status: AuthorizationStatus = AuthorizationStatus.DRAFT,
) -> Authorization:
    """Record a payer's authorization of a number of sessions within dates: a draft unless
    a status is given (a prescription's own authorization comes approved)."""
    patient = get_patient(patient)
    cleaned = clean_authorization(values)
    cleaned["status"] = cleaned.get("status") or default_status
    _date_the_status(cleaned, None)
    authorization = Authorization(patient_id=patient.id, **cleaned)
    db.session.add(authorization)
    db.session.flush()
    record(actor_id, AuditAction.CREATE, "authorization", authorization.id, patient_id=patient.id)
    return authorization


def get_authorization(authorization_id: int) -> Authorization:
    return load(Authorization, authorization_id, "authorization")


def update_authorization(
    authorization_id: int, changes: Mapping[str, Any], *, actor_id: int | None
) -> Authorization:
    authorization = get_authorization(authorization_id)
    cleaned = _clean_dated(AUTHORIZATION_CHECKS, changes, authorization, ("valid_from", "valid_to"))
    _date_the_status(cleaned, authorization)
    _apply_chart_changes(authorization, cleaned, "authorization", actor_id=actor_id)
    return authorization


def list_authorizations(patient_id: int, *, actor_id: int | None) -> list[Authorization]:
    """The patient's authorizations (a read of the record, audited)."""
    return list(
        view_patient(patient_id, actor_id=actor_id, section="authorizations").authorizations
    )
