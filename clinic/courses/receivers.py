"""Reactions to scheduling's events: every booking or move re-checks the authorization."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from clinic import events
from clinic.courses.authorization import check_authorization
from clinic.courses.models import Course
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


def connect() -> None:
    events.appointments_booked.connect(on_appointments_booked, weak=False)
    events.appointment_moved.connect(on_appointment_moved, weak=False)
