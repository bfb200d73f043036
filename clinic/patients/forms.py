"""Intake forms. They only parse input into Python types; `services` holds the rules and
its field errors are shown inline on the same fields (see `routes.show_errors`)."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
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
from clinic.patients.models import AuthorizationStatus, MedicationCategory, Patient
from clinic.patients.screening import SCREENING_ITEMS, ScreeningItem, items_of_class

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
    address = StringField(
        "Address",
        validators=[Length(max=200)],
        description="street, city, ST 12345 (claims need it)",
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
    psychotherapy = TextAreaField(
        "Psychotherapy tried",
        validators=[Length(max=2000)],
        description="Kind, how long, outcome (the authorization packet shows it).",
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


class NewPatientForm(PatientForm):
    """Registration: the intake fields, and the answer to "is this another person?"
    that a possible duplicate asks for."""

    allow_duplicate = BooleanField("This is another person: register anyway")

    def values(self) -> dict[str, Any]:
        values = super().values()
        del values["allow_duplicate"]
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


class MedicationForm(ServiceForm):
    """A current medication; the service turns the dose into MME or diazepam mg."""

    drug = StringField(
        "Drug", validators=[InputRequired(), Length(max=120)], description="Generic name"
    )
    category = SelectField(
        "Category",
        choices=[SelectChoice(c.value, c.value.capitalize()) for c in MedicationCategory],
    )
    dose_mg = DecimalField("Dose (mg)", places=None, validators=[Optional(), NumberRange(min=0)])
    doses_per_day = DecimalField(
        "Doses a day", places=None, validators=[Optional(), NumberRange(min=0, max=48)]
    )
    dose_mcg_per_hour = DecimalField(
        "Patch rate (mcg/h)",
        places=None,
        validators=[Optional(), NumberRange(min=0)],
        description="Transdermal fentanyl only.",
    )
    started_on = DateField("Started", validators=[Optional()])
    stopped_on = DateField(
        "Stopped", validators=[Optional()], description="The first day it was no longer taken."
    )

    def values(self) -> dict[str, Any]:
        """Doses as floats, as the API sends them."""
        return {
            name: float(value) if name.startswith("dose") and value is not None else value
            for name, value in super().values().items()
        }


class AuthorizationForm(ServiceForm):
    payer = StringField("Payer", validators=[InputRequired(), Length(max=120)])
    member_id = StringField("Member id", validators=[Length(max=60)])
    payer_id = StringField(
        "Payer id", validators=[Length(max=80)], description="The payer's id on claims (837P)."
    )
    number = StringField("Authorization number", validators=[Length(max=60)])
    sessions_authorized = IntegerField(
        "Sessions authorized", validators=[InputRequired(), NumberRange(min=0, max=1000)]
    )
    valid_from = DateField("Valid from", validators=[Optional()])
    valid_to = DateField("Valid to", validators=[Optional()])
    status = SelectField(
        "Status",
        choices=[
            SelectChoice(status.value, status.value.capitalize()) for status in AuthorizationStatus
        ],
        default=AuthorizationStatus.DRAFT.value,
        description="Only approved authorizations count on a course's meter.",
    )
    requested_on = DateField("Requested on", validators=[Optional()])
    decided_on = DateField("Decided on", validators=[Optional()])


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


def screening_groups() -> list[tuple[str, list[ScreeningItem]]]:
    """The questions as the screening pages show them: a titled group per item class."""
    return [
        ("Absolute contraindications: any yes rules TMS out", items_of_class("absolute")),
        (
            "Relative contraindications: any yes needs a clinician's review",
            items_of_class("relative"),
        ),
    ]


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
