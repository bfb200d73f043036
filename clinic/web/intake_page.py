"""The intake page: register, insure, consent and screen a patient in one form.

It reuses each feature's own form (registration, authorization, consent, screening) under
a prefix and hands the lot to `take_intake`. A refused submission comes back with
everything typed still in place and the messages on their fields. While the name and
birth date are typed, htmx asks `intake_duplicates` whether the person is registered
already, so the existing record is offered before anything else is filled in."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.documents.consent import CONSENT_VERSION, consent_text
from clinic.documents.forms import ConsentForm
from clinic.documents.models import SignatureMethod
from clinic.errors import DomainError
from clinic.forms import show_refusal
from clinic.patients import validation
from clinic.patients.forms import (
    AuthorizationForm,
    NewPatientForm,
    ScreeningForm,
    screening_groups,
)
from clinic.patients.intake import PATIENT_CHECKS, find_duplicates
from clinic.patients.models import Patient
from clinic.permissions import Permission, requires
from clinic.web import bp
from clinic.web.intake import ConsentGiven, Intake, ScreeningAnswers, Section, take_intake

# The parts' forms ride on the registration form's CSRF token.
PART = {"csrf": False}
# Fields that always carry a value (a default choice), so they do not show a part is used.
ALWAYS_SENT = {"status", "method"}


def _filled(form: FlaskForm) -> bool:
    """Whether anything was typed or chosen in a part: an untouched part is skipped."""
    return any(
        any(str(value).strip() for value in field.raw_data or ())
        for name, field in form._fields.items()
        if name not in ALWAYS_SENT
    )


class IntakeForms:
    """The registration form and, under prefixes, the optional parts' forms. Insurance is
    there only for roles that manage authorizations (CONTRACT 9)."""

    def __init__(self, *, may_bill: bool) -> None:
        self.patient = NewPatientForm()
        self.insurance = AuthorizationForm(prefix="insurance", meta=PART) if may_bill else None
        self.consent = ConsentForm(prefix="consent", meta=PART)
        self.screening = ScreeningForm(prefix="screening", meta=PART)
        self.screening.notes.label.text = "Screening notes"
        if self.insurance is not None:
            self.insurance.sessions_authorized.description = (
                "Sessions asked for or approved (0 while not known)."
            )
        self.consent.signer_name.label.text = "Signer's full name"
        self.consent.method.label.text = "How does the patient sign?"
        self.consent.typed_signature.label.text = "Type the signer's name to sign"

    def parts(self) -> dict[Section, FlaskForm]:
        parts: dict[Section, FlaskForm] = {Section.PATIENT: self.patient}
        if self.insurance is not None:
            parts[Section.INSURANCE] = self.insurance
        parts[Section.SCREENING] = self.screening
        parts[Section.CONSENT] = self.consent
        return parts

    def used(self, section: Section) -> bool:
        form = self.parts().get(section)
        return form is not None and (section == Section.PATIENT or _filled(form))

    def all(self) -> list[FlaskForm]:
        return list(self.parts().values())

    def validate(self) -> bool:
        """Check the registration and every part something was entered in, all at once."""
        valid = self.patient.validate_on_submit()
        for section, form in self.parts().items():
            if section != Section.PATIENT and self.used(section):
                valid = form.validate() and valid
        return valid

    def take(self) -> Intake:
        consent = None
        if self.used(Section.CONSENT):
            drawn = self.consent.method.data == SignatureMethod.DRAWN
            signature = self.consent.drawn_signature if drawn else self.consent.typed_signature
            consent = ConsentGiven(
                signer_name=self.consent.signer_name.data or "",
                method=self.consent.method.data or "",
                signature=signature.data or "",
            )
        return take_intake(
            self.patient.values(),
            actor_id=current_user.id,
            allow_duplicate=self.patient.allow_duplicate.data,
            insurance=self.insurance.values()
            if self.insurance is not None and self.used(Section.INSURANCE)
            else None,
            screening=ScreeningAnswers(self.screening.answers(), self.screening.notes.data)
            if self.used(Section.SCREENING)
            else None,
            consent=consent,
        )

    def show(self, refusal: DomainError) -> None:
        """Put a refusal on the part it came from (rolls the whole intake back)."""
        section = Section(refusal.details.get("section", Section.PATIENT))
        drawn = self.consent.method.data == SignatureMethod.DRAWN
        show_refusal(
            self.parts()[section],
            refusal,
            aliases={"consent.signature": "drawn_signature" if drawn else "typed_signature"},
        )


def _saved_message(done: Intake) -> str:
    parts = [f"{done.patient.full_name} registered with MRN {done.patient.mrn}"]
    if done.authorization is not None:
        parts.append(
            f"authorization from {done.authorization.payer} added ({done.authorization.status})"
        )
    if done.consent is not None:
        parts.append("TMS consent signed")
    if done.screening is not None:
        parts.append(f"screening recorded: {done.screening.result}")
    return "; ".join(parts) + "."


IDENTITY = ("first_name", "last_name", "date_of_birth")


def _typed_identity(form: NewPatientForm) -> tuple[str, str, date] | None:
    """The typed names and birth date, once all three pass registration's own checks."""
    checks = {name: PATIENT_CHECKS[name] for name in IDENTITY}
    cleaned, errors = validation.clean(
        checks, {name: form[name].data for name in IDENTITY}, partial=False
    )
    return (
        None if errors else (cleaned["first_name"], cleaned["last_name"], cleaned["date_of_birth"])
    )


@bp.route("/intake", methods=["GET", "POST"])
@requires(Permission.EDIT_PATIENTS)
def intake() -> Any:
    forms = IntakeForms(may_bill=current_user.can(Permission.BILLING))
    matches: list[Patient] = []
    status = 200
    if request.method == "POST":
        status = 422
        if forms.validate():
            try:
                done = forms.take()
            except DomainError as refusal:
                forms.show(refusal)
                status = refusal.status
            else:
                flash(_saved_message(done), "success")
                return redirect(url_for("patients.chart", patient_id=done.patient.id))
        # Shown again: the possible duplicates too, with the "another person" box as ticked.
        identity = _typed_identity(forms.patient)
        matches = find_duplicates(*identity) if identity else []
    return render_template(
        "web/intake.html",
        form=forms.patient,
        insurance=forms.insurance,
        consent=forms.consent,
        screening=forms.screening,
        forms_all=forms.all(),
        matches=matches,
        groups=screening_groups(),
        consent_text=consent_text(),
        consent_version=CONSENT_VERSION,
    ), status


@bp.route("/intake/duplicates")
@requires(Permission.EDIT_PATIENTS)
def intake_duplicates() -> Any:
    """The live duplicate check (htmx): the records with this name and birth date, once
    the three are filled in; a look-up is audited as a search."""
    form = NewPatientForm(formdata=request.args, meta=PART)
    identity = _typed_identity(form)
    matches = find_duplicates(*identity) if identity else []
    if identity:
        record(
            current_user.id,
            AuditAction.SEARCH,
            "patient",
            None,
            detail={"results": len(matches), "check": "duplicate"},
        )
    return render_template("web/_intake_duplicates.html", matches=matches, form=form)
