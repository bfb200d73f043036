"""Intake forms. They only parse input into Python types; `services` holds the rules and
its field errors are shown inline on the same fields (see `routes.show_errors`)."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TelField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from clinic.patients import icd10
from clinic.patients.intake import SEXES
from clinic.patients.models import Patient
from clinic.patients.screening import SCREENING_ITEMS

SEX_CHOICES = [SelectChoice("", "Not recorded")] + [
    SelectChoice(sex, sex.capitalize()) for sex in SEXES
]
CHANNEL_CHOICES = [
    SelectChoice("none", "No reminders"),
    SelectChoice("sms", "Text message (SMS)"),
    SelectChoice("email", "Email"),
]
LANGUAGE_CHOICES = [SelectChoice("en", "English"), SelectChoice("es", "Spanish (español)")]
YES_NO = [SelectChoice("yes", "Yes"), SelectChoice("no", "No")]


class SearchForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search changes nothing

    q = StringField(
        "Name or MRN",
        validators=[Optional(), Length(max=100)],
        render_kw={"type": "search", "autocomplete": "off"},
    )


class ServiceForm(FlaskForm):
    """A form whose fields are named like the service's values."""

    def values(self) -> dict[str, Any]:
        return {name: field.data for name, field in self._fields.items() if name != "csrf_token"}


class PatientForm(ServiceForm):
    first_name = StringField("First name", validators=[InputRequired(), Length(max=100)])
    last_name = StringField("Last name", validators=[InputRequired(), Length(max=100)])
    date_of_birth = DateField("Date of birth", validators=[InputRequired()])
    sex = SelectField("Sex", choices=SEX_CHOICES, default="")
    email = EmailField("Email", validators=[Optional(), Length(max=254)])
    phone = TelField(
        "Mobile phone",
        validators=[Optional(), Length(max=40)],
        description="US numbers without +1 are fine; stored as +15555550123.",
    )
    preferred_channel = RadioField("Reminders by", choices=CHANNEL_CHOICES, default="none")
    language = RadioField(
        "Language",
        choices=LANGUAGE_CHOICES,
        default="en",
        description="Questionnaire links, reminders and calendar files come in this language.",
    )
    sms_consent = BooleanField("Consents to text messages")
    email_consent = BooleanField("Consents to email")
    timezone = StringField(
        "Time zone",
        validators=[Optional(), Length(max=64)],
        description="IANA name such as America/Chicago; leave empty for the clinic's.",
    )
    diagnoses = StringField(
        "Diagnoses (ICD-10-CM)",
        validators=[Optional(), Length(max=400)],
        description="Codes separated by commas, e.g. F33.1, G89.29, M79.7",
    )
    referring_provider = StringField("Referring provider", validators=[Length(max=200)])
    emergency_contact_name = StringField("Emergency contact", validators=[Length(max=200)])
    emergency_contact_phone = TelField(
        "Emergency contact phone", validators=[Optional(), Length(max=40)]
    )
    pain_sites = StringField(
        "Chronic pain sites", validators=[Length(max=300)], description="e.g. lower back, neck"
    )
    pain_duration_months = IntegerField(
        "Pain duration (months)", validators=[Optional(), NumberRange(min=0, max=1200)]
    )
    notes = TextAreaField("Notes", validators=[Length(max=5000)])

    def fill_from(self, patient: Patient) -> None:
        """Show a patient's current values (codes as one comma-separated box)."""
        self.process(obj=patient)
        self.sex.data = patient.sex or ""
        self.diagnoses.data = ", ".join(diagnosis.code for diagnosis in patient.diagnoses)

    def values(self) -> dict[str, Any]:
        """The submission as service values (the codes box split into a list)."""
        values = super().values()
        values["diagnoses"] = icd10.split_codes(self.diagnoses.data)
        return values


class MedicationTrialForm(ServiceForm):
    drug = StringField("Drug", validators=[InputRequired(), Length(max=120)])
    drug_class = StringField(
        "Class", validators=[Length(max=80)], description="e.g. SSRI, SNRI, TCA, augmentation"
    )
    dose = StringField("Dose", validators=[Length(max=80)], description="e.g. 150 mg daily")
    start_date = DateField("Started", validators=[Optional()])
    stop_date = DateField("Stopped", validators=[Optional()])
    weeks_at_dose = IntegerField(
        "Weeks at this dose", validators=[Optional(), NumberRange(min=0, max=520)]
    )
    reason_stopped = StringField(
        "Reason stopped",
        validators=[Length(max=200)],
        description="e.g. no response, side effects",
    )


class AuthorizationForm(ServiceForm):
    payer = StringField("Payer", validators=[InputRequired(), Length(max=120)])
    member_id = StringField("Member id", validators=[Length(max=60)])
    number = StringField("Authorization number", validators=[Length(max=60)])
    sessions_authorized = IntegerField(
        "Sessions authorized", validators=[InputRequired(), NumberRange(min=0, max=1000)]
    )
    valid_from = DateField("Valid from", validators=[Optional()])
    valid_to = DateField("Valid to", validators=[Optional()])


class SignOffForm(FlaskForm):
    note = TextAreaField(
        "Clinical note",
        validators=[InputRequired(), Length(max=2000)],
        description="Why treatment may go ahead despite the positive items.",
    )


class ScreeningForm(FlaskForm):
    """One yes/no question per screening item (fields named by item code), plus notes."""

    notes = TextAreaField("Notes", validators=[Length(max=5000)])

    def answers(self) -> dict[str, bool]:
        return {item.code: self[item.code].data == "yes" for item in SCREENING_ITEMS}


for _item in SCREENING_ITEMS:
    setattr(
        ScreeningForm,
        _item.code,
        RadioField(
            _item.question,
            choices=YES_NO,
            validators=[InputRequired(message="Answer yes or no.")],
        ),
    )
