"""The coil target as data: how the scalp position was found and its measurements, set
once per course (changed by setting it again; the audit keeps the old one) and shown on
each log form and on the course record.

Beam F3 (Beam et al. 2009) takes three head measurements in centimetres; the 5.5 cm rule
the distance anterior to the motor hotspot; neuronavigation the target's MNI coordinates
in millimetres (e.g. -38, 44, 26). A free-text `coil_location` on each log keeps working
for what the technician adjusted on the day.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import select

from clinic import clock
from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.courses.models import FINAL_STATUSES, Course
from clinic.errors import Conflict, Invalid, NotFound
from clinic.extensions import db
from clinic.treatments.fields import MAX_TEXT, FieldError, clean_text
from clinic.treatments.models import CoilTarget, CoilTargetMethod

# Each method's measurements, all required, with the range a real head allows.
MEASUREMENTS: dict[str, dict[str, tuple[float, float]]] = {
    CoilTargetMethod.BEAM_F3: {
        "nasion_inion_cm": (20, 50),
        "tragus_tragus_cm": (20, 50),
        "head_circumference_cm": (40, 75),
    },
    CoilTargetMethod.RULE_5_5_CM: {"distance_cm": (1, 15)},
    CoilTargetMethod.NEURONAVIGATION: {
        "mni_x": (-100, 100),
        "mni_y": (-130, 100),
        "mni_z": (-80, 100),
    },
    CoilTargetMethod.OTHER: {},
}
METHOD_LABELS: dict[str, str] = {
    CoilTargetMethod.BEAM_F3: "Beam F3",
    CoilTargetMethod.RULE_5_5_CM: "5.5 cm rule",
    CoilTargetMethod.NEURONAVIGATION: "Neuronavigation",
    CoilTargetMethod.OTHER: "Other",
}
LABELS = {
    "nasion_inion_cm": ("nasion-inion", "cm"),
    "tragus_tragus_cm": ("tragus-tragus", "cm"),
    "head_circumference_cm": ("head circumference", "cm"),
    "distance_cm": ("anterior to the motor hotspot", "cm"),
    "mni_x": ("MNI x", "mm"),
    "mni_y": ("MNI y", "mm"),
    "mni_z": ("MNI z", "mm"),
}


def _measurements(method: str, values: Any, errors: dict[str, list[str]]) -> dict[str, float]:
    expected = MEASUREMENTS[method]
    if not isinstance(values, dict):
        errors["measurements"] = ["An object of named measurements."]
        return {}
    clean: dict[str, float] = {}
    for name in sorted(set(values) - set(expected)):
        errors.setdefault(f"measurements.{name}", []).append(
            f"Not a measurement of {METHOD_LABELS[method]}; give: {', '.join(expected) or 'none'}."
        )
    for name, (low, high) in expected.items():
        value = values.get(name)
        if value is None:
            errors.setdefault(f"measurements.{name}", []).append("Required for this method.")
        elif (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or not low <= value <= high
        ):
            unit = LABELS[name][1]
            errors.setdefault(f"measurements.{name}", []).append(
                f"A number from {low:g} to {high:g} {unit}."
            )
        else:
            clean[name] = float(value)
    return clean


def get_coil_target(course_id: int) -> CoilTarget | None:
    return db.session.scalar(select(CoilTarget).where(CoilTarget.course_id == course_id))


def read_coil_target(course_id: int, *, actor_id: int | None) -> tuple[Course, CoilTarget | None]:
    """The course (404 when none) and its target; reading it is reading the chart."""
    course = db.session.get(Course, course_id) if 0 < course_id < 2**31 else None
    if course is None:
        raise NotFound(f"No course {course_id}.")
    record(actor_id, AuditAction.VIEW, "patient", course.patient_id, detail={"coil_target": 1})
    return course, get_coil_target(course_id)


def view_coil_target(course_id: int, *, actor_id: int | None) -> CoilTarget:
    """The course's target; 404 while none is set."""
    _, target = read_coil_target(course_id, actor_id=actor_id)
    if target is None:
        raise NotFound(f"No coil target for course {course_id}.")
    return target


def set_coil_target(
    course_id: int,
    actor_id: int | None,
    *,
    method: Any,
    measurements: Any = None,
    description: Any = None,
) -> CoilTarget:
    """Set (or replace) the course's target. 422 naming each wrong measurement; `other`
    needs a description; 409 `course_closed` on a completed or discontinued course."""
    course = db.session.get(Course, course_id) if 0 < course_id < 2**31 else None
    if course is None:
        raise NotFound(f"No course {course_id}.")
    errors: dict[str, list[str]] = {}
    clean: dict[str, float] = {}
    if method not in tuple(CoilTargetMethod):
        errors["method"] = [f"One of: {', '.join(CoilTargetMethod)}."]
    else:
        clean = _measurements(method, measurements or {}, errors)
    try:
        text = clean_text(description, MAX_TEXT, required=method == CoilTargetMethod.OTHER)
    except FieldError as exc:
        errors["description"] = [str(exc)]
        text = None
    if errors:
        raise Invalid("The coil target has invalid fields.", fields=errors)
    if course.status in FINAL_STATUSES:
        raise Conflict(f"The course is {course.status}.", code="course_closed")
    target = get_coil_target(course.id)
    old = None if target is None else {"method": target.method, **target.measurements}
    if target is None:
        target = CoilTarget(course_id=course.id)
        db.session.add(target)
    target.method = method
    target.measurements = clean
    target.description = text
    target.set_at = clock.now()
    target.set_by_id = actor_id
    db.session.flush()
    record(
        actor_id,
        AuditAction.CREATE if old is None else AuditAction.UPDATE,
        "coil_target",
        target.id,
        patient_id=course.patient_id,
        detail={"course_id": course.id, "old": old, "new": {"method": method, **clean}},
    )
    return target


def describe(target: CoilTarget | None) -> str | None:
    """One line for the pages, e.g. "Beam F3: nasion-inion 36 cm, tragus-tragus 35.5 cm"."""
    if target is None:
        return None
    parts = [
        f"{LABELS[name][0]} {value:g} {LABELS[name][1]}"
        for name, value in target.measurements.items()
        if name in LABELS
    ]
    if target.description:
        parts.append(target.description)
    label = METHOD_LABELS.get(target.method, target.method)
    return f"{label}: {', '.join(parts)}" if parts else label
