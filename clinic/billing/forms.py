"""Billing pages' forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DecimalField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from clinic.billing.models import ANY_PAYER, Cpt


class FeeForm(FlaskForm):
    payer = StringField(
        "Payer",
        default=ANY_PAYER,
        validators=[DataRequired(), Length(max=120)],
        description="As written on its authorizations; * prices every other payer.",
    )
    cpt = SelectField("CPT", choices=[SelectChoice(code.value, code.value) for code in Cpt])
    amount = DecimalField(
        "Fee (USD)", places=2, validators=[InputRequired(), NumberRange(min=0, max=99999.99)]
    )
