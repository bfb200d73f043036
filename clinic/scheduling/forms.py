"""Forms for the booking, move and admin pages (WTForms through Flask-WTF, with CSRF)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    HiddenField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, Length, Optional, ValidationError

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class DeviceForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=80)])
    model = StringField("Model", validators=[Optional(), Length(max=120)])
    room = StringField("Room", validators=[Optional(), Length(max=80)])
    # Unchecked here: the service answers an unknown site; absent means the first site.
    site_id = SelectField("Site", coerce=int, default=0, validate_choice=False)


class SiteForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    timezone = StringField(
        "Time zone", validators=[DataRequired(), Length(max=64)], default="America/New_York"
    )
    holidays = StringField(
        "Public holidays",
        validators=[DataRequired(), Length(max=20)],
        default="US",
        description="A country or state code such as US, US-CA, GB-SCT, or none.",
    )


class UserSitesForm(FlaskForm):
    site_ids = SelectMultipleField(
        "Sites", coerce=int, description="None selected: the user works at every site."
    )


class MaintenanceForm(FlaskForm):
    starts_at = DateTimeLocalField("Starts", format="%Y-%m-%dT%H:%M", validators=[DataRequired()])
    ends_at = DateTimeLocalField("Ends", format="%Y-%m-%dT%H:%M", validators=[DataRequired()])
    reason = StringField("Reason", validators=[Optional(), Length(max=200)])

    def validate_ends_at(self, field: DateTimeLocalField) -> None:
        if self.starts_at.data and field.data and field.data <= self.starts_at.data:
            raise ValidationError("Must be after the start.")


class HoursForm(FlaskForm):
    """Opening hours for each weekday; a weekday left empty is closed."""

    def day_fields(self) -> list[tuple[str, TimeField, TimeField]]:
        return [
            (name, getattr(self, f"opens_{day}"), getattr(self, f"closes_{day}"))
            for day, name in enumerate(WEEKDAY_NAMES)
        ]

    def validate(self, extra_validators: object = None) -> bool:
        valid = super().validate(extra_validators)
        for _name, opens, closes in self.day_fields():
            if (opens.data is None) != (closes.data is None):
                closes.errors.append("Give both times, or neither to close that day.")
                valid = False
            elif opens.data and closes.data and closes.data <= opens.data:
                closes.errors.append("Must be after the opening time.")
                valid = False
        return valid


for _day, _name in enumerate(WEEKDAY_NAMES):
    setattr(HoursForm, f"opens_{_day}", TimeField(f"{_name} opens", validators=[Optional()]))
    setattr(HoursForm, f"closes_{_day}", TimeField(f"{_name} closes", validators=[Optional()]))


class ClosureForm(FlaskForm):
    date = DateField("Date", validators=[DataRequired()])
    reason = StringField("Reason", validators=[Optional(), Length(max=200)])


class BookCourseForm(FlaskForm):
    start_date = DateField("First day", validators=[DataRequired()])
    time = TimeField("Time (patient's local time)", validators=[DataRequired()])
    device_id = SelectField("Chair", coerce=int, default=0)
    back_entry = BooleanField("These sessions already happened: this is a back-entry")
    """A start in the past is booked only when the user says so (the API needs no such word)."""
    previewed = HiddenField()
    """The choices last previewed: booking what the user has not seen is refused."""
    preview = SubmitField("Preview sessions")
    confirm = SubmitField("Book these sessions")

    def choices_key(self) -> str:
        return f"{self.start_date.data}|{self.time.data}|{self.device_id.data}"


class MoveForm(FlaskForm):
    slot = SelectField("New time and chair", validators=[Optional()], default="")
    technician_id = SelectField("Technician", coerce=int, default=0)


class ReasonForm(FlaskForm):
    reason = TextAreaField("Reason", validators=[Optional(), Length(max=2000)])
    no_show = BooleanField("The patient did not come (no-show)")
