"""Reactions to other features' events: every booking or move re-checks the authorization;
an acute-positive suicide-risk screen holds the patient's courses, and resuming a course
clears the flag it raised."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from clinic import events
from clinic.alerts.models import Alert, RiskResult
from clinic.alerts.services import clear_acute_flags
from clinic.courses.authorization import check_authorization
from clinic.courses.models import Course, CourseStatus
from clinic.courses.status import set_course_status
from clinic.extensions import db
from clinic.scheduling.models import Appointment


def on_appointments_booked(
    _sender: Any, *, appointments: Sequence[Appointment], actor_id: int | None = None, **_: Any
) -> None:
    """Warn the front desk, inside the booking's transaction, when it overdraws the
    authorization or runs past its end."""
    for course_id in sorted({appointment.course_id for appointment in appointments}):
        course = db.session.get(Course, course_id)
        if course is not None:
            check_authorization(course, actor_id)


def on_appointment_moved(
    _sender: Any, *, appointment: Appointment, actor_id: int | None = None, **_: Any
) -> None:
    """A session moved past the authorization's end is flagged like a booking."""
    course = db.session.get(Course, appointment.course_id)
    if course is not None:
        check_authorization(course, actor_id)


def on_risk_screen_recorded(
    _sender: Any, *, alert: Alert, actor_id: int | None = None, **_: Any
) -> None:
    """An acute positive ASQ stops treatment as an adverse event does: every active course
    of the patient goes on hold until a clinician resumes it."""
    if alert.risk_result != RiskResult.ACUTE_POSITIVE or alert.patient_id is None:
        return
    active = db.session.scalars(
        select(Course)
        .where(Course.patient_id == alert.patient_id, Course.status == CourseStatus.ACTIVE)
        .order_by(Course.id)
    ).all()
    for course in active:
        set_course_status(
            course,
            CourseStatus.ON_HOLD,
            f"ASQ acute positive (alert {alert.id}): a full safety evaluation comes first.",
            actor_id=actor_id,
            is_admin=True,  # a safety hold is the system's act, like an adverse event's
        )


def on_course_status_changed(
    _sender: Any, *, course: Course, old_status: str, actor_id: int | None = None, **_: Any
) -> None:
    """A clinician resuming a held course has judged treatment safe again: the patient's
    acute-positive flag is cleared with it."""
    if old_status == CourseStatus.ON_HOLD and course.status == CourseStatus.ACTIVE:
        clear_acute_flags(course.patient_id, f"Course {course.id} resumed.", actor_id=actor_id)


def connect() -> None:
    events.appointments_booked.connect(on_appointments_booked, weak=False)
    events.appointment_moved.connect(on_appointment_moved, weak=False)
    events.risk_screen_recorded.connect(on_risk_screen_recorded, weak=False)
    events.course_status_changed.connect(on_course_status_changed, weak=False)
