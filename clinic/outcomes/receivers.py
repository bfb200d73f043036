"""Reactions to other features' events: the cadence follows bookings, sessions and ends."""

from __future__ import annotations

from typing import Any

from clinic import events
from clinic.courses.models import Course, CourseStatus
from clinic.extensions import db
from clinic.outcomes import cadence
from clinic.scheduling.models import Appointment


def on_appointments_booked(_sender: Any, *, appointments: list[Appointment], **_: Any) -> None:
    """The first booking of a course asks for the baseline questionnaires (idempotent)."""
    for course_id in sorted({a.course_id for a in appointments}):
        course = db.session.get(Course, course_id)
        if course is not None:
            cadence.ensure_baseline(course)


def on_treatment_logged(_sender: Any, *, treatment: Any, **_: Any) -> None:
    """Every 5th delivered session (and the last one) asks for the next questionnaires.

    The treatments feature marks the appointment `completed` before it sends the event;
    delivered sessions are counted from appointments, so an incomplete log never counts.
    """
    appointment = getattr(treatment, "appointment", None) or db.session.get(
        Appointment, treatment.appointment_id
    )
    if appointment is not None:
        cadence.after_delivery(appointment.course)


def on_course_status_changed(_sender: Any, *, course: Course, **_: Any) -> None:
    if course.status == CourseStatus.COMPLETED:
        cadence.ensure_end(course)


def connect() -> None:
    """Idempotent: blinker keeps one connection per receiver function."""
    events.appointments_booked.connect(on_appointments_booked, weak=False)
    events.treatment_logged.connect(on_treatment_logged, weak=False)
    events.course_status_changed.connect(on_course_status_changed, weak=False)
