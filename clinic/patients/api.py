"""/api/v1 endpoints for patients, safety screenings, medication trials and authorizations."""

from __future__ import annotations

from typing import Any

from flask_login import current_user

from clinic.api.blueprint import Blueprint
from clinic.api.openapi import declares
from clinic.patients import intake, lookup, medications, records, schemas, screening, search
from clinic.permissions import Permission, requires

blp = Blueprint("patients_api", __name__, description="Patients, screening and intake")


@blp.route("/patients", methods=["POST"])
@declares(409, codes=["mrn_unavailable"])
@requires(Permission.EDIT_PATIENTS)
@blp.arguments(
    schemas.PatientCreateSchema,
    example={
        "first_name": "Jamie",
        "last_name": "Rivera",
        "date_of_birth": "1980-05-17",
        "phone": "+12125550123",
        "preferred_channel": "sms",
        "sms_consent": True,
        "diagnoses": ["F33.1"],
    },
)
@blp.response(201, schemas.PatientSchema)
def create_patient(values: dict[str, Any]) -> Any:
    """Register a patient.

    `first_name`, `last_name`, `date_of_birth` are required. The answer carries the new
    `id` and a unique 8-digit `mrn`; the phone is answered in E.164. 409
    `possible_duplicate` (with `error.matches: [{id, mrn}]`) when the same person seems
    registered already, unless `allow_duplicate` is true.
    """
    allow = values.pop("allow_duplicate", False)
    return intake.create_patient(values, actor_id=current_user.id, allow_duplicate=allow)


@blp.route("/patients", methods=["GET"])
@requires(Permission.READ)
@blp.arguments(schemas.PatientSearchSchema, location="query")
@blp.response(200, schemas.PatientListSchema)
def search_patients(args: dict[str, Any]) -> Any:
    """Find patients by a name or MRN fragment (`q`), case-insensitively; at most `limit`."""
    found = search.search_patients(args["q"], limit=args["limit"], actor_id=current_user.id)
    return {"items": found}


@blp.route("/patients/<int:patient_id>", methods=["GET"])
@requires(Permission.READ)
@blp.response(200, schemas.PatientSchema)
def get_patient(patient_id: int) -> Any:
    """One patient's record (the read is audited as `view`)."""
    return lookup.view_patient(patient_id, actor_id=current_user.id)


@blp.route("/patients/<int:patient_id>", methods=["PATCH"])
@requires(Permission.EDIT_PATIENTS)
@blp.arguments(schemas.PatientInputSchema)
@blp.response(200, schemas.PatientSchema)
def update_patient(changes: dict[str, Any], patient_id: int) -> Any:
    """Change some fields; a consent change is timestamped and logged."""
    return intake.update_patient(patient_id, changes, actor_id=current_user.id)


@blp.route("/screening-items", methods=["GET"])
@requires(Permission.READ)
@blp.response(200, schemas.ScreeningItemListSchema)
def screening_items() -> Any:
    """The TMS safety screening questionnaire; `class` is `absolute` or `relative`."""
    return {"items": screening.SCREENING_ITEMS}


@blp.route("/patients/<int:patient_id>/screenings", methods=["POST"])
@declares(409, codes=["screening_busy"])
@requires(Permission.EDIT_PATIENTS)
@blp.arguments(schemas.ScreeningInputSchema)
@blp.response(201, schemas.ScreeningSchema)
def record_screening(body: dict[str, Any], patient_id: int) -> Any:
    """Record a screening: `answers` for every item.

    Result `contraindicated` if any absolute item is yes, else `review` if any relative
    item is yes, else `clear`. Each screening is a new version; old ones are kept.
    """
    return screening.record_screening(
        patient_id, body["answers"], body.get("notes"), actor_id=current_user.id
    )


@blp.route("/patients/<int:patient_id>/screenings", methods=["GET"])
@requires(Permission.READ)
@blp.response(200, schemas.ScreeningListSchema)
def list_screenings(patient_id: int) -> Any:
    """Every screening version of the patient, newest first."""
    screenings = screening.list_screenings(patient_id, actor_id=current_user.id)
    return {"items": screenings}


@blp.route("/screenings/<int:screening_id>/sign-off", methods=["POST"])
@declares(409, codes=["screening_not_reviewable", "already_signed_off"])
@requires(Permission.REVIEW)
@blp.arguments(schemas.SignOffSchema)
@blp.response(200, schemas.ScreeningSchema)
def sign_off_screening(body: dict[str, Any], screening_id: int) -> Any:
    """A clinician accepts a `review` screening with a note (409 for other results)."""
    return screening.sign_off_screening(screening_id, body["note"], actor_id=current_user.id)


@blp.route("/patients/<int:patient_id>/medication-trials", methods=["GET"])
@requires(Permission.READ)
@blp.response(200, schemas.MedicationTrialListSchema)
def list_medication_trials(patient_id: int) -> Any:
    """The patient's medication trials (the history payers ask for), oldest first.

    Not current medications: see `/patients/{id}/medications`."""
    trials = records.list_medication_trials(patient_id, actor_id=current_user.id)
    return {"items": trials}


@blp.route("/patients/<int:patient_id>/medication-trials", methods=["POST"])
@requires(Permission.EDIT_PATIENTS)
@blp.arguments(schemas.MedicationTrialCreateSchema)
@blp.response(201, schemas.MedicationTrialSchema)
def add_medication_trial(values: dict[str, Any], patient_id: int) -> Any:
    """Add a medication trial (drug required). History only: no new motor threshold."""
    return records.add_medication_trial(patient_id, values, actor_id=current_user.id)


@blp.route("/medication-trials/<int:trial_id>", methods=["PATCH"])
@requires(Permission.EDIT_PATIENTS)
@blp.arguments(schemas.MedicationTrialInputSchema)
@blp.response(200, schemas.MedicationTrialSchema)
def update_medication_trial(changes: dict[str, Any], trial_id: int) -> Any:
    """Change a medication trial. History only: never asks for a new motor threshold."""
    return records.update_medication_trial(trial_id, changes, actor_id=current_user.id)


@blp.route("/medication-trials/<int:trial_id>", methods=["DELETE"])
@requires(Permission.EDIT_PATIENTS)
@blp.response(204)
def delete_medication_trial(trial_id: int) -> Any:
    """Remove a medication trial entered by mistake (audited)."""
    records.delete_medication_trial(trial_id, actor_id=current_user.id)
    return None


@blp.route("/patients/<int:patient_id>/medications", methods=["GET"])
@requires(Permission.READ)
@blp.response(200, schemas.MedicationListSchema)
def list_medications(patient_id: int) -> Any:
    """The patient's current medications (and those stopped while in our care), with
    `mme_per_day` for opioids and `diazepam_mg_per_day` for benzodiazepines."""
    return {"items": medications.list_medications(patient_id, actor_id=current_user.id)}


@blp.route("/patients/<int:patient_id>/medications", methods=["POST"])
@requires(Permission.EDIT_PATIENTS)
@blp.arguments(schemas.MedicationCreateSchema)
@blp.response(201, schemas.MedicationSchema)
def add_medication(values: dict[str, Any], patient_id: int) -> Any:
    """Add a current medication (`drug`, `category` required).

    A change to current medications asks each running course for a new motor threshold
    and flags the latest safety screening for repetition.
    """
    return medications.add_medication(patient_id, values, actor_id=current_user.id)


@blp.route("/medications/<int:medication_id>", methods=["PATCH"])
@requires(Permission.EDIT_PATIENTS)
@blp.arguments(schemas.MedicationInputSchema)
@blp.response(200, schemas.MedicationSchema)
def update_medication(changes: dict[str, Any], medication_id: int) -> Any:
    """Change a current medication (a dose, a stop): asks for a new motor threshold and
    flags the screening for repetition when anything changed."""
    return medications.update_medication(medication_id, changes, actor_id=current_user.id)


@blp.route("/patients/<int:patient_id>/medication-load", methods=["GET"])
@requires(Permission.READ)
@blp.arguments(schemas.MedicationLoadQuerySchema, location="query")
@blp.response(200, schemas.MedicationLoadSchema)
def medication_load(args: dict[str, Any], patient_id: int) -> Any:
    """Opioid MME a day and benzodiazepine diazepam mg a day on a date (default today),
    with the medications taken that day (started by then and not yet stopped)."""
    load = medications.medication_load(patient_id, args.get("on"), actor_id=current_user.id)
    return {**load.figures(), "medications": load.medications}


@blp.route("/patients/<int:patient_id>/authorizations", methods=["GET"])
@requires(Permission.READ)
@blp.response(200, schemas.AuthorizationListSchema)
def list_authorizations(patient_id: int) -> Any:
    """The patient's insurance authorizations."""
    authorizations = records.list_authorizations(patient_id, actor_id=current_user.id)
    return {"items": authorizations}


@blp.route("/patients/<int:patient_id>/authorizations", methods=["POST"])
@requires(Permission.BILLING)
@blp.arguments(schemas.AuthorizationCreateSchema)
@blp.response(201, schemas.AuthorizationSchema)
def add_authorization(values: dict[str, Any], patient_id: int) -> Any:
    """Record a payer's authorization (`payer`, `sessions_authorized` required); a new
    one is `draft` unless a `status` is given."""
    return records.add_authorization(patient_id, values, actor_id=current_user.id)


@blp.route("/authorizations/<int:authorization_id>", methods=["PATCH"])
@requires(Permission.BILLING)
@blp.arguments(schemas.AuthorizationInputSchema)
@blp.response(200, schemas.AuthorizationSchema)
def update_authorization(changes: dict[str, Any], authorization_id: int) -> Any:
    """Change an authorization: its status as the payer answers (only `approved` counts on
    a course's meter), an extension of sessions or dates."""
    return records.update_authorization(authorization_id, changes, actor_id=current_user.id)
