"""Patient intake rules: demographics, contact and consent, diagnoses, medication trials,
insurance authorizations and safety screenings.

Every function here is called the same way by the pages, the JSON API, the CSV import and
the demo loader: explicit values in, a model (or a DomainError) out. Changes are audited
in the same transaction; reads of a patient's record are audited as `view`.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from clinic import clock, events
from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.auth.models import User
from clinic.errors import Conflict, Invalid, NotAllowed, NotFound
from clinic.extensions import db
from clinic.patients import icd10, validation
from clinic.patients.models import (
    Authorization,
    ConsentEvent,
    Diagnosis,
    MedicationTrial,
    Patient,
    Screening,
)
from clinic.patients.screening import ITEMS_BY_CODE, SCREENING_ITEMS, score
from clinic.patients.validation import FieldErrors, a_date, boolean, integer, one_of, text
from clinic.permissions import Permission

EARLIEST_BIRTH_DATE = date(1900, 1, 1)
SEXES = ("female", "male", "other", "unknown")
SEX_ALIASES = {"f": "female", "m": "male", "o": "other", "u": "unknown"}
CHANNELS = ("sms", "email", "none")
CONSENT_CHANNELS = {"sms": "sms_consent", "email": "email_consent"}
CHANNEL_NEEDS = {
    "sms": ("phone", "Choosing SMS needs a phone number."),
    "email": ("email", "Choosing email needs an email address."),
}
SEARCH_LIMIT = 50
SEARCH_LIMIT_MAX = 200
MAX_DATABASE_ID = 2**31 - 1  # PostgreSQL INTEGER: a bigger id can only be "not found"
MRN_ATTEMPTS = 8
VERSION_ATTEMPTS = 5

PATIENT_CHECKS: dict[str, validation.Check] = {
    "first_name": text(100, required=True),
    "last_name": text(100, required=True),
    "date_of_birth": a_date(required=True, earliest=EARLIEST_BIRTH_DATE, not_future=True),
    "sex": one_of(SEXES, aliases=SEX_ALIASES),
    "email": validation.email,
    "phone": validation.phone,
    "preferred_channel": one_of(CHANNELS),
    "sms_consent": boolean,
    "email_consent": boolean,
    "timezone": validation.timezone,
    "diagnoses": validation.diagnosis_codes,
    "referring_provider": text(200),
    "emergency_contact_name": text(200),
    "emergency_contact_phone": validation.phone,
    "pain_sites": text(300),
    "pain_duration_months": integer(0, 1200),
    "notes": text(5000, multiline=True),
}
PATIENT_FIELDS = tuple(PATIENT_CHECKS)

MEDICATION_CHECKS: dict[str, validation.Check] = {
    "drug": text(120, required=True),
    "drug_class": text(80),
    "dose": text(80),
    "start_date": a_date(earliest=EARLIEST_BIRTH_DATE, not_future=True),
    "stop_date": a_date(earliest=EARLIEST_BIRTH_DATE, not_future=True),
    "weeks_at_dose": integer(0, 520),
    "reason_stopped": text(200),
}

AUTHORIZATION_CHECKS: dict[str, validation.Check] = {
    "payer": text(120, required=True),
    "member_id": text(60),
    "number": text(60),
    "sessions_authorized": integer(0, 1000, required=True),
    "valid_from": a_date(earliest=EARLIEST_BIRTH_DATE),
    "valid_to": a_date(earliest=EARLIEST_BIRTH_DATE),
}


# --- loading ---------------------------------------------------------------------------


def _load(model: type[Any], entity_id: Any, what: str, *options: Any) -> Any:
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
    return patient if isinstance(patient, Patient) else _load(Patient, patient, "patient")


CHART_OPTIONS = (
    selectinload(Patient.diagnoses),
    selectinload(Patient.medication_trials),
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
    patient = _load(Patient, patient_id, "patient", *options)
    record(actor_id, AuditAction.VIEW, "patient", patient.id, detail={"section": section})
    return patient


def search_patients(
    query: str | None, *, limit: int = SEARCH_LIMIT, actor_id: int | None = None
) -> list[Patient]:
    """Patients whose name or MRN contains every word of `query`, case-insensitively.

    "riv jam" finds Jamie Rivera; "0042" finds MRN 10004217. Bounded by `limit`.
    """
    words = validation.search_text(query).lower().replace(",", " ").split()
    limit = max(1, min(limit, SEARCH_LIMIT_MAX))
    statement = select(Patient).options(selectinload(Patient.diagnoses))
    for word in words[:6]:
        pattern = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        statement = statement.where(
            or_(
                func.lower(Patient.first_name).like(pattern, escape="\\"),
                func.lower(Patient.last_name).like(pattern, escape="\\"),
                func.lower(Patient.mrn).like(pattern, escape="\\"),
            )
        )
    statement = statement.order_by(Patient.last_name, Patient.first_name, Patient.id).limit(limit)
    found = list(db.session.scalars(statement))
    record(actor_id, AuditAction.SEARCH, "patient", None, detail={"results": len(found)})
    return found


def find_duplicate(first_name: str, last_name: str, date_of_birth: date) -> Patient | None:
    """A patient with the same names (ignoring case) and date of birth, if any."""
    same_birthday = db.session.scalars(
        select(Patient).where(Patient.date_of_birth == date_of_birth).order_by(Patient.id)
    )
    wanted = (first_name.strip().casefold(), last_name.strip().casefold())
    for patient in same_birthday:
        if (patient.first_name.casefold(), patient.last_name.casefold()) == wanted:
            return patient
    return None


# --- creating and changing patients ------------------------------------------------------


def new_mrn() -> str:
    """Eight digits: seven random, then a Luhn check digit that catches most typos."""
    body = str(secrets.randbelow(9_000_000) + 1_000_000)
    return body + luhn_digit(body)


def luhn_digit(digits: str) -> str:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 0:
            value *= 2
            value -= 9 if value > 9 else 0
        total += value
    return str((10 - total % 10) % 10)


def _clean_patient(values: Mapping[str, Any], current: Patient | None) -> dict[str, Any]:
    cleaned, errors = validation.clean(PATIENT_CHECKS, values, partial=current is not None)
    channel = cleaned.get("preferred_channel") or (
        current.preferred_channel if current and "preferred_channel" not in cleaned else "none"
    )
    cleaned["preferred_channel"] = channel
    needed = CHANNEL_NEEDS.get(channel)
    if needed is not None:
        contact, message = needed
        have = cleaned[contact] if contact in cleaned else getattr(current, contact, None)
        if not have and contact not in errors.fields:
            errors.add("preferred_channel", message)
    errors.raise_if_any("The patient has invalid fields.")
    return cleaned


def _set_diagnoses(patient: Patient, codes: Sequence[str]) -> bool:
    """Replace the problem list, keeping rows for codes that stay. True when it changed."""
    existing = {diagnosis.code: diagnosis for diagnosis in patient.diagnoses}
    if set(existing) == set(codes):
        return False
    patient.diagnoses = [
        existing.get(code) or Diagnosis(code=code, description=icd10.describe(code))
        for code in codes
    ]
    return True


def _set_consent(
    patient: Patient, channel: str, granted: bool, *, actor_id: int | None, source: str
) -> bool:
    """Record a consent given or withdrawn: on the patient, as a ConsentEvent, as a signal."""
    attribute = CONSENT_CHANNELS[channel]
    if bool(getattr(patient, attribute)) == granted:
        return False
    at = clock.now()
    setattr(patient, attribute, granted)
    setattr(patient, f"{attribute}_at", at)
    db.session.add(
        ConsentEvent(
            patient_id=patient.id,
            channel=channel,
            granted=granted,
            at=at,
            actor_id=actor_id,
            source=source,
        )
    )
    record(
        actor_id,
        AuditAction.CONSENT_GRANT if granted else AuditAction.CONSENT_WITHDRAW,
        "patient",
        patient.id,
        detail={"channel": channel, "source": source},
    )
    events.consent_changed.send(
        None, patient=patient, channel=channel, granted=granted, actor_id=actor_id
    )
    return True


def _insert_with_new_mrn(patient: Patient) -> None:
    """Insert under a fresh MRN; the unique key decides, and a clash just draws again."""
    for _ in range(MRN_ATTEMPTS):
        patient.mrn = new_mrn()
        try:
            with db.session.begin_nested():
                db.session.add(patient)
                db.session.flush()
        except IntegrityError:
            continue
        return
    raise Conflict("Could not allocate a unique MRN; try again.", code="mrn_unavailable")


def create_patient(
    values: Mapping[str, Any], *, actor_id: int | None, source: str = "staff"
) -> Patient:
    """Register a patient from intake values (see PATIENT_FIELDS); 422 lists every bad field.

    The patient gets a unique MRN; consents given now are timestamped and logged.
    """
    cleaned = _clean_patient(values, None)
    consents = {channel: cleaned.pop(attr) for channel, attr in CONSENT_CHANNELS.items()}
    codes = cleaned.pop("diagnoses")
    patient = Patient(**cleaned, sms_consent=False, email_consent=False)
    _set_diagnoses(patient, codes)
    _insert_with_new_mrn(patient)
    record(actor_id, AuditAction.CREATE, "patient", patient.id, detail={"source": source})
    for channel, granted in consents.items():
        _set_consent(patient, channel, granted, actor_id=actor_id, source=source)
    db.session.flush()
    return patient


def update_patient(
    patient: Patient | int,
    changes: Mapping[str, Any],
    *,
    actor_id: int | None,
    source: str = "staff",
) -> Patient:
    """Change some intake fields (only the keys given); audited with the changed names."""
    patient = get_patient(patient)
    cleaned = _clean_patient(changes, patient)
    changed: list[str] = []
    for channel, attribute in CONSENT_CHANNELS.items():
        if attribute in cleaned and _set_consent(
            patient, channel, cleaned.pop(attribute), actor_id=actor_id, source=source
        ):
            changed.append(attribute)
    if "diagnoses" in cleaned and _set_diagnoses(patient, cleaned.pop("diagnoses")):
        changed.append("diagnoses")
    for name, value in cleaned.items():
        if getattr(patient, name) != value:
            setattr(patient, name, value)
            changed.append(name)
    scalar_changes = [name for name in changed if name not in CONSENT_CHANNELS.values()]
    if scalar_changes:
        record(
            actor_id, AuditAction.UPDATE, "patient", patient.id, detail={"fields": scalar_changes}
        )
    db.session.flush()
    return patient


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
    """Add a medication trial; a medication change means the motor threshold is re-checked."""
    patient = get_patient(patient)
    cleaned = _clean_dated(MEDICATION_CHECKS, values, None, ("start_date", "stop_date"))
    trial = MedicationTrial(patient_id=patient.id, **cleaned)
    db.session.add(trial)
    db.session.flush()
    record(actor_id, AuditAction.CREATE, "medication_trial", trial.id, patient_id=patient.id)
    events.medication_changed.send(None, patient=patient, actor_id=actor_id)
    return trial


def get_medication_trial(trial_id: int) -> MedicationTrial:
    return _load(MedicationTrial, trial_id, "medication trial")


def update_medication_trial(
    trial_id: int, changes: Mapping[str, Any], *, actor_id: int | None
) -> MedicationTrial:
    trial = get_medication_trial(trial_id)
    cleaned = _clean_dated(MEDICATION_CHECKS, changes, trial, ("start_date", "stop_date"))
    if _apply_chart_changes(trial, cleaned, "medication_trial", actor_id=actor_id):
        events.medication_changed.send(None, patient=trial.patient, actor_id=actor_id)
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


def add_authorization(
    patient: Patient | int, values: Mapping[str, Any], *, actor_id: int | None
) -> Authorization:
    """Record a payer's authorization of a number of sessions within dates."""
    patient = get_patient(patient)
    cleaned = clean_authorization(values)
    authorization = Authorization(patient_id=patient.id, **cleaned)
    db.session.add(authorization)
    db.session.flush()
    record(actor_id, AuditAction.CREATE, "authorization", authorization.id, patient_id=patient.id)
    return authorization


def get_authorization(authorization_id: int) -> Authorization:
    return _load(Authorization, authorization_id, "authorization")


def update_authorization(
    authorization_id: int, changes: Mapping[str, Any], *, actor_id: int | None
) -> Authorization:
    authorization = get_authorization(authorization_id)
    cleaned = _clean_dated(AUTHORIZATION_CHECKS, changes, authorization, ("valid_from", "valid_to"))
    _apply_chart_changes(authorization, cleaned, "authorization", actor_id=actor_id)
    return authorization


def list_authorizations(patient_id: int, *, actor_id: int | None) -> list[Authorization]:
    """The patient's authorizations (a read of the record, audited)."""
    return list(
        view_patient(patient_id, actor_id=actor_id, section="authorizations").authorizations
    )


# --- safety screening --------------------------------------------------------------------


def _check_answers(answers: Any) -> dict[str, bool]:
    """Every item answered yes/no, no unknown codes; 422 names the ones that are not."""
    if not isinstance(answers, Mapping):
        raise Invalid(
            "Send answers as {code: true/false}.", fields={"answers": ["Must be an object."]}
        )
    errors = FieldErrors()
    unknown = [str(code) for code in answers if code not in ITEMS_BY_CODE]
    missing = [item.code for item in SCREENING_ITEMS if item.code not in answers]
    for code in unknown:
        errors.add(f"answers.{code}", "Unknown screening item.")
    for code in missing:
        errors.add(f"answers.{code}", "Answer yes or no.")
    for item in SCREENING_ITEMS:
        if item.code in answers and not isinstance(answers[item.code], bool):
            errors.add(f"answers.{item.code}", "Must be true or false.")
    if errors:
        parts = []
        if missing:
            parts.append(f"missing: {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown: {', '.join(code[:40] for code in unknown[:10])}")
        detail = "; ".join(parts) or "every answer must be true or false"
        errors.raise_if_any(f"Answer every screening item ({detail}).")
    return {item.code: bool(answers[item.code]) for item in SCREENING_ITEMS}


def record_screening(
    patient: Patient | int,
    answers: Mapping[str, Any],
    notes: str | None = None,
    actor_id: int | None = None,
) -> Screening:
    """Score a complete answer set and store it as the patient's next screening version.

    Result: `contraindicated` if any absolute item is yes, else `review` if any relative
    item is yes, else `clear`. Earlier versions are never changed.
    """
    patient = get_patient(patient)
    checked = _check_answers(answers)
    note_errors = FieldErrors()
    notes = text(5000, multiline=True)(note_errors, "notes", notes)
    note_errors.raise_if_any()
    result, positive = score(checked)
    for _ in range(VERSION_ATTEMPTS):
        version = (
            db.session.scalar(
                select(func.max(Screening.version)).where(Screening.patient_id == patient.id)
            )
            or 0
        ) + 1
        screening = Screening(
            patient_id=patient.id,
            version=version,
            answers=checked,
            result=result,
            positive_items=positive,
            notes=notes,
            created_at=clock.now(),
            created_by_id=actor_id,
        )
        try:
            with db.session.begin_nested():
                db.session.add(screening)
                db.session.flush()
        except IntegrityError:
            continue  # another screening took this version number at the same moment
        record(
            actor_id,
            AuditAction.CREATE,
            "screening",
            screening.id,
            patient_id=patient.id,
            detail={"result": result, "version": version},
        )
        return screening
    raise Conflict("Another screening is being saved; try again.", code="screening_busy")


def get_screening(screening_id: int) -> Screening:
    return _load(Screening, screening_id, "screening")


def sign_off_screening(screening_id: int, note: str | None, *, actor_id: int) -> Screening:
    """A clinician accepts a `review` result (relative contraindications) with a note."""
    screening = get_screening(screening_id)
    actor = db.session.get(User, actor_id) if isinstance(actor_id, int) else None
    if actor is None or not actor.can(Permission.REVIEW):
        raise NotAllowed("Only a clinician may sign off a screening.")
    if screening.result != "review":
        raise Conflict(
            f"A {screening.result} screening needs no sign-off.", code="screening_not_reviewable"
        )
    if screening.signed_off_at is not None:
        raise Conflict("This screening is already signed off.", code="already_signed_off")
    errors = FieldErrors()
    note = text(2000, required=True, multiline=True)(errors, "note", note)
    errors.raise_if_any("Write a note explaining the decision.")
    screening.signed_off_at = clock.now()
    screening.signed_off_by_id = actor_id
    screening.sign_off_note = note
    db.session.flush()
    record(
        actor_id, AuditAction.SIGN_OFF, "screening", screening.id, patient_id=screening.patient_id
    )
    return screening


def list_screenings(patient_id: int, *, actor_id: int | None) -> list[Screening]:
    """Every screening version, newest first (a read of the record, audited)."""
    patient = view_patient(patient_id, actor_id=actor_id, section="screenings")
    return sorted(patient.screenings, key=lambda screening: -screening.version)


def latest_screening(patient_id: int) -> Screening | None:
    """The newest screening version, or None when the patient was never screened."""
    return db.session.scalar(
        select(Screening)
        .options(joinedload(Screening.signed_off_by))
        .where(Screening.patient_id == patient_id)
        .order_by(Screening.version.desc())
        .limit(1)
    )


def screening_status(patient_id: int) -> Screening | None:
    """The gate other features check before treatment (course prescribing).

    None: never screened (answer 409 `screening_required`). Otherwise the latest version:
    `contraindicated` blocks; `review` is fine once signed off; `cleared_for_treatment`
    says it in one property.
    """
    return latest_screening(patient_id)
