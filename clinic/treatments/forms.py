"""Forms for the session log, amendments and the review queue."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FloatField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from clinic.treatments.coil_target import MEASUREMENTS, METHOD_LABELS
from clinic.treatments.fields import AMENDABLE_FIELDS
from clinic.treatments.models import (
    SIDE_EFFECTS,
    AdverseEventSeverity,
    AdverseEventType,
    CoilTargetMethod,
    ThresholdMethod,
)


def _label(code: str) -> str:
    return code.replace("_", " ").capitalize()


class TreatmentLogForm(FlaskForm):
    motor_threshold_pct = IntegerField(
        "New motor threshold (% of machine output)",
        validators=[Optional(), NumberRange(min=1, max=100)],
        render_kw={"inputmode": "numeric", "min": 1, "max": 100},
    )
    motor_threshold_method = SelectField(
        "Threshold method",
        choices=[SelectChoice(m, "EMG" if m == "emg" else _label(m)) for m in ThresholdMethod],
        default="visual",
    )
    intensity_pct_mt = IntegerField(
        "Intensity (% of motor threshold)",
        validators=[InputRequired(), NumberRange(min=1)],
        render_kw={"inputmode": "numeric", "min": 1},
    )
    pulses_delivered = IntegerField(
        "Pulses delivered",
        validators=[InputRequired(), NumberRange(min=0)],
        render_kw={"inputmode": "numeric", "min": 0},
    )
    completed = BooleanField("Session completed as planned", default=True)
    stop_reason = TextAreaField(
        "Why the session stopped early", validators=[Optional(), Length(max=2000)]
    )
    coil_location = StringField("Coil position", validators=[Optional(), Length(max=200)])
    side_effects = SelectMultipleField(
        "Side effects", choices=[SelectChoice(code, _label(code)) for code in SIDE_EFFECTS]
    )
    comfort_score = IntegerField(
        "Comfort (0 = very uncomfortable, 10 = fully comfortable)",
        validators=[Optional(), NumberRange(min=0, max=10)],
        render_kw={"inputmode": "numeric", "min": 0, "max": 10},
    )
    adverse_event_type = SelectField(
        "Adverse event",
        choices=[SelectChoice("", "None")] + [SelectChoice(t, _label(t)) for t in AdverseEventType],
        default="",
    )
    adverse_event_severity = SelectField(
        "Severity",
        choices=[SelectChoice("", "Not applicable")]
        + [SelectChoice(s, _label(s)) for s in AdverseEventSeverity],
        default="",
    )
    adverse_event_description = TextAreaField(
        "What happened", validators=[Optional(), Length(max=2000)]
    )
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=4000)])
    supervisor_id = SelectField(
        "Supervising physician on duty",
        coerce=int,
        validators=[Optional()],  # none sent: the course's prescriber, as in the API
    )
    save = SubmitField("Save log")
    save_and_sign = SubmitField("Save and sign")
    """Log and sign in one step: the author may always sign their own log."""


class CoilTargetForm(FlaskForm):
    method = SelectField(
        "Method", choices=[SelectChoice(m, METHOD_LABELS[m]) for m in CoilTargetMethod]
    )
    nasion_inion_cm = FloatField("Nasion to inion (cm)", validators=[Optional()])
    tragus_tragus_cm = FloatField("Tragus to tragus (cm)", validators=[Optional()])
    head_circumference_cm = FloatField("Head circumference (cm)", validators=[Optional()])
    distance_cm = FloatField("Distance anterior to the motor hotspot (cm)", validators=[Optional()])
    mni_x = FloatField("MNI x (mm)", validators=[Optional()])
    mni_y = FloatField("MNI y (mm)", validators=[Optional()])
    mni_z = FloatField("MNI z (mm)", validators=[Optional()])
    description = TextAreaField(
        "Description", validators=[Optional(), Length(max=2000)], description="Required for other."
    )

    def measurements(self) -> dict[str, float]:
        """The measurements of the chosen method that were filled in (the service names
        a missing one)."""
        wanted = MEASUREMENTS.get(self.method.data or "", {})
        return {
            name: getattr(self, name).data
            for name in wanted
            if getattr(self, name).data is not None
        }


class AmendmentForm(FlaskForm):
    field = SelectField(
        "Field",
        choices=[
            SelectChoice(name, _label(name)) for name in AMENDABLE_FIELDS if name != "adverse_event"
        ],
    )
    value = StringField(
        "New value",
        validators=[Length(max=4000)],
        description="Side effects: codes separated by commas. Leave empty to clear.",
    )
    reason = StringField(
        "Reason for the correction", validators=[InputRequired(), Length(max=2000)]
    )


class ActionForm(FlaskForm):
    """A button that only needs CSRF protection (check-in, sign, review)."""
