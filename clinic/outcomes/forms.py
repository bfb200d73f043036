"""Forms: a questionnaire form built from the catalog, and the small staff forms."""

from __future__ import annotations

from functools import cache
from typing import Any

from flask_babel import lazy_gettext
from flask_wtf import FlaskForm
from wtforms import DateField, DateTimeLocalField, PasswordField, RadioField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Optional

from clinic.outcomes.catalog import Instrument, Item, default_catalog, get_instrument
from clinic.outcomes.instrument import ENGLISH


def answer_label(item: Item, value: int) -> str:
    """The printed answer wording; numeric scales keep their number next to the anchor."""
    label = item.label_for(value)
    if all(item.label_for(v) for v in range(item.min, item.max + 1)):
        return label or str(value)
    return f"{value} \u2013 {label}" if label else str(value)


@cache
def _questionnaire_form_class(code: str, language: str) -> type[FlaskForm]:
    instrument = get_instrument(code).in_language(language)
    fields: dict[str, Any] = {
        f"item_{item.number}": RadioField(
            f"{item.number}. {item.text}",
            choices=[SelectChoice(v, answer_label(item, v)) for v in range(item.min, item.max + 1)],
            coerce=int,
            validators=[InputRequired(message=lazy_gettext("Please choose an answer."))],
        )
        for item in instrument.items
    }
    return type(f"QuestionnaireForm_{instrument.code}_{language}", (FlaskForm,), fields)


def questionnaire_form(instrument: Instrument) -> FlaskForm:
    """One radio group per item, in order, with the instrument's published wording in the
    instrument's language (see `Instrument.in_language`)."""
    return _questionnaire_form_class(instrument.code, instrument.language)()


@cache
def _staff_form_class(code: str) -> type[FlaskForm]:
    administered = DateTimeLocalField(
        "Answered on",
        format="%Y-%m-%dT%H:%M",
        validators=[Optional()],
        description="When the patient filled it in (a paper form), clinic time. "
        "Leave empty for now.",
    )
    base = _questionnaire_form_class(code, ENGLISH)  # staff pages are in English
    return type(f"StaffQuestionnaireForm_{code}", (base,), {"administered_at": administered})


def staff_questionnaire_form(instrument: Instrument) -> FlaskForm:
    """The questionnaire with the time the patient answered, for staff entering a form."""
    return _staff_form_class(instrument.code)()


def answers_of(form: FlaskForm, instrument: Instrument) -> list[int]:
    return [form[f"item_{item.number}"].data for item in instrument.items]


def instrument_choices() -> list[SelectChoice]:
    return [
        SelectChoice(code, f"{code} \u2013 {spec.name}") for code, spec in default_catalog().items()
    ]


class InstrumentForm(FlaskForm):
    """Pick a questionnaire (for tablet mode or a patient link)."""

    instrument = SelectField("Questionnaire", choices=instrument_choices)


class UnlockForm(FlaskForm):
    password = PasswordField(
        "Staff password", validators=[DataRequired(message="Enter your password.")]
    )


class ReportFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    start = DateField("Courses first treated from", validators=[Optional()])
    end = DateField("to (inclusive)", validators=[Optional()])
