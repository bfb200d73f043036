"""The acknowledgement form: a note saying what was done is the point of acknowledging."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from clinic.alerts.services import MAX_NOTE_LENGTH


class AcknowledgeForm(FlaskForm):
    note = TextAreaField(
        "What was done",
        validators=[DataRequired(message="A note is required."), Length(max=MAX_NOTE_LENGTH)],
        description="For example: called the patient, safety plan reviewed.",
    )
