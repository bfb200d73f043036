"""The acknowledgement form: a note saying what was done is the point of acknowledging; a
suicidal-ideation alert also carries the clinician's ASQ screen. And the page's cursor
through the acknowledged history."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from clinic.alerts.risk_screen import INSTRUMENT
from clinic.alerts.services import MAX_NOTE_LENGTH
from clinic.paging import CursorField

YES_NO = [SelectChoice("yes", "Yes"), SelectChoice("no", "No")]


def _asq_answer() -> RadioField:
    return RadioField(choices=YES_NO, validators=[Optional()])


class AcknowledgeForm(FlaskForm):
    note = TextAreaField(
        "What was done",
        validators=[DataRequired(message="A note is required."), Length(max=MAX_NOTE_LENGTH)],
        description="For example: called the patient, safety plan reviewed.",
    )
    risk_screen = BooleanField()  # set by the suicidal-ideation alert's form
    asq_1 = _asq_answer()
    asq_2 = _asq_answer()
    asq_3 = _asq_answer()
    asq_4 = _asq_answer()
    asq_5 = _asq_answer()

    def screen(self) -> dict[str, Any] | None:
        """The ASQ as the service takes it: a question left unanswered stays None (and is
        refused), and a fifth "no" after four noes is the page's way of not asking it."""
        if not self.risk_screen.data:
            return None
        values = [self.asq_1.data, self.asq_2.data, self.asq_3.data, self.asq_4.data]
        answers: list[bool | None] = [None if value is None else value == "yes" for value in values]
        acuity = self.asq_5.data
        if acuity is not None and (any(answers) or acuity == "yes"):
            answers.append(acuity == "yes")
        elif any(answers):
            answers.append(None)
        return {"instrument": INSTRUMENT, "answers": answers}


class ClearFlagForm(FlaskForm):
    note = TextAreaField(
        "Safety assessment done",
        validators=[DataRequired(message="A note is required."), Length(max=MAX_NOTE_LENGTH)],
    )


class HistoryForm(FlaskForm):
    """Which page of the acknowledged alerts the alerts page shows (a GET: no CSRF)."""

    class Meta:
        csrf = False

    cursor = CursorField(validators=[Optional(), Length(max=200)])
