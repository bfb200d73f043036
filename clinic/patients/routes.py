"""Intake pages: the patient list, the patient form, the chart, and the forms for
screening, medication trials and authorizations. Each calls one service; the request's
single commit (`clinic.transaction`) keeps what it did."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from clinic import clock
from clinic.audit.services import recent_viewers
from clinic.errors import Conflict, DomainError, Invalid
from clinic.forms import flash_refusal, show_refusal
from clinic.patients import bp
from clinic.patients.forms import (
    AuthorizationForm,
    MedicationForm,
    MedicationTrialForm,
    NewPatientForm,
    PatientForm,
    ScreeningForm,
    SearchForm,
    SignOffForm,
    screening_groups,
)
from clinic.patients.intake import create_patient, update_patient
from clinic.patients.lookup import get_patient, view_patient
from clinic.patients.medications import (
    add_medication,
    diazepam_mg_per_day,
    get_medication,
    load_of,
    mme_per_day,
    update_medication,
)
from clinic.patients.records import (
    add_authorization,
    add_medication_trial,
    delete_medication_trial,
    get_authorization,
    get_medication_trial,
    update_authorization,
    update_medication_trial,
)
from clinic.patients.screening import (
    ITEMS_BY_CODE,
    get_screening,
    record_screening,
    sign_off_screening,
)
from clinic.patients.search import search_patients
from clinic.permissions import Permission, requires

LIST_LIMIT = 100


def _submit(form: FlaskForm, action: Callable[[], Any]) -> Any:
    """Validate the form and run the service. None when the form must be shown again."""
    if not form.validate_on_submit():
        return None
    try:
        result = action()
    except Invalid as error:
        show_refusal(form, error)
        return None
    return result


def _status(form: FlaskForm) -> int:
    return 422 if request.method == "POST" else 200


@bp.route("/")
@requires(Permission.READ)
def index() -> Any:
    form = SearchForm(request.args)
    patients = []
    if form.validate():
        try:
            patients = search_patients(form.q.data, limit=LIST_LIMIT, actor_id=current_user.id)
        except Invalid as error:
            show_refusal(form, error)
    if request.args.get("go") and len(patients) == 1:
        # The header's search: one match opens the chart at once.
        return redirect(url_for("patients.chart", patient_id=patients[0].id))
    return render_template("patients/index.html", form=form, patients=patients, limit=LIST_LIMIT), (
        422 if form.errors else 200
    )


@bp.route("/new", methods=["GET", "POST"])
@requires(Permission.EDIT_PATIENTS)
def new() -> Any:
    """Register a patient; a possible duplicate is offered first, with its record to open
    and a box to tick when this really is another person."""
    form = NewPatientForm()
    try:
        patient = _submit(
            form,
            lambda: create_patient(
                form.values(),
                actor_id=current_user.id,
                allow_duplicate=form.allow_duplicate.data,
            ),
        )
    except Conflict as refusal:
        if refusal.code != "possible_duplicate":
            raise
        show_refusal(form, refusal)
        return render_template(
            "patients/form.html", form=form, patient=None, matches=refusal.details["matches"]
        ), 409
    if patient is not None:
        flash(f"Patient {patient.full_name} registered with MRN {patient.mrn}.", "success")
        return redirect(url_for("patients.chart", patient_id=patient.id))
    return render_template("patients/form.html", form=form, patient=None), _status(form)


@bp.route("/<int:patient_id>")
@requires(Permission.READ)
def chart(patient_id: int) -> Any:
    """The whole record on one page; opening it is audited as `view`."""
    patient = view_patient(patient_id, actor_id=current_user.id, section="chart")
    viewers = recent_viewers(patient.id)
    return render_template(
        "patients/chart.html",
        patient=patient,
        screenings=sorted(patient.screenings, key=lambda s: -s.version),
        viewers=viewers,
        items=ITEMS_BY_CODE,
        medication_load=load_of(patient.medications, clock.today()),
        mme_per_day=mme_per_day,
        diazepam_mg_per_day=diazepam_mg_per_day,
    )


@bp.route("/<int:patient_id>/edit", methods=["GET", "POST"])
@requires(Permission.EDIT_PATIENTS)
def edit(patient_id: int) -> Any:
    patient = view_patient(patient_id, actor_id=current_user.id, section="edit")
    form = PatientForm()
    if request.method == "GET":
        form.fill_from(patient)
    saved = _submit(
        form,
        lambda: update_patient(patient, form.values(), actor_id=current_user.id),
    )
    if saved is not None:
        flash("Patient saved.", "success")
        return redirect(url_for("patients.chart", patient_id=patient_id))
    return render_template("patients/form.html", form=form, patient=patient), _status(form)


@bp.route("/<int:patient_id>/screenings/new", methods=["GET", "POST"])
@requires(Permission.EDIT_PATIENTS)
def screen(patient_id: int) -> Any:
    patient = get_patient(patient_id)
    form = ScreeningForm()
    screening = _submit(
        form,
        lambda: record_screening(
            patient_id, form.answers(), form.notes.data, actor_id=current_user.id
        ),
    )
    if screening is not None:
        flash(f"Screening recorded: {screening.result}.", "success")
        return redirect(url_for("patients.chart", patient_id=patient_id, _anchor="screening"))
    return render_template(
        "patients/screening_form.html",
        form=form,
        patient=patient,
        groups=screening_groups(),
    ), _status(form)


@bp.route("/screenings/<int:screening_id>/sign-off", methods=["GET", "POST"])
@requires(Permission.REVIEW)
def sign_off(screening_id: int) -> Any:
    screening = get_screening(screening_id)
    form = SignOffForm()
    try:
        done = _submit(
            form,
            lambda: sign_off_screening(screening_id, form.note.data, actor_id=current_user.id),
        )
    except DomainError as error:  # already signed off, or nothing to sign off
        flash_refusal(error)
        return redirect(url_for("patients.chart", patient_id=screening.patient_id))
    if done is not None:
        flash("Screening signed off.", "success")
        return redirect(url_for("patients.chart", patient_id=screening.patient_id))
    return render_template(
        "patients/sign_off.html",
        form=form,
        screening=screening,
        patient=screening.patient,
        items=ITEMS_BY_CODE,
    ), _status(form)


def _chart_record_form(
    form: FlaskForm,
    save: Callable[[], Any],
    *,
    section: str,
    saved_message: Callable[[Any], str],
    page: Callable[[], dict[str, Any]],
) -> Any:
    """The add or edit page of a record listed in a section of the chart: saved, it goes
    back to that section; refused, the form is shown again with what `page()` describes
    (called after the failed save, so it reads the record as it is now)."""
    saved = _submit(form, save)
    if saved is not None:
        flash(saved_message(saved), "success")
        return redirect(url_for("patients.chart", patient_id=saved.patient_id, _anchor=section))
    return render_template("patients/record_form.html", form=form, **page()), _status(form)


@bp.route("/<int:patient_id>/medications/new", methods=["GET", "POST"])
@requires(Permission.EDIT_PATIENTS)
def new_medication(patient_id: int) -> Any:
    patient = get_patient(patient_id)
    form = MedicationTrialForm()
    return _chart_record_form(
        form,
        lambda: add_medication_trial(patient_id, form.values(), actor_id=current_user.id),
        section="medications",
        saved_message=lambda trial: f"Medication trial {trial.drug} added.",
        page=lambda: {"patient": patient, "title": "Add a medication trial"},
    )


@bp.route("/medications/<int:trial_id>/edit", methods=["GET", "POST"])
@requires(Permission.EDIT_PATIENTS)
def edit_medication(trial_id: int) -> Any:
    form = MedicationTrialForm(obj=get_medication_trial(trial_id))

    def page() -> dict[str, Any]:
        trial = get_medication_trial(trial_id)
        return {
            "patient": trial.patient,
            "title": f"Edit medication trial: {trial.drug}",
            "delete_url": url_for("patients.delete_medication", trial_id=trial.id),
        }

    return _chart_record_form(
        form,
        lambda: update_medication_trial(trial_id, form.values(), actor_id=current_user.id),
        section="medications",
        saved_message=lambda _trial: "Medication trial saved.",
        page=page,
    )


@bp.route("/medications/<int:trial_id>/delete", methods=["POST"])
@requires(Permission.EDIT_PATIENTS)
def delete_medication(trial_id: int) -> Any:
    patient_id = delete_medication_trial(trial_id, actor_id=current_user.id)
    flash("Medication trial removed.", "success")
    return redirect(url_for("patients.chart", patient_id=patient_id, _anchor="medications"))


@bp.route("/<int:patient_id>/current-medications/new", methods=["GET", "POST"])
@requires(Permission.EDIT_PATIENTS)
def new_current_medication(patient_id: int) -> Any:
    patient = get_patient(patient_id)
    form = MedicationForm()
    return _chart_record_form(
        form,
        lambda: add_medication(patient_id, form.values(), actor_id=current_user.id),
        section="current-medications",
        saved_message=lambda medication: (
            f"{medication.drug} added to current medications: a new motor threshold is "
            "needed and the safety screening should be repeated."
        ),
        page=lambda: {"patient": patient, "title": "Add a current medication"},
    )


@bp.route("/current-medications/<int:medication_id>/edit", methods=["GET", "POST"])
@requires(Permission.EDIT_PATIENTS)
def edit_current_medication(medication_id: int) -> Any:
    form = MedicationForm(obj=get_medication(medication_id))

    def page() -> dict[str, Any]:
        medication = get_medication(medication_id)
        return {"patient": medication.patient, "title": f"Edit medication: {medication.drug}"}

    return _chart_record_form(
        form,
        lambda: update_medication(medication_id, form.values(), actor_id=current_user.id),
        section="current-medications",
        saved_message=lambda _medication: "Medication saved.",
        page=page,
    )


@bp.route("/<int:patient_id>/authorizations/new", methods=["GET", "POST"])
@requires(Permission.BILLING)
def new_authorization(patient_id: int) -> Any:
    patient = get_patient(patient_id)
    form = AuthorizationForm()
    return _chart_record_form(
        form,
        lambda: add_authorization(patient_id, form.values(), actor_id=current_user.id),
        section="authorizations",
        saved_message=lambda authorization: f"Authorization from {authorization.payer} added.",
        page=lambda: {"patient": patient, "title": "Add an insurance authorization"},
    )


@bp.route("/authorizations/<int:authorization_id>/edit", methods=["GET", "POST"])
@requires(Permission.BILLING)
def edit_authorization(authorization_id: int) -> Any:
    form = AuthorizationForm(obj=get_authorization(authorization_id))

    def page() -> dict[str, Any]:
        authorization = get_authorization(authorization_id)
        return {
            "patient": authorization.patient,
            "title": f"Edit authorization from {authorization.payer}",
        }

    return _chart_record_form(
        form,
        lambda: update_authorization(authorization_id, form.values(), actor_id=current_user.id),
        section="authorizations",
        saved_message=lambda _authorization: "Authorization saved.",
        page=page,
    )
