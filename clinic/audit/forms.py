"""The admin's filter over the audit trail."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, StringField
from wtforms.validators import Length, NumberRange, Optional

ENTITY_TYPES = [
    "",
    "patient",
    "screening",
    "user",
    "course",
    "appointment",
    "treatment",
    "response",
    "alert",
]


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    entity_type = SelectField(
        "Entity", choices=[(t, t.capitalize() or "Any") for t in ENTITY_TYPES], default=""
    )
    entity_id = IntegerField("Entity id", validators=[Optional(), NumberRange(min=1)])
    actor_id = IntegerField("User id", validators=[Optional(), NumberRange(min=1)])
    action = StringField("Action", validators=[Optional(), Length(max=40)])
    since = DateField("From", validators=[Optional()])
    until = DateField("To (inclusive)", validators=[Optional()])
