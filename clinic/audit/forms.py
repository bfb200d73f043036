"""The admin's filter over the audit trail."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, NumberRange, Optional, ValidationError

from clinic.paging import CursorField

MAX_ID = 2**31 - 1  # the database's integer: a larger id cannot exist

# Offered as suggestions; any entity type a feature records can be typed in.
KNOWN_ENTITY_TYPES = (
    "patient",
    "screening",
    "user",
    "role",
    "course",
    "appointment",
    "treatment",
    "response",
    "alert",
    "device",
    "reminder",
)


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    entity_type = StringField(
        "Entity type", validators=[Optional(), Length(max=40)], description="e.g. patient, user"
    )
    entity_id = IntegerField("Entity id", validators=[Optional(), NumberRange(min=1, max=MAX_ID)])
    actor_id = SelectField("User", choices=[SelectChoice("", "Anyone")], default="")
    action = StringField("Action", validators=[Optional(), Length(max=40)])
    since = DateField("From", validators=[Optional()])
    until = DateField("To (inclusive)", validators=[Optional()])
    cursor = CursorField(validators=[Optional(), Length(max=200)])

    def validate_until(self, field: DateField) -> None:
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError("The end date is before the start date.")
