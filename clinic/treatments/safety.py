"""The safety reaction to an adverse event: a seizure or any serious event alerts the
prescriber and puts the course on hold until a clinician acts."""

from __future__ import annotations

from typing import Any

from clinic.alerts.models import AlertKind, AlertSeverity
from clinic.alerts.services import raise_alert
from clinic.courses.models import CourseStatus
from clinic.courses.status import set_course_status
from clinic.permissions import Role
from clinic.treatments.models import AdverseEventSeverity, AdverseEventType, TreatmentLog


def needs_safety_hold(adverse_event: dict[str, Any] | None) -> bool:
    """A seizure or any serious event stops the course until a clinician acts."""
    if not adverse_event:
        return False
    return (
        adverse_event["type"] == AdverseEventType.SEIZURE
        or adverse_event["severity"] == AdverseEventSeverity.SERIOUS
    )


def react_to_adverse_event(log: TreatmentLog, actor_id: int | None) -> None:
    """Alert the course's prescriber and hold the course, when the log's event calls for it."""
    event = log.adverse_event
    if event is None or not needs_safety_hold(event):
        return
    label = f"{event['type'].replace('_', ' ')} ({event['severity']})"
    raise_alert(
        AlertKind.ADVERSE_EVENT,
        f"Adverse event during TMS: {label}",
        message=(event["description"] or "")
        + " The course is on hold until a clinician reviews it.",
        severity=AlertSeverity.URGENT,
        audience=Role.CLINICIAN,
        patient_id=log.patient_id,
        course_id=log.course_id,
        assigned_to_id=log.course.prescriber_id,
        subject=("treatment", log.id),
        dedupe_key=f"treatment:{log.id}",
        data={"treatment_id": log.id, **event},
        actor_id=actor_id,
    )
    set_course_status(
        log.course,
        CourseStatus.ON_HOLD,
        f"Adverse event: {label} (treatment log {log.id})",
        actor_id=actor_id,
        is_admin=True,  # a safety hold is the system's act, whoever logged the event
    )
