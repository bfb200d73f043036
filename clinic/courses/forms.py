"""Forms for prescribing, editing and ending courses, and for clinic protocols."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    FloatField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from clinic.courses.models import CourseKind, CourseStatus, SchedulePattern
from clinic.courses.protocols import MAX_PCT_MT, MAX_PLANNED_SESSIONS

STATUS_LABELS = {
    "active": "Active",
    "on_hold": "On hold",
    "completed": "Completed",
    "discontinued": "Discontinued",
}
PATTERN_LABELS = {
    "daily_taper": "Daily, then a three-week taper",
    "accelerated": "Accelerated: several a day",
    "daily_then_weekly": "Five daily, then weekly",
}


KIND_LABELS = {
    CourseKind.ACUTE: "Acute (a first course)",
    CourseKind.EXTENSION: "Extension (continues a course that helped partly)",
    CourseKind.RETREATMENT: "Retreatment (a relapse after an earlier response)",
    CourseKind.MAINTENANCE: "Maintenance",
}
# The prescribe page's pattern presets (CONTRACT 7 shapes): what payers and devices ask for.
PATTERN_PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    "medicare": ("Medicare: 20 daily, then a 5-session taper (25)", {"daily": 20, "taper": [3, 2]}),
    "extension": (
        "Extension: 10 daily, then a 6-session taper (16)",
        {"daily": 10, "taper": [3, 2, 1]},
    ),
    "brainsway-h1": (
        "BrainsWay H1: 20 daily, then twice weekly for 12 weeks (44)",
        {"daily": 20, "weekly": {"per_week": 2, "weeks": 12}},
    ),
    "maintenance-weekly": (
        "Maintenance series: once a week for 12 weeks (12)",
        {"daily": 0, "weekly": {"per_week": 1, "weeks": 12}},
    ),
}
CUSTOM_PATTERN = "custom"


def _blank_to_none(value: Any) -> Any:
    return value.strip() or None if isinstance(value, str) else value


class TitrationField(StringField):
    """Titration steps typed as "session:%MT" pairs, e.g. "1:100, 2:110, 3:120"; the
    service checks the steps against the prescription."""

    def _value(self) -> str:
        steps = self.data or []
        return ", ".join(f"{step['session']}:{step['pct_mt']}" for step in steps)

    def process_formdata(self, valuelist: list[Any]) -> None:
        text = (valuelist[0] if valuelist else "") or ""
        steps: list[dict[str, int]] = []
        self.data = steps
        for pair in filter(None, (part.strip() for part in text.split(","))):
            session, _, pct = pair.partition(":")
            try:
                steps.append({"session": int(session), "pct_mt": int(pct)})
            except ValueError:
                raise ValueError(
                    'Write each step as session:%MT, separated by commas, e.g. "1:100, 3:120".'
                ) from None


def _titration_field() -> TitrationField:
    return TitrationField(
        "Dose titration (session:%MT)",
        description='Optional, e.g. "1:100, 2:110, 3:120": each step holds from that session '
        "on and the last is the prescribed intensity. Leave empty for the full dose from "
        "the first session.",
    )


class PrescribeForm(FlaskForm):
    protocol = SelectField("Protocol", validators=[InputRequired()])
    kind = SelectField(
        "Kind of course",
        choices=[SelectChoice(kind, label) for kind, label in KIND_LABELS.items()],
        default=CourseKind.ACUTE,
    )
    previous_course_id = SelectField(
        "Continues course",
        coerce=int,
        default=0,
        description="Required for an extension or a retreatment.",
    )
    pattern_preset = SelectField(
        "Pattern",
        choices=[SelectChoice("", "The protocol's pattern")]
        + [SelectChoice(code, label) for code, (label, _shape) in PATTERN_PRESETS.items()]
        + [SelectChoice(CUSTOM_PATTERN, "Custom (below)")],
        default="",
        description="A preset sets the planned sessions; leave those empty.",
    )
    pattern_daily = IntegerField(
        "Daily sessions", validators=[Optional(), NumberRange(min=0, max=MAX_PLANNED_SESSIONS)]
    )
    pattern_taper = StringField(
        "Taper weeks",
        validators=[Optional(), Length(max=60)],
        filters=[_blank_to_none],
        description="Sessions in each taper week, e.g. 3, 2, 1.",
    )
    pattern_per_week = IntegerField(
        "Then sessions a week", validators=[Optional(), NumberRange(min=1, max=5)]
    )
    pattern_weeks = IntegerField("For weeks", validators=[Optional(), NumberRange(min=1, max=52)])
    planned_sessions = IntegerField(
        "Planned sessions",
        validators=[Optional(), NumberRange(min=1, max=MAX_PLANNED_SESSIONS)],
        description="Leave empty for the protocol's default.",
    )
    prescribed_pct_mt = IntegerField(
        "Prescribed intensity (% of motor threshold)",
        validators=[Optional(), NumberRange(min=1, max=MAX_PCT_MT)],
        description="Leave empty for the protocol's. Above it needs a reason.",
    )
    pct_mt_reason = TextAreaField(
        "Reason for an intensity above the protocol's",
        validators=[Optional(), Length(max=2000)],
        filters=[_blank_to_none],
    )
    titration = _titration_field()
    target = StringField(
        "Target",
        validators=[Optional(), Length(max=120)],
        filters=[_blank_to_none],
        description="Leave empty for the protocol's target.",
    )
    notes = TextAreaField(
        "Notes", validators=[Optional(), Length(max=5000)], filters=[_blank_to_none]
    )
    prescriber_id = SelectField("Prescriber", coerce=int)
    authorization_id = SelectField(
        "Existing authorization", coerce=int, description="Or enter a new one below."
    )
    payer = StringField("Payer", validators=[Optional(), Length(max=120)], filters=[_blank_to_none])
    number = StringField(
        "Authorization number", validators=[Optional(), Length(max=60)], filters=[_blank_to_none]
    )
    sessions_authorized = IntegerField(
        "Sessions authorized", validators=[Optional(), NumberRange(min=1, max=1000)]
    )
    valid_from = DateField("Valid from", validators=[Optional()])
    valid_to = DateField("Valid to", validators=[Optional()])

    AUTHORIZATION_FIELDS = ("payer", "number", "sessions_authorized", "valid_from", "valid_to")

    def pattern(self) -> Any:
        """The course's own pattern: a preset's, the custom fields' (checked by the
        service, which names what is wrong), or None for the protocol's."""
        choice = self.pattern_preset.data
        if choice in PATTERN_PRESETS:
            return PATTERN_PRESETS[choice][1]
        if choice != CUSTOM_PATTERN:
            return None
        shape: dict[str, Any] = {"daily": self.pattern_daily.data or 0}
        taper = self.pattern_taper.data
        if taper:
            parts = [part.strip() for part in taper.split(",")]
            shape["taper"] = [int(part) if part.isdigit() else part for part in parts]
        if self.pattern_per_week.data or self.pattern_weeks.data:
            shape["weekly"] = {
                "per_week": self.pattern_per_week.data,
                "weeks": self.pattern_weeks.data,
            }
        return shape

    def new_authorization(self) -> dict[str, Any] | None:
        """The new authorization's fields, when any was filled in."""
        values = {name: getattr(self, name).data for name in self.AUTHORIZATION_FIELDS}
        return values if any(value is not None for value in values.values()) else None


class CourseEditForm(FlaskForm):
    planned_sessions = IntegerField(
        "Planned sessions",
        validators=[InputRequired(), NumberRange(min=1, max=MAX_PLANNED_SESSIONS)],
    )
    prescribed_pct_mt = IntegerField(
        "Prescribed intensity (% of motor threshold)",
        validators=[InputRequired(), NumberRange(min=1, max=MAX_PCT_MT)],
    )
    pct_mt_reason = TextAreaField(
        "Reason for an intensity above the protocol's",
        validators=[Optional(), Length(max=2000)],
        filters=[_blank_to_none],
    )
    titration = _titration_field()
    target = StringField(
        "Target", validators=[Optional(), Length(max=120)], filters=[_blank_to_none]
    )
    notes = TextAreaField(
        "Notes", validators=[Optional(), Length(max=5000)], filters=[_blank_to_none]
    )


class CourseStatusForm(FlaskForm):
    status = SelectField(
        "New status",
        choices=[SelectChoice(status, STATUS_LABELS[status]) for status in CourseStatus],
    )
    reason = TextAreaField(
        "Reason",
        validators=[Optional(), Length(max=2000)],
        filters=[_blank_to_none],
        description="Required for on hold and discontinued.",
    )


class _ProtocolValues:
    """`values()`: the filled-in fields as the protocol services take them."""

    OPTIONAL_NUMBERS = ("inter_train_seconds", "min_gap_minutes", "setup_buffer_minutes")

    def values(self) -> dict[str, Any]:
        values = {
            name: field.data
            for name, field in self._fields.items()  # type: ignore[attr-defined]
            if name != "csrf_token"
        }
        for name in self.OPTIONAL_NUMBERS:
            if name in values and values[name] is None:
                values.pop(name)
        return values


class ProtocolSettingsForm(_ProtocolValues, FlaskForm):
    """What a clinic may change on a published preset."""

    setup_buffer_minutes = IntegerField(
        "Set-up buffer (minutes)",
        validators=[InputRequired()],
        description="Chair time added to each session: 0 to 60.",
    )
    active = BooleanField("Offered for new courses")


class ProtocolForm(_ProtocolValues, FlaskForm):
    code = StringField(
        "Code",
        validators=[InputRequired(), Length(min=2, max=40)],
        description="Lower-case letters, digits and dashes, e.g. 5hz-ldlpfc.",
    )
    name = StringField("Name", validators=[InputRequired(), Length(max=120)])
    indication = StringField("Indication", validators=[InputRequired(), Length(max=120)])
    target = StringField("Target", validators=[InputRequired(), Length(max=120)])
    frequency_hz = FloatField("Frequency (Hz)", validators=[InputRequired()])
    frequency_note = StringField(
        "Frequency note", validators=[Optional(), Length(max=120)], filters=[_blank_to_none]
    )
    pulses_per_train = IntegerField("Pulses per train", validators=[InputRequired()])
    train_seconds = FloatField("Train duration (s)", validators=[InputRequired()])
    inter_train_seconds = FloatField("Inter-train interval (s)", validators=[Optional()], default=0)
    trains = IntegerField("Trains", validators=[InputRequired()])
    total_pulses = IntegerField(
        "Total pulses",
        validators=[Optional()],
        description="Optional: checked against trains x pulses per train.",
    )
    intensity_pct_mt = IntegerField(
        "Intensity (% of motor threshold)", validators=[InputRequired()]
    )
    default_sessions = IntegerField("Default sessions", validators=[InputRequired()])
    pattern = SelectField(
        "Pattern", choices=[SelectChoice(p, PATTERN_LABELS[p]) for p in SchedulePattern]
    )
    sessions_per_day = IntegerField(
        "Sessions a day", default=1, validators=[InputRequired()], description="Accelerated only."
    )
    min_gap_minutes = IntegerField(
        "Minutes between sessions",
        default=0,
        validators=[Optional()],
        description="Accelerated only.",
    )
    setup_buffer_minutes = IntegerField(
        "Set-up buffer (minutes)",
        default=10,
        validators=[Optional()],
        description="Chair time added to each session: 0 to 60.",
    )
    reference = StringField(
        "Reference", validators=[Optional(), Length(max=200)], filters=[_blank_to_none]
    )
    active = BooleanField("Offered for new courses", default=True)
