"""Forms: the reminder policy, message templates, patients' answers, the daily-schedule opt-in."""

from __future__ import annotations

from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields import TimeField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from clinic.paging import CursorField
from clinic.reminders.models import ReminderStatus
from clinic.reminders.policy import MAX_OFFSET_MINUTES


class PolicyForm(FlaskForm):
    email_enabled = BooleanField("Send email reminders")
    email_offset_minutes = IntegerField(
        "Email: minutes before the appointment",
        validators=[InputRequired(), NumberRange(min=0, max=MAX_OFFSET_MINUTES)],
        description="1440 = 24 hours, counted as the same local time the day before.",
    )
    sms_enabled = BooleanField("Send text-message (SMS) reminders")
    sms_offset_minutes = IntegerField(
        "SMS: minutes before the appointment",
        validators=[InputRequired(), NumberRange(min=0, max=MAX_OFFSET_MINUTES)],
    )
    quiet_start = TimeField(
        "Quiet hours begin",
        validators=[InputRequired()],
        description="In the patient's time zone; a reminder due later moves earlier.",
    )
    quiet_end = TimeField("Quiet hours end", validators=[InputRequired()])
    remind_treatment = BooleanField("Remind treatment appointments")
    remind_mapping = BooleanField("Remind mapping (motor threshold) appointments")
    send_questionnaire_links = BooleanField("Send questionnaire links to patients")
    send_alert_escalations = BooleanField("Email clinicians about escalated alerts")
    send_daily_schedule = BooleanField("Send the daily schedule to staff who opted in")
    submit = SubmitField("Save policy")


class TemplateForm(FlaskForm):
    subject = StringField("Subject", validators=[Optional(), Length(max=200)])
    body = TextAreaField("Message", validators=[InputRequired(), Length(max=5000)])
    preview = SubmitField("Preview")
    save = SubmitField("Save template")


class ConfirmForm(FlaskForm):
    """A patient's form: its words are translated (see clinic/i18n.py)."""

    submit = SubmitField(lazy_gettext("Yes, I will come"))


class ChangeRequestForm(FlaskForm):
    """A patient's form: its words are translated (see clinic/i18n.py)."""

    message = TextAreaField(
        lazy_gettext("What would suit you better? (optional)"),
        validators=[Optional(), Length(max=1000)],
        description=lazy_gettext(
            "For example: mornings only next week. Please do not include medical details."
        ),
    )
    submit = SubmitField(lazy_gettext("Ask for a change"))


class HandledForm(FlaskForm):
    submit = SubmitField("Mark handled")


class DailyScheduleForm(FlaskForm):
    wants_daily_schedule = BooleanField("Email me the day's schedule every morning")
    submit = SubmitField("Save")


class ReminderFilterForm(FlaskForm):
    class Meta:
        csrf = False

    status = SelectField(
        "Status",
        choices=[SelectChoice("", "Any")]
        + [SelectChoice(s, s.capitalize()) for s in ReminderStatus],
        default="",
    )
    cursor = CursorField(validators=[Optional(), Length(max=200)])
