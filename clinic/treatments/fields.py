"""The rules of a log's fields, shared by logging a session, editing an unsigned log and
amending any log: what each field may hold given the course's prescription and protocol.
"""

from __future__ import annotations

from typing import Any

from clinic.courses.models import Course, Protocol
from clinic.errors import Invalid
from clinic.patients.validation import FieldErrors, text
from clinic.treatments.models import (
    SIDE_EFFECTS,
    AdverseEventSeverity,
    AdverseEventType,
    TreatmentLog,
)
from clinic.treatments.supervision import resolve_supervisor
from clinic.treatments.thresholds import dose_pct_output

MAX_DEVICE_OUTPUT_PCT = 100
MAX_TEXT = 2000
MAX_LOCATION = 200
# Fields a log's author or a clinician may correct after the fact (never `completed`:
# whether a session was delivered changes the course's count and is a new log's business).
AMENDABLE_FIELDS = (
    "intensity_pct_mt",
    "pulses_delivered",
    "coil_location",
    "stop_reason",
    "side_effects",
    "comfort_score",
    "adverse_event",
    "notes",
    "supervisor_id",
)


class FieldError(Exception):
    """One field's refusal, its message for the person who typed it."""


def whole_number(value: Any, low: int, high: int, message: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise FieldError(message)
    return value


def clean_text(value: Any, limit: int, *, required: bool = False) -> str | None:
    """The intake rule for text (trimmed, bounded, storable), as a `FieldError`."""
    errors = FieldErrors()
    cleaned = text(limit, required=required, multiline=True)(errors, "value", value)
    if errors:
        raise FieldError(errors.fields["value"][0])
    return cleaned


def _side_effects(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(code, str) for code in value):
        raise FieldError("Give a list of side-effect codes.")
    unknown = [code for code in value if code not in SIDE_EFFECTS]
    if unknown:
        raise FieldError(
            f"Unknown side effect {unknown[0]!r}; use: {', '.join(SIDE_EFFECTS)}."[:300]
        )
    return list(dict.fromkeys(value))


def _adverse_event(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - {"type", "severity", "description"}:
        raise FieldError("Give {type, severity, description}.")
    if value.get("type") not in tuple(AdverseEventType):
        raise FieldError(f"Adverse event type must be one of: {', '.join(AdverseEventType)}.")
    if value.get("severity") not in tuple(AdverseEventSeverity):
        raise FieldError(
            f"Adverse event severity must be one of: {', '.join(AdverseEventSeverity)}."
        )
    return {
        "type": value["type"],
        "severity": value["severity"],
        "description": clean_text(value.get("description"), MAX_TEXT),
    }


def _check_field(
    name: str, value: Any, course: Course, *, motor_threshold_pct: int | None, completed: bool
) -> Any:
    """Validate one log field against the course's prescription; return the clean value."""
    protocol: Protocol = course.protocol
    if name == "intensity_pct_mt":
        intensity = whole_number(
            value,
            1,
            course.prescribed_pct_mt,
            f"Intensity must be 1 to {course.prescribed_pct_mt}% MT: the course prescribes "
            f"{course.prescribed_pct_mt}% MT and a session may never exceed it.",
        )
        if (
            motor_threshold_pct is not None
            and dose_pct_output(intensity, motor_threshold_pct) > MAX_DEVICE_OUTPUT_PCT
        ):
            raise FieldError(
                f"{intensity}% of an MT of {motor_threshold_pct}% is "
                f"{dose_pct_output(intensity, motor_threshold_pct)}% of machine output, "
                "more than the device can deliver."
            )
        return intensity
    if name == "pulses_delivered":
        return whole_number(
            value,
            0,
            protocol.total_pulses,
            f"Pulses must be 0 to {protocol.total_pulses}: the {protocol.code} protocol "
            f"delivers {protocol.total_pulses} pulses a session.",
        )
    if name == "comfort_score":
        return None if value is None else whole_number(value, 0, 10, "Comfort is scored 0 to 10.")
    if name == "stop_reason":
        try:
            return clean_text(value, MAX_TEXT, required=not completed)
        except FieldError as exc:
            if value is None or not str(value).strip():
                raise FieldError("An incomplete session needs a stop reason.") from exc
            raise
    if name == "coil_location":
        return clean_text(value, MAX_LOCATION)
    if name == "notes":
        return clean_text(value, MAX_TEXT * 2)
    if name == "side_effects":
        return _side_effects(value)
    if name == "adverse_event":
        return _adverse_event(value)
    if name == "supervisor_id":
        try:
            return resolve_supervisor(value, course)
        except ValueError as exc:
            raise FieldError(str(exc)) from None
    raise FieldError(f"{name} cannot be changed.")


def check_fields(
    values: dict[str, Any], course: Course, *, motor_threshold_pct: int | None, completed: bool
) -> dict[str, Any]:
    """The clean values, or one 422 naming every refused field."""
    clean: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, value in values.items():
        try:
            clean[name] = _check_field(
                name, value, course, motor_threshold_pct=motor_threshold_pct, completed=completed
            )
        except FieldError as exc:
            errors[name] = [str(exc)]
    if errors:
        raise Invalid("The treatment log has invalid fields.", fields=errors)
    return clean


def field_value(log: TreatmentLog, name: str) -> Any:
    """A field as an amendment records it (the adverse event is three columns)."""
    if name == "adverse_event":
        return log.adverse_event
    if name == "side_effects":
        return list(log.side_effects or [])
    return getattr(log, name)


def set_field(log: TreatmentLog, name: str, value: Any) -> None:
    """Store a clean value; a new intensity changes the dose with it."""
    if name == "adverse_event":
        event = value or {}
        log.adverse_event_type = event.get("type")
        log.adverse_event_severity = event.get("severity")
        log.adverse_event_description = event.get("description")
        return
    setattr(log, name, value)
    if name == "intensity_pct_mt" and log.motor_threshold_pct is not None:
        log.dose_pct_output = dose_pct_output(value, log.motor_threshold_pct)
